"""Components collapsed onto near-duplicate values are degenerate, judged against the data's
spread (as GaussianMixture judges its covariances), and data far from the origin are not.

The spike, 10.5 + 1e-9 [0, 1, 2], has variance 6.7e-19: far above the rounding of values
near 10.5 (1e-33), so a test at the values' rounding alone let a fit sit on it. Last, the
constant-column floor of GaussianStats at a large offset, with any sample weights.
"""

import shutil
import subprocess
import warnings

import numpy as np
import pytest

import emkit
from emkit import LinearGaussian, MixtureModel, MixtureOfRegressions, Normal
from emkit.distributions.gaussian import GaussianStats
from emkit.distributions.regularization import Regularization

SPIKE = 10.5 + 1e-9 * np.arange(3)


def _base(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, 50), rng.normal(5, 1, 50)])


def _fit_warnings(model, *data, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*data, **kw)
    return [w.category for w in caught]


def _r_has(package: str) -> bool:
    if shutil.which("Rscript") is None:
        return False
    return not subprocess.run(
        ["Rscript", "-e", f"library({package})"], capture_output=True
    ).returncode


@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e6])
def test_a_normal_started_on_a_spike_is_flagged(reg_covar, scale):
    x = np.concatenate([_base(), SPIKE])[:, None] * scale
    start = [
        Normal(mean=[2.5 * scale], variance=[7.0 * scale**2]),
        Normal(mean=[10.5 * scale], variance=[1e-18 * scale**2]),
    ]
    model = MixtureModel(start, n_init=1, reg_covar=reg_covar * scale**2)
    caught = _fit_warnings(model, x)
    assert emkit.DegenerateFitWarning in caught
    spike = int(np.argmax([c.mean[0] for c in model.components_]))
    assert model.degenerate_components_.tolist() == [spike == 0, spike == 1]
    # the three rows (the ridge lets the spike keep a share of the others' weight)
    assert model.weights_[spike] == pytest.approx(3 / 103, rel=1e-6 if reg_covar == 0 else 1e-3)
    if reg_covar == 0:
        # the MLE it sits on: the spike's own variance (closed form), 1e-19 of the data's
        assert model.components_[spike].variance[0] == pytest.approx(
            np.var(SPIKE * scale), rel=1e-6
        )


def test_the_rule_is_a_share_of_the_pooled_variance():
    data = Normal().suff_stats(_base()[:, None], np.ones(100))
    pooled = data.scatter[0] / data.weight
    for share, flagged in [(2e-12, False), (0.5e-12, True)]:
        # two values at 10.5 +- d: variance d^2
        d = np.sqrt(share * pooled)
        stats = Normal().suff_stats(np.array([[10.5 - d], [10.5 + d]]), np.ones(2))
        assert stats.scatter[0] / 2 == pytest.approx(share * pooled, rel=1e-6)
        assert Normal().degenerate(stats, pooled=data) is flagged
        # the same verdict in other units: the data and the pair times 1e-9
        tiny = Normal().suff_stats(np.array([[10.5 - d], [10.5 + d]]) * 1e-9, np.ones(2))
        tiny_data = Normal().suff_stats(_base()[:, None] * 1e-9, np.ones(100))
        assert Normal().degenerate(tiny, pooled=tiny_data) is flagged
    assert Regularization.TOLERANCE == 1e-12


def test_offset_and_small_units_are_not_spikes():
    # A spread of 1 at 1e15 (values 0.125 apart) and clean data in units of 1e-9: no collapse
    # (mclust's 1-D models call the latter singular: their eps, 2.2e-16, is absolute). No
    # ridge: reg_covar is in the data's units.
    for x in [_base() + 1e15, _base() * 1e-9]:
        model = MixtureModel([Normal(), Normal()], random_state=0, reg_covar=0)
        assert emkit.DegenerateFitWarning not in _fit_warnings(model, x[:, None])
        assert not model.degenerate_


