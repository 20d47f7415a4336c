"""A fit's fingerprint of its rows (what ``estimate()`` checks its rows against) comes from the
final E-step's statistics, with no pass over the data of its own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import emkit
from emkit.backend.sources import ChunkSource
from emkit.distributions.base import IndependentFeatures


def count_passes(monkeypatch) -> list[int]:
    """A list whose one entry counts the passes over a data source from now on."""
    passes = [0]
    original = ChunkSource.map_reduce

    def counted(self, *args, **kwargs):
        passes[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ChunkSource, "map_reduce", counted)
    return passes


def rows_and_lines(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, 1))
    y = np.where(rng.uniform(size=n) < 0.5, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0])
    return x, y + rng.normal(0, 0.5, n)


rng = np.random.default_rng(0)
NORMAL = np.r_[rng.normal(0, 1, (200, 2)), rng.normal(4, 0.5, (100, 2))]
POSITIVE = np.r_[rng.exponential(1.0, (200, 1)), rng.exponential(6.0, (100, 1))]
COUNTS = np.where(rng.uniform(size=(300, 1)) < 0.3, 0.0, rng.poisson(3.0, (300, 1)))
BINARY = (rng.uniform(size=(300, 3)) < np.where(np.arange(300) < 150, 0.2, 0.7)[:, None]) * 1.0
CODES = rng.integers(0, 4, (300, 2)).astype(float)
WEIGHTS = rng.uniform(0.5, 2.0, 300)

# (estimator, rows, whether the families' statistics hold the columns' squares)
FITS = {
    "normal": (lambda: emkit.MixtureModel([emkit.Normal(), emkit.Normal()]), NORMAL, True),
    "exponential": (
        lambda: emkit.MixtureModel([emkit.Exponential(), emkit.Exponential()]),
        POSITIVE,
        False,
    ),
    "gamma": (lambda: emkit.MixtureModel([emkit.Gamma(), emkit.Gamma()]), POSITIVE, False),
    "normal+exponential": (
        lambda: emkit.MixtureModel([emkit.Normal(), emkit.Exponential()]),
        POSITIVE,
        False,
    ),
    "bernoulli": (lambda: emkit.MixtureModel([emkit.Bernoulli(), emkit.Bernoulli()]), BINARY, True),
    "categorical": (
        lambda: emkit.MixtureModel([emkit.Categorical(), emkit.Categorical()]),
        CODES,
        True,
    ),
    "zip": (lambda: emkit.ZeroInflatedPoisson(), COUNTS, False),
}


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize("name", list(FITS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_the_fit_fingerprint_is_its_rows_moments_from_no_pass_of_its_own(
    name, weighted, monkeypatch
):
    make, x, squares = FITS[name]
    w = WEIGHTS if weighted else None
    passes = count_passes(monkeypatch)
    model = fit_quietly(make().set_params(max_iter=6, tol=0, accelerate=None), x, sample_weight=w)
    # d919006, before the fingerprint: one E-step per model EM evaluated (the start and each
    # iteration); ZeroInflatedPoisson adds its pass of zero counts for the boundary test.
    assert passes[0] == model.n_iter_ + 1 + (name == "zip")
    fitted = model._fit_data
    weight = np.ones(len(x)) if w is None else w
    mean = np.average(x, axis=0, weights=weight)
    np.testing.assert_allclose(fitted.weight, weight.sum(), rtol=1e-12)
    np.testing.assert_allclose(fitted.mean, mean, rtol=1e-10, atol=1e-12)
    if squares:
        np.testing.assert_allclose(fitted.scatter, weight @ (x - mean) ** 2, rtol=1e-10)
    else:  # Poisson, Exponential and Gamma statistics hold no squares
        assert np.isnan(fitted.scatter).all()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_regression_fingerprint_is_its_rows_moments_from_no_pass_of_its_own(weighted, monkeypatch):
    x, y = rows_and_lines()
    w = WEIGHTS if weighted else None
    passes = count_passes(monkeypatch)
    lines = emkit.MixtureOfRegressions(2, random_state=0, n_init=1, max_iter=6, tol=0)
    lines = fit_quietly(lines.set_params(accelerate=None), x, y, sample_weight=w)
    assert passes[0] == lines.n_iter_ + 1  # as at d919006
    z = np.column_stack([x, y])
    weight = np.ones(len(z)) if w is None else w
    mean = np.average(z, axis=0, weights=weight)
    np.testing.assert_allclose(lines._fit_data.weight, weight.sum(), rtol=1e-12)
    np.testing.assert_allclose(lines._fit_data.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(lines._fit_data.scatter, weight @ (z - mean) ** 2, rtol=1e-10)
    lines.estimate(x, y, sample_weight=w)
    with pytest.raises(ValueError, match="column 1 has variance"):
        lines.estimate(
            x,
            np.average(y, weights=weight) + 1.01 * (y - np.average(y, weights=weight)),
            sample_weight=w,
        )


def test_a_family_without_row_moments_takes_a_pass(monkeypatch):
    monkeypatch.delattr(IndependentFeatures, "row_moments")
    passes = count_passes(monkeypatch)
    mm = emkit.MixtureModel([emkit.Poisson(), emkit.Poisson()], max_iter=5, tol=0)
    mm = fit_quietly(mm.set_params(accelerate=None), COUNTS)
    assert passes[0] == mm.n_iter_ + 2
    np.testing.assert_allclose(mm._fit_data.scatter, [((COUNTS - COUNTS.mean()) ** 2).sum()])


def test_exponential_estimate_checks_weight_and_means_without_squares():
    # One component: the rate's MLE is n / sum x, with standard error rate / sqrt(n).
    x = POSITIVE
    mm = emkit.MixtureModel([emkit.Exponential()]).fit(x)
    rate = len(x) / x.sum()
    np.testing.assert_allclose(mm.estimate(x).stderr["rate"].ravel(), rate / np.sqrt(len(x)))
    order = np.random.default_rng(1).permutation(len(x))
    np.testing.assert_allclose(mm.estimate(x[order]).stderr["rate"], mm.estimate(x).stderr["rate"])
    repeated = emkit.MixtureModel([emkit.Exponential()]).fit(x, sample_weight=np.full(len(x), 2.0))
    repeated.estimate(np.r_[x, x])
    for other, what in [
        (x[:-1], "total weight of 299"),
        (x * 1.001, "column 0 has mean"),
        (rng.exponential(x.mean(), x.shape), "column 0 has mean"),
    ]:
        with pytest.raises(ValueError, match=f"estimate\\(\\) needs the rows.*{what}"):
            mm.estimate(other)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gaussian_estimate_checks_its_rows_in_louis_pass_alone(
    covariance_type, weighted, monkeypatch
):
    # estimate() took a pass of its own for the rows' fingerprint beside Louis' pass; the
    # fingerprint now comes from Louis' sums about the fitted means (numpy's moments of the
    # rows), and other rows are still refused.
    w = WEIGHTS if weighted else None
    model = fit_quietly(
        emkit.GaussianMixture(2, covariance_type=covariance_type, random_state=0),
        NORMAL,
        sample_weight=w,
    )
    passes = count_passes(monkeypatch)
    captured = []
    original = emkit.estimators.gaussian_mixture.check_same_rows

    def capture(estimator, given):
        captured.append(given)
        return original(estimator, given)

    monkeypatch.setattr(emkit.estimators.gaussian_mixture, "check_same_rows", capture)
    est = model.estimate(NORMAL, sample_weight=w)
    assert passes[0] == 1 and np.isfinite(est.stderr["means"]).all()
    weight = np.ones(len(NORMAL)) if w is None else w
    mean = np.average(NORMAL, axis=0, weights=weight)
    (given,) = captured
    np.testing.assert_allclose(given.weight, weight.sum(), rtol=1e-12)
    np.testing.assert_allclose(given.mean, mean, rtol=1e-10)
    np.testing.assert_allclose(given.scatter, weight @ (NORMAL - mean) ** 2, rtol=1e-10)
    with pytest.raises(ValueError, match="needs the rows"):
        model.estimate(NORMAL[::2], sample_weight=None if w is None else w[::2])
