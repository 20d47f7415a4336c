"""emkit.mle.gamma: shape and rate by maximum likelihood, errors from the Fisher information."""

import shutil
import subprocess

import mpmath
import numpy as np
import pytest
from scipy import special, stats

from emkit import mle
from emkit.distributions.gamma import Gamma


def fisher_covariance(a: float, b: float, n: int) -> np.ndarray:
    """Inverse of n times the gamma's Fisher information, formed directly (fine at small a)."""
    info = n * np.array([[special.polygamma(1, a), -1 / b], [-1 / b, a / b**2]])
    return np.linalg.inv(info)


@pytest.mark.parametrize("shape", [0.3, 2.5, 40.0])
def test_point_and_loglik_agree_with_scipy(shape):
    x = np.random.default_rng(1).gamma(shape, 1 / 1.7, 300)
    est = mle.gamma(x)
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert est.params["shape"] == pytest.approx(a, rel=1e-9)
    assert est.params["rate"] == pytest.approx(1 / scale, rel=1e-9)
    assert est.loglik == pytest.approx(stats.gamma.logpdf(x, a, scale=scale).sum(), rel=1e-12)
    np.testing.assert_allclose(est.cov, fisher_covariance(a, 1 / scale, x.size), rtol=1e-8)
    assert est.n == 300 and est.method == "Gamma maximum likelihood"


def test_family_covariance_is_the_inverse_fisher_information_per_feature():
    g = Gamma(np.array([0.7, 3.0]), np.array([2.0, 0.25]))
    cov = g.asymptotic_covariance()
    for f in range(2):
        block = cov[np.ix_([f, f + 2], [f, f + 2])]
        np.testing.assert_allclose(block, fisher_covariance(g.shape[f], g.rate[f], 1), rtol=1e-12)
    assert cov[0, 1] == cov[0, 3] == cov[1, 2] == 0.0  # features uncorrelated
    scale = np.array([2.0, 3.0, 5.0, 7.0])
    np.testing.assert_allclose(g.asymptotic_covariance(scale), cov / np.outer(scale, scale))


def exact_fit(x: np.ndarray) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    """Shape, rate and g = a psi'(a) - 1 of the gamma MLE of x, at 60 digits."""
    with mpmath.workdps(60):
        xs = [mpmath.mpf(float(v)) for v in x]
        mean = mpmath.fsum(xs) / len(xs)
        s = mpmath.log(mean) - mpmath.fsum(mpmath.log(v) for v in xs) / len(xs)
        a = mpmath.findroot(lambda t: mpmath.log(t) - mpmath.digamma(t) - s, 1 / (2 * s))
        return a, a / mean, a * mpmath.psi(1, a) - 1


@pytest.mark.parametrize("offset", [1e3, 1e6])
def test_errors_far_from_zero_agree_with_exact_arithmetic(offset):
    # shapes of 1e6 and 1e12: a psi'(a) - 1 formed in float64 cancels (all digits lost by 1e16),
    # and a numerical Hessian of the textbook log-likelihood is far off
    x = offset + np.random.default_rng(2).normal(size=50)
    est = mle.gamma(x)
    a, b, g = exact_fit(x)
    n = x.size
    assert est.params["shape"] == pytest.approx(float(a), rel=1e-8)
    assert est.params["rate"] == pytest.approx(float(b), rel=1e-8)
    with mpmath.workdps(60):
        var_a, var_b, cov_ab = a / (n * g), b**2 * mpmath.psi(1, a) / (n * g), b / (n * g)
    assert est.stderr["shape"] == pytest.approx(float(mpmath.sqrt(var_a)), rel=1e-7)
    assert est.stderr["rate"] == pytest.approx(float(mpmath.sqrt(var_b)), rel=1e-7)
    assert est.cov[0, 1] == pytest.approx(float(cov_ab), rel=1e-7)


def test_tiny_values_keep_their_errors_in_units():
    x = np.array([1.0, 2.0, 5.0, 3.5]) * 1e-300  # rate ~1e300: its variance leaves float64
    est = mle.gamma(x)
    a, _, scale = stats.gamma.fit(x * 1e300, floc=0)
    assert est.params["rate"] == pytest.approx(1e300 / scale, rel=1e-9)
    b = 1 / scale
    expected = np.sqrt(np.diag(fisher_covariance(a, b, x.size)))
    assert est.stderr["shape"] == pytest.approx(expected[0], rel=1e-8)
    assert est.stderr["rate"] == pytest.approx(expected[1] * 1e300, rel=1e-8)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        ([1.0, 0.0, 2.0], "strictly positive values"),
        ([1.0, -2.0, 2.0], "strictly positive values"),
        ([2.0, 2.0, 2.0], "all values are equal"),
        ([1.0, 1.0 + 2.0**-52], "differ only at float64's rounding"),
        ([1.0], "at least 2"),
        ([1.0, np.nan], "NaN"),
    ],
)
def test_bad_input_is_refused_with_the_reason(x, message):
    with pytest.raises(ValueError, match=message):
        mle.gamma(x)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs R (MASS)")
