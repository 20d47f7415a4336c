"""BayesianMixture's chains: starts that spread the free components away from the labelled
ones, and the warning that names chains stuck in a far less likely mode."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from emkit import BayesianMixture
from emkit.bayes import gibbs


def three_clusters(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """40 rows at each of 0, 8 and -8; the first 5 (at 0) labelled as component 2."""
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, 40), rng.normal(8, 1, 40), rng.normal(-8, 1, 40)][:, None]
    labels = np.full(120, -1)
    labels[:5] = 2
    return x, labels


def test_semi_supervised_chains_all_find_the_mode_whatever_the_seed():
    # Components with no labelled row used to start at random rows: two could fall in one
    # cluster, and the labelled component take the other two clusters, a mode 46 nats
    # below (15 of 40 chains over 10 seeds, whatever the tune). Started k-means++ style,
    # away from the labelled component, every chain finds the clusters.
    for seed in range(5):
        x, labels = three_clusters(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            model = BayesianMixture(3, chains=4, draws=100, tune=100, random_state=seed)
            model.fit(x, labels=labels)
        per_chain = model.log_likelihood_.mean(axis=1)
        assert np.all(per_chain > per_chain.max() - 3), (seed, per_chain)
        # The pooled posterior means against the clusters' sample means (the prior's pull,
        # shrinkage 0.01 towards the data mean, moves them by about 0.01).
        clusters = np.array([x[80:].mean(), x[40:80].mean(), x[:40].mean()])  # -8, 8, 0
        drawn = model.samples_["mean"][..., 0].mean(axis=(0, 1))
        np.testing.assert_allclose(drawn, clusters, atol=0.15)


def _stuck_second_chain(real):
    """``initial_counts`` with chain 1 started in the far mode the random starts fell in:
    component 2 (labelled at 0) on the cluster at -8, its labelled rows at 0 outliers,
    components 0 and 1 on the clusters at 0 and 8."""

    def start(rows, k, chains, rng):
        counts = real(rows, k, chains, rng)
        v = rows.x[:, 0]
        bad = np.stack([(v >= -4) & (v < 4), v >= 4, v < -4]).astype(float)  # (K, U)
        counts[1] = bad * rows.free + rows.fixed.T
        return counts

    return start


def test_a_chain_stuck_in_a_far_mode_is_named(monkeypatch):
    monkeypatch.setattr(gibbs, "initial_counts", _stuck_second_chain(gibbs.initial_counts))
    x, labels = three_clusters(1)
    model = BayesianMixture(3, chains=4, draws=200, tune=100, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"chain\(s\) 1 of 4 sampled a far less") as got:
        model.fit(x, labels=labels)
    assert len(got) == 1
    # The stuck chain's component 2 sits on the cluster at -8, its log-likelihood far below.
    assert model.samples_["mean"][1, :, 2, 0].mean() < -5
    per_chain = model.log_likelihood_.mean(axis=1)
    gap = per_chain.max() - per_chain[1]
    said = float(re.search(r"log-likelihood is ([\d.e+]+) below", str(got[0].message))[1])
    assert gap > 30
    np.testing.assert_allclose(said, gap, rtol=0.05)  # of 200 draws out of 200


def test_label_switching_between_chains_is_no_alarm(monkeypatch):
    # Unsupervised, relabel=False, chain 1 started with the components swapped: its draws
    # are the same posterior in the other order (per-component R-hat far above 1.05), and
    # the log-likelihood, the same under any order, does not warn.
    real = gibbs.initial_counts

    def swapped(rows, k, chains, rng):
        counts = real(rows, k, chains, rng)
        counts[1] = counts[1, ::-1]
        return counts

    monkeypatch.setattr(gibbs, "initial_counts", swapped)
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-4, 1, 60), rng.normal(4, 1, 60)][:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = BayesianMixture(2, chains=4, draws=200, tune=50, relabel=False, random_state=0)
        model.fit(x)
    means = model.samples_["mean"][..., 0].mean(axis=1)  # (chains, K)
    assert means[1, 0] > 3 and means[0, 0] < -3  # chain 1 in the other order
    for c in (0, 2, 3):
        np.testing.assert_allclose(means[c], means[0], atol=0.5)
