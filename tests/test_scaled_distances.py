"""backend.linalg.scaled_distances (diagonal and spherical log densities, KMeans.transform):
against scipy and exact rational arithmetic, the expansion's risky pairs recomputed by
differences, and each row's numbers alone as in any batch, on any number of threads."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from emkit import GaussianMixture, KMeans
from emkit.backend import linalg
from emkit.backend import threads as cpu_threads
from emkit.backend.linalg import EXPANSION_TOLERANCE, scaled_distances


@pytest.mark.parametrize("n, d, k", [(35_178, 9, 3), (500, 40, 30), (3, 1, 1), (0, 4, 2)])
@pytest.mark.parametrize("kind", ["diag", "spherical", "unscaled"])
def test_each_row_alone_as_in_the_batch_on_one_and_two_threads(monkeypatch, n, d, k, kind):
    # (35,178, 9, 3): the last block of the products padded; the direct differences added a
    # one-row block's features in another order (a few ulps). Per-centre scales (spherical,
    # unscaled) take the rows' norms instead of a product with the scales.
    rng = np.random.default_rng(1)
    x = 1e3 + rng.normal(size=(n, d)) * 5
    centres = 1e3 + rng.normal(size=(k, d))
    scales = {
        "diag": rng.uniform(0.5, 2.0, size=(k, d)),
        "spherical": rng.uniform(0.5, 2.0, size=(k, 1)),
        "unscaled": None,
    }[kind]
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)
    batch = scaled_distances(x, centres, scales)
    np.testing.assert_allclose(
        batch, _direct(x, centres, 1.0 if scales is None else scales), rtol=1e-13
    )
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 1)
    np.testing.assert_array_equal(scaled_distances(x, centres, scales), batch)
    for row in {0, n // 2, n - 1} if n else set():
        np.testing.assert_array_equal(
            scaled_distances(x[row : row + 1], centres, scales)[0], batch[row]
        )
    order = rng.permutation(n)  # every row elsewhere in its block of the products
    np.testing.assert_array_equal(scaled_distances(x[order], centres, scales), batch[order])
    if scales is None:
        np.testing.assert_allclose(batch, cdist(x, centres, "sqeuclidean"), rtol=1e-12)


def _direct(x, centres, scales):
    """The distances in (n, k, d) at once: NumPy's own sum, not the function's."""
    return np.sum(((x[:, None, :] - centres) * scales) ** 2, axis=2)


@pytest.fixture
def recomputed(monkeypatch):
    """The number of pairs of each call to the fallback by differences, as a list."""
    counts = []
    differences = linalg._differences

    def counted(rows, centres, scales):
        counts.append(rows.shape[0])
        return differences(rows, centres, scales)

    monkeypatch.setattr(linalg, "_differences", counted)
    return counts


def _exact(x, centres, scales=None):
    """The distances of the (float) inputs in exact rational arithmetic, (n, k) Fractions."""
    k, d = centres.shape
    s = np.ones((k, d)) if scales is None else np.broadcast_to(scales, (k, d))
    c = [[Fraction(float(v)) for v in row] for row in centres]
    w = [[Fraction(float(v)) ** 2 for v in row] for row in s]
    out = []
    for row in x:
        r = [Fraction(float(v)) for v in row]
        out.append([sum(w[j][i] * (r[i] - c[j][i]) ** 2 for i in range(d)) for j in range(k)])
    return out


def _assert_within(got, exact, tolerance=EXPANSION_TOLERANCE):
    """Each of ``got`` (n, k) within ``tolerance`` of the exact distance, relative."""
    for i, (row, row_exact) in enumerate(zip(got, exact, strict=True)):
        for j, (value, truth) in enumerate(zip(row, row_exact, strict=True)):
            error = abs(Fraction(float(value)) - truth)
            assert error <= Fraction(tolerance) * truth, (i, j, float(error / truth))


def _clusters(rng, n, d, k, spread=1.0, offset=0.0):
    centres = offset + 3.0 * rng.normal(size=(k, d))
    return centres[rng.integers(k, size=n)] + spread * rng.normal(size=(n, d)), centres


@pytest.mark.parametrize("kind", ["diag", "spherical", "unscaled"])
def test_separated_clusters_by_expansion_alone_within_the_tolerance(recomputed, kind):
    rng = np.random.default_rng(2)
    x, centres = _clusters(rng, 4000, 6, 4, offset=50.0)
    scales = {
        "diag": rng.uniform(0.5, 2.0, size=(4, 6)),
        "spherical": rng.uniform(0.5, 2.0, size=(4, 1)),
        "unscaled": None,
    }[kind]
    got = scaled_distances(x, centres, scales)
    expected = _direct(x, centres, 1.0 if scales is None else scales)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    _assert_within(got[:40], _exact(x[:40], centres, scales))
    # rows come 2^13 / (2d + 12) times nearer a centre than the shift before they are redone
    assert sum(recomputed) <= x.shape[0] * 4 // 1000


def test_narrow_components_far_from_the_origin_are_redone_by_differences(recomputed):
    # spread 1e-3 at 1e8: the expansion's terms are 1e12 times the distances to the own
    # centre, scikit-learn's (from the origin) 1e22 times
    rng = np.random.default_rng(3)
    centres = 1e8 + np.array([[0.0, 0.0, 0.0], [10.0, -5.0, 3.0], [-7.0, 2.0, 8.0]])
    scales = np.full((3, 3), 1e3)
    labels = rng.integers(3, size=600)
    x = centres[labels] + 1e-3 * rng.normal(size=(600, 3))
    got = scaled_distances(x, centres, scales)
    _assert_within(got[:60], _exact(x[:60], centres, scales))
    assert sum(recomputed) >= x.shape[0]  # every row's own centre, at least
    naive = (x**2) @ (scales**2).T - 2.0 * x @ (centres * scales**2).T
    naive += np.sum((centres * scales) ** 2, axis=1)
    own = got[np.arange(600), labels]
    assert np.max(np.abs(naive[np.arange(600), labels] - own) / own) > 1.0  # no digit left
    for row in (0, 151, 299):
        np.testing.assert_array_equal(
            scaled_distances(x[row : row + 1], centres, scales)[0], got[row]
        )
    order = rng.permutation(600)
    np.testing.assert_array_equal(scaled_distances(x[order], centres, scales), got[order])


@pytest.mark.parametrize("shift", [None, "far"])
def test_pairs_on_either_side_of_the_bound_stay_within_the_tolerance(recomputed, shift):
    # rows 1e-8 to 1e3 from a centre 1e4 from the shift: the ratio of the expansion's terms
    # to the distance sweeps through the bound's limit; a shift 1e6 away puts every pair
    # past it
    rng = np.random.default_rng(4)
    centres = np.array([[1e4, 0.0, 0.0, 0.0], [-1e4, 0.0, 0.0, 0.0]]) + 0.37
    scales = rng.uniform(0.5, 2.0, size=(2, 4))
    direction = rng.normal(size=(300, 4))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    x = centres[0] + np.logspace(-8, 3, 300)[:, None] * direction
    far = None if shift is None else centres.mean(axis=0) + 1e6
    got = scaled_distances(x, centres, scales, far)
    _assert_within(got, _exact(x, centres, scales))
    assert 0 < sum(recomputed) < (x.size if shift is None else 2 * x.shape[0] + 1)
    if shift is not None:
        assert sum(recomputed) == 2 * x.shape[0]


def test_float32_rows_against_exact_arithmetic():
    rng = np.random.default_rng(5)
    x, centres = _clusters(rng, 500, 5, 3, offset=1e3)
    x = x.astype(np.float32)
    scales = rng.uniform(0.5, 2.0, size=(3, 5))
    got = scaled_distances(x, centres, scales)
    assert got.dtype == np.float64
    _assert_within(got[::25], _exact(x[::25], centres, scales))


def test_estimators_on_narrow_clusters_far_from_the_origin_against_exact_arithmetic(recomputed):
    # KMeans.transform and the spherical and diagonal log densities at 1e8, spread 1e-3
    rng = np.random.default_rng(6)
    centres = 1e8 + np.array([[0.0, 0.0], [10.0, 5.0], [-7.0, 8.0]])
    x = centres[rng.integers(3, size=300)] + 1e-3 * rng.normal(size=(300, 2))
    kmeans = KMeans(3, n_init=1, random_state=0).fit(x)
    exact = _exact(x[:30], kmeans.cluster_centers_)
    _assert_within(kmeans.transform(x[:30]) ** 2, exact, 2.0**-38)  # the square of a sqrt
    before = sum(recomputed)
    assert before > 0
    for structure in ("diag", "spherical"):
        mixture = GaussianMixture(3, covariance_type=structure, random_state=0).fit(x)
        variances = np.broadcast_to(mixture.covariances_.reshape(3, -1), mixture.means_.shape)
        scales = 1.0 / np.sqrt(variances)
        log_norm = -0.5 * np.sum(np.log(2 * np.pi * variances), axis=1)  # (k,)
        exact = _exact(x[:30], mixture.means_, scales)
        densities = mixture._mixture().components.log_prob(x[:30])
        distances = -2.0 * (densities - log_norm)
        _assert_within(distances, exact, 1e-9)  # the constants' rounding, at distances ~1
    assert sum(recomputed) > before


def test_many_features_every_pair_by_differences_row_by_row(recomputed):
    # past d = 8186 the bound (2d + 12) 2^-53 T passes 2^-40 of any distance up to 2T: every
    # pair is taken by differences (past d = 4090, every pair nearer than T). Their features
    # were added by a Python loop, d NumPy calls per batch of 1 MiB / 16d pairs: 10 s for
    # 2,000 such rows and 10 centres, 0.7 s a centre at a time.
    rng = np.random.default_rng(7)
    n, d, k = 300, 8200, 4
    centres = rng.normal(size=(k, d))
    x = centres[rng.integers(k, size=n)] + 0.5 * rng.normal(size=(n, d))
    scales = rng.uniform(0.5, 2.0, size=(k, d))
    got = scaled_distances(x, centres, scales)
    assert sum(recomputed) == n * k
    np.testing.assert_allclose(got, _direct(x, centres, scales), rtol=1e-13)
    for row in (0, 151, 299):
        np.testing.assert_array_equal(
            scaled_distances(x[row : row + 1], centres, scales)[0], got[row]
        )
    order = rng.permutation(n)
    np.testing.assert_array_equal(scaled_distances(x[order], centres, scales), got[order])


def test_float32_scales_squared_in_float64():
    # p = s^2 of float32 scales was rounded to float32 (2^-24) in the expansion; the direct
    # differences multiply them into float64 rows
    rng = np.random.default_rng(8)
    x, centres = _clusters(rng, 200, 4, 3, offset=10.0)
    scales = rng.uniform(0.5, 2.0, size=(3, 4)).astype(np.float32)
    _assert_within(scaled_distances(x, centres, scales)[::10], _exact(x[::10], centres, scales))


def test_one_far_centre_leaves_the_others_to_the_expansion(recomputed):
    # expanded from the centres' mean, a centre 1e5 away put the shift 2e4 from the others:
    # their rows' pairs (80% of them) were redone by differences, 3x the direct code's time
    rng = np.random.default_rng(9)
    centres = 3.0 * rng.normal(size=(5, 10))
    centres[-1] += 1e5
    x = centres[rng.integers(4, size=20_000)] + rng.normal(size=(20_000, 10))
    scales = rng.uniform(0.5, 2.0, size=(5, 10))
    got = scaled_distances(x, centres, scales)
    np.testing.assert_allclose(got, _direct(x, centres, scales), rtol=1e-13)
    assert sum(recomputed) <= x.shape[0] * 5 // 1000


def test_expansion_terms_that_overflow_go_to_differences():
    # centres at +-1.2e154 (shift 0) and a row at 0.6e154: T = |z|^2 + |g|^2 overflowed to
    # inf while 2 p g z did not, so D = inf - 1.44e308 = inf passed inf <= inf and was kept;
    # the distance to the first centre is 3.6e307
    centres = np.array([[1.2e154, 0.0], [-1.2e154, 0.0]])
    x = np.array([[0.6e154, 0.0], [0.0, 1.0]])
    with np.errstate(over="ignore", invalid="ignore"):  # the second centre's: inf
        got = scaled_distances(x, centres)
        expected = _direct(x, centres, 1.0)
    assert np.isfinite(got[0, 0])
    np.testing.assert_allclose(got, expected, rtol=1e-15)
