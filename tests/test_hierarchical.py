"""mclust's hierarchical starts: the same tree as R's hc() (stored output), deterministic."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

import emkit
from emkit import hierarchical
from emkit.init import initial_responsibilities

DATA = Path(__file__).parent / "data" / "mclust"


def _read(name: str) -> np.ndarray:
    return pd.read_csv(DATA / name).to_numpy()


def test_svd_transform_is_mclusts():
    # mclust's hc(use="SVD"): the transformed data are orthogonal with column variances
    # proportional to the singular values of the scaled data.
    x = _read("iris.csv").astype(float)
    z = hierarchical.svd_transform(x)
    scaled = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    singular = np.linalg.svd(scaled, compute_uv=False)
    np.testing.assert_allclose(z.T @ z, np.diag(singular), atol=1e-10)


def test_tree_cuts_equal_mclusts_hclass_on_iris():
    # R: hclass(hc(iris[, 1:4], use = "SVD"), 1:9) (benchmarks/mclust/reference.R); iris has
    # no tied costs.
    x = _read("iris.csv").astype(float)
    expected = _read("iris_hc.csv")
    rows, heads, merges = hierarchical.tree(x)
    assert rows.shape == (150,)
    for k in range(1, 10):
        labels = hierarchical.cut(heads, merges, k)
        assert np.unique(labels).shape[0] == k
        assert adjusted_rand_score(expected[:, k - 1], labels) == 1.0


@pytest.mark.parametrize("name", ["faithful", "repeats2", "repeats3", "wreath"])
def test_tree_is_mclusts_merge_for_merge(name):
    # R: h <- hc(x, modelName = "VVV", use = "SVD"), its merges and hclass(h, 1:9)
    # (benchmarks/mclust/hc_reference.R). Old Faithful has 16 pairs of equal rows, repeats2
    # and repeats3 most rows two to five times: merges of equal rows cost exactly the same,
    # and mclust takes the last of the cheapest pairs in its order of slots, which moves groups
    # as they merge. On wreath, with no ties, the scatter hcvvv stores for a group decides the
    # last three merges.
    x = _read(f"{name}.csv").astype(float)
    _, heads, merges = hierarchical.tree(x)
    np.testing.assert_array_equal(merges, _read(f"hc_{name}_merges.csv") - 1)
    expected = _read(f"hc_{name}_hclass.csv") - 1
    for k in range(1, 10):
        np.testing.assert_array_equal(hierarchical.cut(heads, merges, k), expected[:, k - 1])


def test_wide_data_use_mclusts_eii_tree():
    # R: hc(x, modelName = "EII", use = "SVD") on 20 rows in 24 dimensions, as Mclust builds
    # it where n <= d (benchmarks/mclust/hc_reference.R); the VVV tree emkit built there cut
    # other partitions.
    x = _read("wide.csv").astype(float)
    _, heads, merges = hierarchical.tree(x)
    np.testing.assert_array_equal(merges, _read("hc_wide_merges.csv") - 1)
    expected = _read("hc_wide_hclass.csv") - 1
    for k in range(1, 10):
        np.testing.assert_array_equal(hierarchical.cut(heads, merges, k), expected[:, k - 1])


def test_wide_fits_from_hc_equal_mclusts():
    # Mclust(x, G, modelNames) from that tree, EM run to 1e-12: the VVV tree's starts ended
    # 30 to 48 log-likelihood units lower.
    x = _read("wide.csv").astype(float)
    for _, row in pd.read_csv(DATA / "wide_fits.csv").iterrows():
        model = emkit.GaussianMixture(
            int(row.G), covariance_type=row.model, init_params="hc", tol=1e-12
        ).fit(x)
        assert model.log_likelihood_ == pytest.approx(row.loglik, abs=1e-6)


def test_ward_merges_are_scipys_ward_linkage():
    # Without ties the EII tree is Ward's: scipy's linkage(method="ward") cuts the same
    # partitions at every K.
    from scipy.cluster.hierarchy import fcluster, linkage

    z = np.random.default_rng(8).normal(size=(40, 6)) * [3.0, 1.0, 1.0, 0.5, 2.0, 1.0]
    merges = hierarchical.ward(z)
    reference = linkage(z, method="ward")
    heads = np.arange(z.shape[0])
    for k in range(1, 12):
        labels = fcluster(reference, k, criterion="maxclust")
        assert adjusted_rand_score(hierarchical.cut(heads, merges, k), labels) == 1.0


def test_stored_scatter_is_the_factor_hcvvv_stores():
    # hcvvv copies the first row r of a group's factor R (R^T R = W) into each of its
    # min(n - 1, p) stored rows and reads row k back from column k on.
    a = np.random.default_rng(1).normal(size=(6, 3))
    w = a.T @ a
    r = np.linalg.cholesky(w).T
    for count, rows in [(2, 1), (3, 2), (7, 3)]:
        stored = np.triu(np.tile(r[0], (rows, 1)))
        np.testing.assert_allclose(
            hierarchical.stored_scatter(w, count), stored.T @ stored, rtol=1e-12
        )
    np.testing.assert_array_equal(hierarchical.stored_scatter(np.zeros((3, 3)), 5), 0.0)


def test_quantile_classes_equal_mclusts_qclass():
    waiting = _read("faithful.csv")[:, 1].astype(float)
    expected = _read("faithful_waiting_qclass.csv")
    for j, k in enumerate(range(2, 6)):
        np.testing.assert_array_equal(hierarchical.quantile_classes(waiting, k), expected[:, j] - 1)


def test_merge_costs_are_the_classification_likelihood_change():
    # Recompute each merge's cost from scratch for a small sample: the merge chosen is the
    # cheapest of all pairs of current groups (the scatter hcvvv stores for a group of more
    # than two rows, see stored_scatter, changes no choice here).
    rng = np.random.default_rng(0)
    z = rng.normal(size=(25, 2))
    merges = hierarchical.agglomerate(z)
    alpha = ((z - z.mean(axis=0)) ** 2).sum() / z.size

    def term(rows):
        w = np.cov(z[rows].T, bias=True) * len(rows) if len(rows) > 1 else np.zeros((2, 2))
        n = len(rows)
        det = np.linalg.det(w / n) if n > 2 else 0.0
        return n * np.log(det + (np.trace(w) + alpha) / n)

    groups = {i: [i] for i in range(25)}
    for i, j in merges:
        costs = {
            (a, b): term(groups[a] + groups[b]) - term(groups[a]) - term(groups[b])
            for a in groups
            for b in groups
            if a < b
        }
        assert costs[(i, j)] == pytest.approx(min(costs.values()), abs=1e-9)
        groups[i] += groups.pop(j)


def test_default_selection_does_not_depend_on_random_state(faithful):
    kwargs = {"n_components": [2, 3, 4], "covariance_types": ["EEE", "VEV", "EVI"]}
    first = emkit.select_mixture(faithful, random_state=0, **kwargs).table_
    second = emkit.select_mixture(faithful, random_state=123, **kwargs).table_
    pd.testing.assert_frame_equal(first, second)


def test_large_data_use_a_fixed_subset():
    rows = hierarchical.subset_rows(5000)
    assert rows.shape == (hierarchical.SUBSET,)
    np.testing.assert_array_equal(rows, hierarchical.subset_rows(5000))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs R with mclust")
@pytest.mark.parametrize("data", ["fresh", "repeated", "wide"])
def test_tree_equals_live_mclust(tmp_path, data):
    status = subprocess.run(
        ["Rscript", "-e", "library(mclust)"], capture_output=True, check=False
    ).returncode
    if status != 0:
        pytest.skip("R has no mclust")
    rng = np.random.default_rng(5)
    if data == "fresh":
        x = rng.normal(size=(120, 3)) @ np.diag([1.0, 2.0, 0.5])
        x[:40] += 3.0
        fmt = "%.18e"
    else:  # 50 rows at two decimals, drawn 150 times: tied costs from the first merge on
        base = np.round(rng.normal(size=(50, 3)) + np.repeat([[0.0], [3.0]], 25, axis=0), 2)
        x = base[rng.integers(0, 50, 150)]
        fmt = "%.2f"
    if data == "wide":  # n <= d: Mclust's EII tree; tied costs on integers
        x = rng.integers(0, 3, size=(40, 50)).astype(float)
        x[:20, :10] += 2.0
        fmt = "%.0f"
    model = "EII" if data == "wide" else "VVV"
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", fmt=fmt)
    script = (
        f"library(mclust); x <- as.matrix(read.csv('{tmp_path / 'x.csv'}', header=FALSE));"
        f"h <- hc(x, modelName='{model}', use='SVD');"
        f"write.csv(t(unclass(h)[, ]), '{tmp_path / 'merges.csv'}', row.names=FALSE);"
        f"write.csv(hclass(h, 2:6), '{tmp_path / 'cl.csv'}', row.names=FALSE)"
    )
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
    _, heads, merges = hierarchical.tree(x)
    np.testing.assert_array_equal(merges, pd.read_csv(tmp_path / "merges.csv").to_numpy() - 1)
    expected = pd.read_csv(tmp_path / "cl.csv").to_numpy()
    for j, k in enumerate(range(2, 7)):
        np.testing.assert_array_equal(hierarchical.cut(heads, merges, k), expected[:, j] - 1)


def _with_zero_weight_rows(x: np.ndarray, extra: np.ndarray, seed: int):
    """``x`` with the rows ``extra`` shuffled in at weight 0: (rows, weights, positive rows)."""
    rows = np.concatenate([x, extra])
    w = np.concatenate([np.ones(x.shape[0]), np.zeros(extra.shape[0])])
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    return rows[order], w[order], w[order] > 0


def _assert_same_fit(a, b):
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-12)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-10)


@pytest.mark.parametrize("d", [1, 2])
def test_zero_weight_rows_fit_as_if_dropped(d):
    # Rows of weight 0 far from the data, shuffled in: they must not shape the tree (before,
    # a start group could hold only them and the fit collapsed onto the far cluster).
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 1, (100, d)), rng.normal(4, 1, (100, d))])
    rows, w, positive = _with_zero_weight_rows(x, rng.normal(40, 1, (50, d)), seed=1)
    weighted = emkit.GaussianMixture(2, init_params="hc").fit(rows, sample_weight=w)
    dropped = emkit.GaussianMixture(2, init_params="hc").fit(rows[positive])
    _assert_same_fit(weighted, dropped)
    assert weighted.weights_.min() > 0.4
    # the start itself: the cut of the positive rows, no responsibility on the others
    resp = initial_responsibilities(rows, 2, "hc", np.random.RandomState(0), w)
    assert not resp[~positive].any()
    expected = initial_responsibilities(rows[positive], 2, "hc", None)
    np.testing.assert_array_equal(resp[positive], expected)


def test_zero_weight_rows_leave_the_fixed_subset_of_large_data():
    # Above SUBSET rows the tree reads a fixed sample: that of the positive rows alone.
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0, 1, (1100, 2)), rng.normal(5, 1, (1000, 2))])
    rows, w, positive = _with_zero_weight_rows(x, rng.normal(-30, 1, (200, 2)), seed=2)
    weighted = emkit.GaussianMixture(2, init_params="hc").fit(rows, sample_weight=w)
    dropped = emkit.GaussianMixture(2, init_params="hc").fit(rows[positive])
    _assert_same_fit(weighted, dropped)
    for k in (3, 4):
        resp = initial_responsibilities(rows, k, "hc", np.random.RandomState(0), w)
        expected = initial_responsibilities(rows[positive], k, "hc", np.random.RandomState(0))
        np.testing.assert_array_equal(resp[positive], expected)
        assert not resp[~positive].any()


def test_positive_weights_keep_their_tree():
    # mclust's hc takes no weights: rows of any positive weight build the same tree, and the
    # weights enter from the first M-step (the start's moments are weighted).
    x = _read("iris.csv").astype(float)
    w = np.random.default_rng(0).uniform(0.5, 3.0, x.shape[0])
    rng = np.random.RandomState(0)
    resp = initial_responsibilities(x, 3, "hc", rng, w)
    np.testing.assert_array_equal(resp, initial_responsibilities(x, 3, "hc", rng))


def test_column_minima_scan_the_costs_a_few_columns_at_a_time():
    # The first scan copied the whole cost matrix (32 MB at mclust's 2000 rows): the peak
    # memory of a 3.6 M-row `emkit fit -k 2` rose from 367 to 401 MiB. Each column's minimum
    # over the rows above it, and the last row holding it, as a plain loop finds them.
    import tracemalloc

    from emkit.hierarchical import ColumnMinima

    rng = np.random.default_rng(3)
    n = 2000
    cost = np.round(rng.uniform(0, 50, (n, n)))  # many ties
    cost = np.triu(cost, 1) + np.triu(cost, 1).T
    np.fill_diagonal(cost, np.inf)
    tracemalloc.start()
    minima = ColumnMinima(cost)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < cost.nbytes / 4
    for j in [0, 1, 2, 777, n - 1]:
        above = cost[:j, j]
        want = above.min() if j else np.inf
        assert minima.value[j] == want
        if j:
            assert minima.row[j] == np.flatnonzero(above == want)[-1]
