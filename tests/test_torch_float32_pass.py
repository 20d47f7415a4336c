"""The torch float32 E-step pass's log-likelihood moves with the parameters as float64's does:
the coefficients' rounding to float32 is corrected to first order, as in NumPy's float32
pass (emkit.backend.gaussian_pass._partial)."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emkit.backend import kernels

torch = pytest.importorskip("torch")
from emkit.backend import torch_backend  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: the pass on a few thousand rows is quicker without a second one
    waiting on a shared machine; the count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rows(n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (n // 2, d)), rng.normal(0.8, 1.1, (n // 2, d))])
    return x.astype(np.float32)


def _both(x32, means, covs, weights):
    """(torch float32 pass's log-likelihood, scipy's in float64) of rows x32."""
    x = x32.astype(np.float64)
    d = x.shape[1]
    log_norm = -0.5 * d * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(covs)[1]
    form = kernels.quadratic_form(
        means, np.linalg.inv(covs), log_norm, np.log(weights), weights @ means
    )
    ours = torch_backend.quadratic_sums(torch.from_numpy(x32), None, [form])[1][0]
    joints = [
        np.log(w) + multivariate_normal(m, c).logpdf(x)
        for w, m, c in zip(weights, means, covs, strict=True)
    ]
    return ours, logsumexp(np.column_stack(joints), axis=1).sum()


def test_the_float32_pass_follows_small_changes_of_the_parameters():
    """Near the maximum (the generating parameters of 20000 rows), steps of the size of
    EM's last ones: the float32 pass's change of the log-likelihood was off by ~1e-3 (the
    coefficients rounded anew on each pass, 5 tol n at tol=1e-8), more than EM's late gains."""
    n, d = 20000, 3
    x = _rows(n, d)
    means = np.array([[0.0] * d, [0.8] * d])
    covs = np.array([np.eye(d), 1.21 * np.eye(d)])
    weights = np.array([0.5, 0.5])
    ours0, ref0 = _both(x, means, covs, weights)
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(12):
        moved = means + rng.normal(0, 1e-4, means.shape)
        scaled = covs * (1 + rng.normal(0, 1e-5))
        ours, ref = _both(x, moved, scaled, weights)
        errors.append(abs((ours - ours0) - (ref - ref0)))
    assert np.median(errors) < 2 * 1e-8 * n
    # and the log-likelihood itself within float32's rounding of the rows
    assert abs(ours0 - ref0) < 2e-9 * abs(ref0)


# Data far from the origin: the float32 pass takes the float64 shift off each row (rounding
# the difference once), as NumPy's float32 pass does; float32(shift) moved every mean and log
# joint by shift - float32(shift), up to 2^-25 |shift| (3e-3 at 1e5). What is left is float32
# rounding at the size of the rows' spread (~1 here), whatever the offset.
OFFSETS = [0.0, 1e3, 1e4, 1e5]
EPS32 = float(np.finfo(np.float32).eps)  # 1.2e-7
# A float32 sum over the pass's block (the 1000 rows below) of centred values up to ~4 rounds
# by about sqrt(n) eps of its largest term: 1.5e-5, the resolution of a fitted mean here.
SUM_RES = np.sqrt(1000) * EPS32 * 4