def test_agrees_with_mass_fitdistr():
    x = np.random.default_rng(3).gamma(3.0, 0.5, 200)
    code = (
        "suppressMessages(library(MASS)); x <- scan('stdin', quiet=TRUE); "
        "f <- fitdistr(x, 'gamma'); cat(f$estimate, f$sd)"
    )
    out = subprocess.run(
        ["Rscript", "-e", code],
        input="\n".join(map(repr, x.tolist())),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        pytest.skip(f"R's MASS did not run: {out.stderr[-200:]}")
    shape, rate, se_shape, se_rate = map(float, out.stdout.split())
    est = mle.gamma(x)
    # fitdistr stops optim at its default tolerance and takes optim's numerical Hessian
    assert est.params["shape"] == pytest.approx(shape, rel=1e-4)
    assert est.params["rate"] == pytest.approx(rate, rel=1e-4)
    assert est.stderr["shape"] == pytest.approx(se_shape, rel=1e-3)
    assert est.stderr["rate"] == pytest.approx(se_rate, rel=1e-3)


@pytest.mark.parametrize("shape", [0.1, 0.02, 0.01])
def test_small_shapes_with_values_below_eps_times_the_mean(shape):
    # values below eps times the mean made (x - m) / m round to -1 and log1p(-1) = -inf:
    # "Gamma shape must be positive; got [nan]"
    x = np.random.default_rng(1).gamma(shape, 1.0, 200)
    assert x.min() < 1e-16 * x.mean()
    est = mle.gamma(x)
    a, _, scale = stats.gamma.fit(x, floc=0)
    assert est.params["shape"] == pytest.approx(a, rel=1e-7)
    assert est.params["rate"] == pytest.approx(1 / scale, rel=1e-7)
    assert est.loglik == pytest.approx(stats.gamma.logpdf(x, a, scale=scale).sum(), rel=1e-10)


def test_log_density_of_values_below_eps_times_the_mode():
    g = Gamma(np.array([0.1]), np.array([2.0]))
    x = np.array([1e-300, 1e-30, 1e-5, 0.3, 5.0])
    np.testing.assert_allclose(
        g.log_prob(x[:, None]), stats.gamma.logpdf(x, 0.1, scale=0.5), rtol=1e-13
    )


def test_statistics_merged_across_chunks_of_tiny_and_large_values():
    x = np.array([1e-300, 2e-300, 1.0, 3.0, 7.0])[:, None]
    family = Gamma()
    whole = family.suff_stats(x, np.ones(5))
    parts = family.suff_stats(x[:2], np.ones(2)) + family.suff_stats(x[2:], np.ones(3))
    assert np.isfinite(parts.log_gap).all()
    np.testing.assert_allclose(parts.log_gap, whole.log_gap, rtol=1e-13)
    np.testing.assert_allclose(parts.mean, whole.mean, rtol=1e-15)


def test_log_density_below_eps_times_the_mode_beside_a_tight_feature():
    # one feature with a shape above 1e8 sends every feature through the exact branch, where
    # a value below eps times the mode still gave -inf
    both = Gamma(np.array([0.1, 1e9]), np.array([1.0, 1e9]))
    x = np.array([[1e-300, 1.0], [1e-30, 1.0 + 1e-5], [0.5, 1.0 - 2e-5]])
    first = stats.gamma.logpdf(x[:, 0], 0.1, scale=1.0)
    second = Gamma(np.array([1e9]), np.array([1e9])).log_prob(x[:, 1:])
    np.testing.assert_allclose(both.log_prob(x), first + second, rtol=1e-12)


def test_log_ratio_keeps_its_digits_at_extreme_magnitudes():
    from emkit.distributions.gamma import log_ratio_gap

    for m in (1.37e-300, 1.37, 1.37e300):
        x = np.array([0.3, 0.45]) * m
        t = (x - m) / m
        with mpmath.workdps(40):
            exact = [
                float(mpmath.log(mpmath.mpf(v) / mpmath.mpf(m)) - (mpmath.mpf(v) - m) / m)
                for v in x
            ]
        np.testing.assert_allclose(log_ratio_gap(t, x, m), exact, rtol=2e-15)
