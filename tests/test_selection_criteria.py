"""select_mixture's criteria come from the statistics of each fit's last E-step (one pass):
they equal the criteria computed by a separate pass over the data."""

import warnings

import numpy as np
import pytest

from emkit import select_mixture
from emkit.estimators import GaussianMixture
from emkit.estimators.selection import _criteria_by_pass, criteria_from_stats

STRUCTURES = ["full", "tied", "diag", "spherical", "VEV", "EVI"]


def fitted(x, k, cov, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(k, covariance_type=cov, random_state=0, **params).fit(x)


@pytest.mark.parametrize("cov", STRUCTURES)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_one_pass_criteria_equal_a_second_pass(faithful, cov, k):
    gm = fitted(faithful, k, cov)
    for kind in ("hard", "soft"):
        one = criteria_from_stats(gm, gm._final_stats, faithful.shape[0], kind)
        assert one is not None, "the fused E-step gathers every term"
        two = _criteria_by_pass(gm, faithful, kind)
        for key in ("bic", "aic", "icl"):
            np.testing.assert_allclose(one[key], two[key], rtol=1e-10)


def test_soft_icl_is_bic_plus_twice_the_entropy(faithful):
    gm = fitted(faithful, 3, "full")
    proba = gm.predict_proba(faithful)
    entropy = -np.sum(proba * np.log(np.clip(proba, np.finfo(float).tiny, None)))
    soft = criteria_from_stats(gm, gm._final_stats, faithful.shape[0], "soft")
    np.testing.assert_allclose(soft["icl"], gm.bic(faithful) + 2 * entropy, rtol=1e-10)
    hard = criteria_from_stats(gm, gm._final_stats, faithful.shape[0], "hard")
    log_max = np.log(proba.max(axis=1)).sum()
    np.testing.assert_allclose(hard["icl"], gm.bic(faithful) - 2 * log_max, rtol=1e-10)
    assert soft["icl"] >= hard["icl"]


def test_missing_values_fall_back_to_a_pass(faithful):
    x = faithful.copy()
    x[[3, 50], 1] = np.nan
    gm = fitted(x, 2, "full", missing="em")
    assert criteria_from_stats(gm, gm._final_stats, x.shape[0], "hard") is None
    sel = select_mixture(x, [1, 2], ["full"], missing="em")
    row = sel.table_[sel.table_.n_components == 2].iloc[0]
    two = _criteria_by_pass(sel.models_[2, "full"], x, "hard")
    np.testing.assert_allclose(row["bic"], two["bic"], rtol=1e-12)


def test_selection_table_holds_the_one_pass_values(faithful):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select_mixture(faithful, [1, 2, 3], ["tied", "VVV"], icl="soft")
    for (k, cov), model in sel.models_.items():
        row = sel.table_[(sel.table_.n_components == k) & (sel.table_.covariance_type == cov)]
        two = _criteria_by_pass(model, faithful, "soft")
        for key in ("bic", "aic", "icl"):
            np.testing.assert_allclose(row[key].iloc[0], two[key], rtol=1e-10)


def test_log_max_resp_adds_up_over_chunks(faithful):
    gm = fitted(faithful, 3, "full")
    mixture = gm._mixture()
    whole, _ = mixture.e_step(faithful)
    a, _ = mixture.e_step(faithful[:100])
    b, _ = mixture.e_step(faithful[100:])
    merged = (a + b).components.log_max_resp
    np.testing.assert_allclose(merged, whole.components.log_max_resp, rtol=1e-12)
    log_max = np.log(gm.predict_proba(faithful).max(axis=1)).sum()
    np.testing.assert_allclose(whole.components.log_max_resp, log_max, rtol=1e-10)


def test_torch_gathers_the_same_term(faithful):
    pytest.importorskip("torch")
    cpu = fitted(faithful, 3, "full")
    dev = fitted(faithful, 3, "full", device="cpu")
    one = criteria_from_stats(dev, dev._final_stats, faithful.shape[0], "hard")
    two = criteria_from_stats(cpu, cpu._final_stats, faithful.shape[0], "hard")
    np.testing.assert_allclose(one["icl"], two["icl"], rtol=1e-8)
