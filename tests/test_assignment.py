"""One mixture E-step: the assignment policies and the missing-value evidence agree with each
other and with their definitions."""

import numpy as np
import pytest
from scipy.special import logsumexp

from emkit.distributions.gaussian import COVARIANCES, GaussianStats
from emkit.models.missing import MissingMixture
from emkit.models.mixture import (
    ASSIGNMENTS,
    HARD,
    LABELLED,
    SOFT,
    UNLABELLED,
    Assignment,
    Mixture,
)

TYPES = ["full", "tied", "diag", "spherical"]


def _model(name, seed=0, k=3, d=3):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(k, d))
    variances = rng.uniform(0.5, 2.0, size=(k, d))
    covariances = {
        "full": np.einsum("kd,de->kde", variances, np.eye(d)),
        "tied": np.diag(variances[0]),
        "diag": variances,
        "spherical": variances[:, 0],
    }[name]
    weights = rng.dirichlet(np.ones(k))
    return weights, COVARIANCES[name].from_covariances(means, covariances)


def _rows(n=80, d=3, seed=1):
    return np.random.default_rng(seed).normal(scale=3.0, size=(n, d))


def test_the_policies_implement_the_protocol_and_are_registered():
    for policy in (SOFT, HARD, LABELLED):
        assert isinstance(policy, Assignment)
        assert ASSIGNMENTS[policy.name] is policy
    assert Mixture(np.ones(1), None, assignment="hard").assignment is HARD


def test_each_policy_follows_its_definition():
    log_joint = np.random.default_rng(0).normal(size=(7, 3))
    labels = np.array([UNLABELLED, 2, UNLABELLED, 0, 1, UNLABELLED, 2])
    soft, soft_row = SOFT.assign(log_joint, None)
    np.testing.assert_allclose(soft_row, logsumexp(log_joint, axis=1), rtol=1e-15)
    np.testing.assert_allclose(soft, np.exp(log_joint - soft_row[:, None]), rtol=1e-15)
    hard, hard_row = HARD.assign(log_joint, None)
    np.testing.assert_array_equal(hard, np.eye(3)[log_joint.argmax(axis=1)])
    np.testing.assert_array_equal(hard_row, log_joint.max(axis=1))
    resp, per_row = LABELLED.assign(log_joint, labels)
    known = labels != UNLABELLED
    np.testing.assert_array_equal(resp[known], np.eye(3)[labels[known]])
    np.testing.assert_array_equal(resp[~known], soft[~known])
    np.testing.assert_array_equal(per_row[known], log_joint[known, labels[known]])
    np.testing.assert_array_equal(per_row[~known], soft_row[~known])


@pytest.mark.parametrize("name", TYPES)
def test_no_labels_is_plain_em_and_complete_rows_need_no_completion(name):
    weights, components = _model(name)
    x = _rows()
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(x))
    plain, plain_ll = Mixture(weights, components).e_step(x, w)
    unlabelled = np.full(len(x), UNLABELLED)
    cases = [
        MissingMixture(weights, components).e_step(x, w),
        Mixture(weights, components, assignment=LABELLED).e_step((x, unlabelled), w),
        MissingMixture(weights, components, assignment="labelled").e_step((x, unlabelled), w),
    ]
    for stats, loglik in cases:
        assert loglik == pytest.approx(plain_ll, rel=1e-12)
        np.testing.assert_allclose(stats.resp_sum, plain.resp_sum, rtol=1e-12)
        np.testing.assert_allclose(stats.components.mean, plain.components.mean, rtol=1e-10)
        np.testing.assert_allclose(stats.components.scatter, plain.components.scatter, rtol=1e-10)


@pytest.mark.parametrize("name", TYPES)
def test_every_row_labelled_gives_the_complete_data_statistics(name):
    weights, components = _model(name)
    x = _rows()
    labels = np.random.default_rng(3).integers(0, 3, size=len(x))
    stats, loglik = Mixture(weights, components, assignment=LABELLED).e_step((x, labels))
    onehot = np.eye(3)[labels]
    direct = GaussianStats.from_data(x, onehot, components.diagonal_stats)
    np.testing.assert_allclose(stats.components.scatter, direct.scatter, rtol=1e-12)
    expected = (components.log_prob(x) + np.log(weights))[np.arange(len(x)), labels].sum()
    assert loglik == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("diagonal", [False, True])
def test_rows_per_component_give_each_component_its_own_statistics(diagonal):
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(3, 50, 4)) + [[[0.0]], [[10.0]], [[-5.0]]]  # (k, n, d)
    resp = rng.dirichlet(np.ones(3), size=50)  # (n, k)
    stats = GaussianStats.from_data(rows, resp, diagonal)
    for j in range(3):
        one = GaussianStats.from_data(rows[j], resp[:, j : j + 1], diagonal)
        np.testing.assert_allclose(stats.mean[j], one.mean[0], rtol=1e-13)
        np.testing.assert_allclose(stats.scatter[j], one.scatter[0], rtol=1e-12)