@pytest.mark.skipif(not _r_has("mclust"), reason="needs R with mclust")
def test_mclust_calls_the_same_spike_singular(tmp_path):
    x = np.concatenate([_base(), SPIKE])
    np.savetxt(tmp_path / "x.csv", x, fmt="%.17g")
    script = f"""
suppressMessages(library(mclust))
x <- scan("{tmp_path / "x.csv"}", quiet=TRUE)
z <- cbind(as.numeric(seq_along(x) <= 100), as.numeric(seq_along(x) > 100))
cat("spike", meV(x, z)$loglik, "\\n")
cat("clean", meV(x[1:100], cbind(x[1:100] < 2.5, x[1:100] >= 2.5) + 0)$loglik, "\\n")
"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    lines = dict(line.split() for line in out.stdout.splitlines())
    assert lines["spike"] == "NA" and lines["clean"] != "NA"
    start = [Normal(mean=[2.5], variance=[7.0]), Normal(mean=[10.5], variance=[1e-18])]
    model = MixtureModel(start, n_init=1, reg_covar=0)
    _fit_warnings(model, x[:, None])
    assert model.degenerate_
    clean = MixtureModel([Normal(), Normal()], random_state=0)
    _fit_warnings(clean, x[:100, None])
    assert not clean.degenerate_


def _lines_and_flat_spike(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy lines (100 rows) and ``m`` rows on y = 10.5 + 1e-9 noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, 100)
    y = np.where(np.arange(100) < 50, 1 + 2 * x, 8 - 0.5 * x) + rng.normal(0, 0.5, 100)
    xs = rng.uniform(0, 10, m)
    ys = 10.5 + 1e-9 * rng.normal(size=m)
    return np.concatenate([x, xs])[:, None], np.concatenate([y, ys])


def test_a_linear_gaussian_started_on_a_flat_spike_is_flagged():
    # Four rows whose y are near-duplicates: a flat line through them has a residual
    # variance 1e-20 of var(y), yet their own y-scatter is no larger, so the share of it
    # LinearGaussian tested alone stays about 1.
    x, y = _lines_and_flat_spike(4)
    start = [
        LinearGaussian(coef=[2.0], intercept=1.0, variance=0.25),
        LinearGaussian(coef=[-0.5], intercept=8.0, variance=0.25),
        LinearGaussian(coef=[0.0], intercept=10.5, variance=1e-18),
    ]
    model = MixtureModel(start, n_init=1)
    assert emkit.DegenerateFitWarning in _fit_warnings(model, np.column_stack([x, y]))
    spike = int(np.argmin([c.variance for c in model.components_]))
    assert model.components_[spike].variance < 1e-12 * np.var(y)
    assert model.degenerate_components_.tolist() == [i == spike for i in range(3)]


def test_regressions_reseed_a_flat_spike_of_many_rows():
    # Thirty rows on y = 10.5 + 1e-9 noise: too many for the few-rows rule, and their RSS is
    # most of their own scatter. The fit kept a line with sigma 1.2e-9 (log-likelihood 369)
    # and no warning; now the M-step re-seeds it, as mixtools' regmixEM restarts (sigma below
    # 1e-8; test_mixtools_restarts_on_the_same_spike).
    x, y = _lines_and_flat_spike(30)
    model = MixtureOfRegressions(3, n_init=5, random_state=0)
    _fit_warnings(model, x, y)
    assert model.sigmas_.min() > 1e-6 * np.std(y)
    assert model.n_reseeds_ >= 1
    assert model.log_likelihood_ < 0


@pytest.mark.skipif(not _r_has("mixtools"), reason="needs R with mixtools")
def test_mixtools_restarts_on_the_same_spike(tmp_path):
    x, y = _lines_and_flat_spike(30)
    np.savetxt(tmp_path / "rows.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g")
    script = f"""
suppressMessages(library(mixtools)); set.seed(0)
d <- read.csv("{tmp_path / "rows.csv"}", header=FALSE)
r <- regmixEM(d$V2, d$V1, beta=cbind(c(1, 2), c(8, -0.5), c(10.5, 0)),
              sigma=c(0.5, 0.5, 1e-6), lambda=c(0.4, 0.4, 0.2), k=3, maxit=200)
cat("restarts", r$restarts, "\\n"); cat("sigma", min(r$sigma), "\\n")
"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    found = dict(
        line.split() for line in out.stdout.splitlines() if line.startswith(("restarts", "sigma"))
    )
    assert int(found["restarts"]) >= 1 and float(found["sigma"]) > 1e-8
    model = MixtureOfRegressions(3, n_init=5, random_state=0)
    _fit_warnings(model, x, y)
    assert model.n_reseeds_ >= 1 and model.sigmas_.min() > 1e-8


def test_sample_weights_leave_an_offset_spread_alone():
    # The constant-column floor of GaussianStats compared a scatter (weight x variance) with
    # a variance: a cluster of 200 rows at 1e15 with spread 1 and weights 1e-5 had scatter
    # 0.002 < 0.003, and that column's covariance was zeroed (degenerate). The centred data
    # are the reference.
    rng = np.random.default_rng(0)
    y = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(5, 1, (200, 2))])
    y[:, 0] += 1e15
    centred = y - y.mean(axis=0)
    w = np.full(len(y), 1e-5)
    got = emkit.GaussianMixture(2, covariance_type="diag", random_state=0, reg_covar=0)
    assert emkit.DegenerateFitWarning not in _fit_warnings(got, y, sample_weight=w)
    ref = emkit.GaussianMixture(2, covariance_type="diag", random_state=0, reg_covar=0)
    ref.fit(centred, sample_weight=w)
    assert not got.degenerate_
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-4)
    # a constant column at 1e15 still has no spread, whatever the weight
    rows = np.column_stack([y[:, 0], np.full(len(y), 1e15 + 0.375)])
    for weight in [1e-8, 1.0, 1e6]:
        stats = GaussianStats.from_data(rows, np.full((len(y), 1), weight), diagonal=True)
        exact = stats.exact_scatter()
        assert exact[0, 1] == 0.0
        assert exact[0, 0] / stats.weight[0] == pytest.approx(np.var(y[:, 0] - 1e15), rel=1e-9)