def _far_rows(offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters of spread ~1 at ``offset``: (the float32 rows, the same values in float64)."""
    rng = np.random.default_rng(20)
    x = np.vstack([rng.normal([0, 0], 1, (600, 2)), rng.normal([3, 2], [0.5, 1], (400, 2))])
    x32 = (x + offset).astype(np.float32)
    return x32, x32.astype(np.float64)


@pytest.mark.parametrize("offset", OFFSETS)
def test_float32_pass_moments_do_not_move_with_the_offset(offset):
    """One fused E-step on float32 rows against scipy's responsibilities in float64 on the
    same (float32-rounded) rows: means and log-likelihood to float32's resolution of the
    rows' spread. At offset 1e5 the means were off by 3e-3 (the shift's rounding)."""
    x32, x = _far_rows(offset)
    means = np.array([[0.2, -0.1], [2.9, 2.1]]) + offset
    covs = np.array([[[1.0, 0.1], [0.1, 1.0]], [[0.3, 0.0], [0.0, 1.1]]])
    weights = np.array([0.6, 0.4])
    log_norm = -np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(covs)[1]
    shift = weights @ means
    form = kernels.quadratic_form(means, np.linalg.inv(covs), log_norm, np.log(weights), shift)
    weight, mean, _, loglik, _, _ = kernels.gaussian_e_step(torch.from_numpy(x32), [form])[0]
    joints = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(weights, means, covs, strict=True)
        ]
    )
    resp = np.exp(joints - logsumexp(joints, axis=1, keepdims=True))
    ref_mean = (resp.T @ (x - shift)) / resp.sum(axis=0)[:, None] + shift
    # Observed after: means within 6 eps on an Intel host, 44 on an AMD EPYC (torch's MKL
    # sums float32 in another order there); before: 220 eps at 1e3, 9e3 at 1e5. Weights 0.05
    # eps relative (before: 49 at 1e3), log-likelihood 0.2 eps per row (before: 11 at 1e3).
    assert np.abs(mean - ref_mean).max() < SUM_RES / 2
    np.testing.assert_allclose(weight, resp.sum(axis=0), rtol=4 * EPS32)
    assert abs(loglik - logsumexp(joints, axis=1).sum()) < 2 * EPS32 * x.shape[0]


def _em_steps(**kw):
    """GaussianMixture from fixed starting values, a fixed number of EM steps."""
    from emkit import GaussianMixture

    return GaussianMixture(
        2,
        means_init=kw.pop("means_init"),
        weights_init=[0.6, 0.4],
        precisions_init=np.array([np.eye(2), 2 * np.eye(2)]),
        accelerate=None,
        tol=1e-300,
        max_iter=5,
        **kw,
    )


@pytest.mark.parametrize("offset", OFFSETS)
def test_torch_float32_gaussian_mixture_matches_float64_fit_of_the_rounded_rows(offset):
    """GaussianMixture(dtype="float32", device="cpu") against NumPy's float64 fit of the
    float32-rounded rows, five EM steps from the same start: means, covariances and
    score_samples to float32's resolution of the spread (before: means off by 1e-3 at 1e5,
    score_samples by 1e-2 nats)."""
    x32, x = _far_rows(offset)
    start = np.array([[0.0, 0.0], [3.0, 2.0]]) + offset
    ref = _em_steps(means_init=start).fit(x)
    ours = _em_steps(means_init=start, dtype="float32", device="cpu").fit(x32)
    assert ours.n_iter_ == ref.n_iter_ == 5
    # Observed after, at every offset: means within 40 eps (55 on an AMD EPYC), covariances 80
    # (112), score_samples 200 (631) (before, at 1e4: 3e3, 1.6e3 and 2.2e4 eps; at 1e5: 9.5e3,
    # 7.8e3 and 8.3e4).
    assert np.abs(ours.means_ - ref.means_).max() < SUM_RES
    assert np.abs(ours.covariances_ - ref.covariances_).max() < 2 * SUM_RES
    assert np.abs(ours.score_samples(x) - ref.score_samples(x)).max() < 8 * SUM_RES


@pytest.mark.parametrize("offset", OFFSETS)
def test_torch_float32_kmeans_matches_float64_fit_of_the_rounded_rows(offset):
    """KMeans(dtype="float32", device="cpu"): centres as the float64 fit of the same rows
    (before: off by 3e-3 at 1e5), and the inertia of a float32 tensor against fitted centres
    as of the float64 rows (before: each distance from the centres rounded to float32)."""
    from emkit import KMeans

    x32, x = _far_rows(offset)
    start = np.array([[0.0, 0.0], [3.0, 2.0]]) + offset
    ref = KMeans(2, init=start, n_init=1).fit(x)
    ours = KMeans(2, init=start, n_init=1, dtype="float32", device="cpu").fit(x32)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    # the centres are float32, as asked (and as scikit-learn's of float32 rows): those summed
    # in float64 (observed: 24 eps at most; before: 1.7e3 eps at 1e4, 2.3e4 at 1e5), rounded
    assert ours.cluster_centers_.dtype == np.float32
    rounding = np.spacing(np.abs(ref.cluster_centers_).astype(np.float32)) / 2
    assert np.all(np.abs(ours.cluster_centers_ - ref.cluster_centers_) <= SUM_RES + rounding)
    # distances now in float64 from the float64 centres (before: 2e-9 relative at 0, 6e-6
    # at 1e5)
    inertia = -ref.score(torch.from_numpy(x32))
    assert inertia == pytest.approx(-ref.score(x), rel=1e-12)


def _full_covariances(model) -> np.ndarray:
    """A fitted GaussianMixture's covariances as (k, d, d) matrices, for scipy."""
    k, d = model.means_.shape
    cov = np.asarray(model.covariances_)
    if cov.ndim == 1:  # spherical: one variance per component
        return cov[:, None, None] * np.eye(d)
    if cov.ndim == 2 and cov.shape == (k, d) and model.covariance_type != "tied":  # diagonal
        return np.einsum("kd,de->kde", cov, np.eye(d))
    return np.broadcast_to(cov, (k, d, d))


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV", "EEI"])
def test_score_samples_of_a_float32_tensor_as_scipy_on_the_rounded_rows(covariance_type, offset):
    """score_samples of a float32 tensor (the log density, in float32) against scipy's in
    float64 on the same rows, with the model's float64 parameters. The rows are centred on
    each mean in float64 and rounded once: the float32 log density of a row is then a few
    float32 roundings of terms no larger than |log p| (and 1), whatever the offset. The means
    rounded to float32 moved every distance by their rounding, up to 2^-25 of the offset:
    1.4e-4 nats at 1e3 and 2.1e-2 at 1e5 (full), 1e3 and 1.7e5 eps."""
    from emkit import GaussianMixture

    x32, x = _far_rows(offset)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)
    joints = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(model.weights_, model.means_, _full_covariances(model), strict=True)
        ]
    )
    ref = logsumexp(joints, axis=1)
    got = model.score_samples(torch.from_numpy(x32))
    assert got.dtype == torch.float32
    # observed after: at most 2 eps (1 + |log p|) per row, every structure and offset
    # (before, full: 140 of them at 1e3, 1.6e3 at 1e4, 2e4 at 1e5)
    np.testing.assert_array_less(np.abs(got.double().numpy() - ref), 4 * EPS32 * (1 + np.abs(ref)))


# Rows with NaN, missing="em": the completed values are float32 rows near the offset, each
# rounded by up to half an ulp of it, independently; a component's mean of a column with
# n_miss of them (among ~n_k rows) moves by their average, about ulp / sqrt(12) sqrt(n_miss) / n_k
# (the completed rows are the model's float32 rows: that much is float32's resolution of them).
def _with_nan(x32: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every tenth row lacks its second value: (the float32 rows, the same in float64)."""
    x32 = x32.copy()
    x32[::10, 1] = np.nan
    return x32, x32.astype(np.float64)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("nan", [False, True], ids=["complete", "nan"])
def test_torch_float32_missing_em_matches_float64_fit_of_the_rounded_rows(nan, offset):
    """GaussianMixture(missing="em", dtype="float32", device="cpu") against the float64 fit of
    the float32-rounded rows, five EM steps from the same start. The statistics took the
    float32 means off the rows (complete rows: means off by 3.3e-3 at 1e5), and rows with NaN
    their observed values' distances from the float32 means and the completed values the
    float32 means plus the regression (1.9e-4 at 1e5, log-likelihood 3.7e-2)."""
    x32, x = _far_rows(offset)
    if nan:
        x32, x = _with_nan(x32)
    start = np.array([[0.0, 0.0], [3.0, 2.0]]) + offset
    ref = _em_steps(means_init=start, missing="em").fit(x)
    ours = _em_steps(means_init=start, missing="em", dtype="float32", device="cpu").fit(x32)
    assert ours.n_iter_ == ref.n_iter_ == 5
    fill_res = 0.0
    if nan:
        ulp = float(np.spacing(np.float32(max(offset, 1.0))))
        n_miss = int(np.isnan(x[:, 1]).sum())
        fill_res = 4 * ulp / np.sqrt(12) * np.sqrt(n_miss) / (ref.weights_.min() * len(x))
    errors = (
        np.abs(ours.means_ - ref.means_).max(),
        np.abs(ours.covariances_ - ref.covariances_).max(),
        abs(ours.log_likelihood_ - ref.log_likelihood_),
    )
    assert errors[0] < SUM_RES + fill_res
    assert errors[1] < 2 * SUM_RES + 4 * fill_res
    assert errors[2] < 2 * EPS32 * len(x) * 8


# Rows whose squared distances overflow float32 (3.4e38) though the rows are finite in it: at
# 2e19 the float64 log density, -2e38, fits in float32; at 1e25 it is -5e49, which float32
# rounds to -inf. The model lists its narrow component first, so the far rows belong to
# component 1 and the argmax of NaN responsibilities (0) was wrong as well.
OVERFLOWING = np.array(
    [[1e25, 0.0], [2e19, 0.0], [-3e20, 1e20], [0.5, 0.5], [4.0, 4.0]], dtype=np.float32
)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV"])
def test_float32_rows_whose_distances_overflow_answer_as_float64(covariance_type):
    """predict_proba, score_samples and predict of a float32 tensor with rows far out, against
    scipy's float64 answer on the same (float32) values: the responsibilities to 1e-6 and never
    NaN, the log density that answer rounded to float32 (before: NaN, -inf and label 0)."""
    from emkit import GaussianMixture

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(4, 0.5, (200, 2))])
    model = GaussianMixture(
        2, covariance_type=covariance_type, means_init=[[4.0, 4.0], [0.0, 0.0]], random_state=0
    ).fit(x)
    rows = OVERFLOWING.astype(np.float64)
    joints = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(rows)
            for w, m, c in zip(model.weights_, model.means_, _full_covariances(model), strict=True)
        ]
    )
    ref = logsumexp(joints, axis=1)
    # Shifted by the row's maximum: tied joints at 1e25 (1e50 and more) differ by less than
    # their rounding, and are tied in float64 too (0.5 each).
    shifted = np.exp(joints - joints.max(axis=1, keepdims=True))
    ref_proba = shifted / shifted.sum(axis=1, keepdims=True)
    far = torch.from_numpy(OVERFLOWING)
    proba = model.predict_proba(far)
    assert proba.dtype == torch.float32
    np.testing.assert_allclose(proba.double().numpy(), ref_proba, atol=1e-6)
    got = model.score_samples(far)
    assert got.dtype == torch.float32
    expected = torch.from_numpy(ref).float().double().numpy()  # -inf past float32's range
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=4 * EPS32)
    np.testing.assert_array_equal(model.predict(far).numpy(), ref_proba.argmax(axis=1))
