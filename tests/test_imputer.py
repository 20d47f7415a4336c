"""GaussianImputer against direct maximisation with scipy, closed forms and its own contracts."""

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.utils.estimator_checks import parametrize_with_checks

import emkit
from emkit import GaussianImputer
from emkit.backend.sources import IterableChunks
from emkit.em import run_em


@parametrize_with_checks([GaussianImputer()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _incomplete(n=150, fraction=0.25, seed=0):
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.6, -0.3], [0.6, 2.0, 0.5], [-0.3, 0.5, 0.8]])
    x = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=n)
    x[rng.random(x.shape) < fraction] = np.nan
    return x[~np.isnan(x).all(axis=1)]


def _observed_loglik(x, mean, cov):
    """Sum over rows of the marginal normal log density of the observed values (scipy.stats)."""
    patterns, inverse = np.unique(~np.isnan(x), axis=0, return_inverse=True)
    total = 0.0
    for p, o in enumerate(patterns):
        rows = x[inverse.ravel() == p][:, o]
        dist = stats.multivariate_normal(mean[o], cov[np.ix_(o, o)])
        total += np.sum(dist.logpdf(rows))
    return total


def _direct_maximum(x):
    """Maximise the observed-data likelihood over (mean, Cholesky factor) with BFGS."""
    d = x.shape[1]
    tril = np.tril_indices(d)
    diag = tril[0] == tril[1]

    def unpack(theta):
        chol = np.zeros((d, d))
        values = theta[d:].copy()
        values[diag] = np.exp(values[diag])
        chol[tril] = values
        return theta[:d], chol @ chol.T

    start = np.concatenate([np.zeros(d), np.zeros(len(tril[0]))])
    result = optimize.minimize(
        lambda t: -_observed_loglik(x, *unpack(t)), start, method="BFGS", options={"gtol": 1e-9}
    )
    mean, cov = unpack(result.x)
    return mean, cov, -result.fun


def test_equals_direct_maximisation_of_observed_likelihood():
    x = _incomplete()
    imputer = GaussianImputer(reg_covar=0.0, tol=1e-14, max_iter=10_000).fit(x)
    mean, cov, loglik = _direct_maximum(x)
    np.testing.assert_allclose(imputer.mean_, mean, atol=1e-4)
    np.testing.assert_allclose(imputer.covariance_, cov, atol=1e-4)
    assert imputer.log_likelihood_ == pytest.approx(loglik, abs=1e-4)
    assert imputer.log_likelihood_ == pytest.approx(
        _observed_loglik(x, imputer.mean_, imputer.covariance_), abs=1e-8
    )
    assert np.all(np.diff(imputer.history_) >= -1e-9)
    assert imputer.converged_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_defaults_reach_the_maximum_with_half_the_values_missing(seed):
    x = _incomplete(n=200, fraction=0.5, seed=seed)
    imputer = GaussianImputer().fit(x)
    mean, cov, _ = _direct_maximum(x)
    # reg_covar=1e-6 moves the covariance by about 1e-6 from the likelihood's maximiser.
    np.testing.assert_allclose(imputer.mean_, mean, atol=1e-5)
    np.testing.assert_allclose(imputer.covariance_, cov, atol=1e-5)
    assert imputer.converged_
    assert np.all(np.diff(imputer.history_) >= 0)
    plain = GaussianImputer(accelerate=None).fit(x)
    np.testing.assert_allclose(plain.mean_, mean, atol=1e-5)
    np.testing.assert_allclose(plain.covariance_, cov, atol=1e-5)


def test_complete_data_gives_sample_moments():
    x = _incomplete(fraction=0.0)
    imputer = GaussianImputer(reg_covar=0.0).fit(x)
    np.testing.assert_allclose(imputer.mean_, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(imputer.covariance_, np.cov(x.T, bias=True), rtol=1e-10)


def test_transform_fills_conditional_means():
    x = _incomplete(seed=1)
    imputer = GaussianImputer().fit(x)
    filled = imputer.transform(x)
    mu, sigma = imputer.mean_, imputer.covariance_
    for row, out in zip(x, filled, strict=True):
        o, m = ~np.isnan(row), np.isnan(row)
        np.testing.assert_array_equal(out[o], row[o])
        expected = mu[m] + sigma[np.ix_(m, o)] @ np.linalg.solve(
            sigma[np.ix_(o, o)], row[o] - mu[o]
        )
        np.testing.assert_allclose(out[m], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(imputer.transform([[np.nan] * 3])[0], mu)


def test_multiple_imputation_draws_from_the_conditional():
    x = _incomplete(seed=2)
    imputer = GaussianImputer().fit(x)
    row = np.array([[0.3, np.nan, np.nan]])
    draws = imputer.transform(row, n_draws=4000, random_state=0, parameters="fitted")
    assert draws.shape == (4000, 1, 3)
    np.testing.assert_array_equal(draws[:, 0, 0], 0.3)
    mu, sigma = imputer.mean_, imputer.covariance_
    gain = sigma[1:, :1] / sigma[0, 0]
    cond_mean = mu[1:] + gain[:, 0] * (0.3 - mu[0])
    cond_cov = sigma[1:, 1:] - gain @ sigma[:1, 1:]
    sample = draws[:, 0, 1:]
    # 4000 draws: the standard error of each mean is sd / 63; allow 5 of them.
    se = np.sqrt(np.diag(cond_cov) / len(sample))
    assert np.all(np.abs(sample.mean(axis=0) - cond_mean) < 5 * se)
    np.testing.assert_allclose(np.cov(sample.T), cond_cov, rtol=0.1, atol=0.02)
    again = imputer.transform(row, n_draws=4000, random_state=0, parameters="fitted")
    np.testing.assert_array_equal(draws, again)
    copies = imputer.transform(x, n_draws=3, random_state=1)
    assert copies.shape == (3,) + x.shape and not np.isnan(copies).any()
    observed = ~np.isnan(x)
    np.testing.assert_array_equal(copies[:, observed], np.tile(x[observed], (3, 1)))


def _bivariate(n, fraction, rho, seed):
    """n rows of a standard bivariate normal of correlation ``rho``, ``fraction`` of the second
    column missing completely at random."""
    rng = np.random.default_rng(seed)
    x = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    x[rng.permutation(n)[: int(fraction * n)], 1] = np.nan
    return x


def test_multiple_imputation_is_proper_rubins_variance_is_the_estimators():
    # Each copy drew from mean_ and covariance_: Rubin's total variance of the second column's
    # mean was 0.6 of its sampling variance (95% intervals covered 85%). With each copy's
    # parameters fitted to a bootstrap resample (Amelia's EMB) it is the sampling variance:
    # Anderson's (1957) closed form for one column complete and r of n rows observing the
    # other, Var(mu_2) = sigma_22 / r * (1 - rho^2 (n - r) / n) (Little and Rubin, 7.2),
    # at the fitted parameters. 200 copies: T to about 6%.
    n, m = 100, 200
    x = _bivariate(n, 0.6, 0.3, seed=0)
    imputer = GaussianImputer().fit(x)
    sigma = imputer.covariance_
    r = int((~np.isnan(x[:, 1])).sum())
    rho2 = sigma[0, 1] ** 2 / (sigma[0, 0] * sigma[1, 1])
    sampling = sigma[1, 1] / r * (1 - rho2 * (n - r) / n)

    def rubin(copies):
        column = copies[:, :, 1]  # (m, n)
        within = (column.var(axis=1, ddof=1) / n).mean()
        between = column.mean(axis=1).var(ddof=1)
        return within + (1 + 1 / m) * between

    proper = rubin(imputer.transform(x, n_draws=m, random_state=0))
    assert proper / sampling == pytest.approx(1.0, abs=0.15)
    improper = rubin(imputer.transform(x, n_draws=m, random_state=0, parameters="fitted"))
    assert improper / sampling < 0.7


def test_each_copy_draws_from_the_fit_to_a_bootstrap_resample():
    # Copy j: multinomial counts of the rows, the weighted EM fit, then the conditional draws,
    # from one random stream; the same as a fit with the counts as sample_weight.
    x = _incomplete(n=60, seed=4)
    imputer = GaussianImputer().fit(x)
    copies = imputer.transform(x, n_draws=2, random_state=7)
    rng = np.random.RandomState(7)
    n = x.shape[0]
    fitted = ~np.isnan(x)
    for copy in copies:
        counts = rng.multinomial(n, np.full(n, 1 / n))
        refit = GaussianImputer().fit(x, sample_weight=counts)
        assert not np.allclose(refit.mean_, imputer.mean_, atol=1e-3)  # a resample's fit
        want = refit.transform(x, n_draws=1, random_state=rng, parameters="fitted")[0]
        np.testing.assert_array_equal(copy[fitted], x[fitted])
        np.testing.assert_allclose(copy, want, rtol=1e-5, atol=1e-5)


def test_weighted_bootstrap_resamples_the_rows_the_weights_stand_for():
    # Frequency weights, as emkit.bootstrap reads them: copy j refits to multinomial counts of
    # round(sum w) rows drawn proportionally to w, then draws from that fit, one stream.
    x = _incomplete(n=60, seed=4)
    w = np.random.default_rng(1).integers(1, 4, x.shape[0]).astype(float)
    imputer = GaussianImputer().fit(x, sample_weight=w)
    copies = imputer.transform(x, n_draws=2, random_state=7, sample_weight=w)
    rng = np.random.RandomState(7)
    for copy in copies:
        counts = rng.multinomial(int(w.sum()), w / w.sum())
        refit = GaussianImputer().fit(x, sample_weight=counts)
        want = refit.transform(x, n_draws=1, random_state=rng, parameters="fitted")[0]
        np.testing.assert_allclose(copy, want, rtol=1e-5, atol=1e-5)


def test_weighted_bootstrap_copies_are_those_of_the_repeated_rows():
    # Integer weights on the complete rows (the rows with a missing value weigh 1, so that
    # each is imputed once either way): the copies of the weighted rows and those of the rows
    # written out agree in distribution. The bootstrap ignored the weights and drew every
    # copy around the unweighted fit; refitting to the weighted rows resampled as n units
    # (EM on counts * w) spreads the copies' statistic 1.25 times as wide as the repeated
    # rows' (sd; 1.00 for the multinomial draw of round(sum w) rows).
    rng = np.random.default_rng(10)
    x = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], size=300)
    w = np.where(x[:, 1] > 0.5, 5.0, 1.0)
    missing = rng.uniform(size=300) < 0.5
    x[missing, 1] = np.nan
    w[missing] = 1.0
    m = 300
    imputer = GaussianImputer().fit(x, sample_weight=w)
    weighted = imputer.transform(x, n_draws=m, random_state=0, sample_weight=w)
    stat_w = weighted[:, missing, 1].mean(axis=1)  # (m,) each copy's mean imputed value
    repeated = np.repeat(x, w.astype(int), axis=0)
    written = GaussianImputer().fit(repeated)
    np.testing.assert_allclose(written.mean_, imputer.mean_, rtol=1e-8)
    copies = written.transform(repeated, n_draws=m, random_state=1)
    stat_r = copies[:, np.isnan(repeated[:, 1]), 1].mean(axis=1)
    se = np.sqrt((stat_w.var() + stat_r.var()) / m)
    assert abs(stat_w.mean() - stat_r.mean()) < 4 * se
    # sd ratio of two samples of 300: standard error about 4%
    assert stat_w.std() / stat_r.std() == pytest.approx(1.0, abs=0.15)
    conditional = imputer.transform(x)[missing, 1].mean()
    assert stat_w.mean() == pytest.approx(conditional, abs=4 * stat_w.std() / np.sqrt(m))


def test_bootstrap_after_a_weighted_fit_needs_the_weights(tmp_path):
    rng = np.random.default_rng(10)
    x = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], size=400)
    w = np.where(x[:, 1] > 0.5, 5.0, 1.0)
    x[rng.uniform(size=400) < 0.5, 1] = np.nan
    imputer = GaussianImputer().fit(x, sample_weight=w)
    assert imputer.weighted_
    assert not GaussianImputer().fit(x, sample_weight=np.ones(400)).weighted_
    with pytest.raises(ValueError, match=r"fitted with sample_weight.*sample_weight=w"):
        imputer.transform(x, n_draws=2)
    # the conditional means and the fitted parameters' draws do not need them
    assert imputer.transform(x, n_draws=2, parameters="fitted").shape == (2, 400, 2)
    imputer.save(tmp_path / "imputer.json")  # a model file keeps weighted_
    loaded = emkit.load(tmp_path / "imputer.json")
    with pytest.raises(ValueError, match="fitted with sample_weight"):
        loaded.transform(x, n_draws=2)
    with pytest.raises(ValueError, match="stand for 1 rows"):
        imputer.transform(x, n_draws=2, sample_weight=w / w.sum())
    with pytest.raises(ValueError, match="sample_weight"):
        imputer.transform(x, n_draws=2, sample_weight=w[:10])


def test_bootstrap_draws_need_rows_to_resample():
    imputer = GaussianImputer().fit(_incomplete())
    row = np.array([[0.3, np.nan, np.nan]])
    with pytest.raises(ValueError, match=r'1 rows with an observed value.*parameters="fitted"'):
        imputer.transform(row, n_draws=2)
    with pytest.raises(ValueError, match="parameters must be"):
        imputer.transform(row, n_draws=2, parameters="posterior")
    assert imputer.transform(row, n_draws=2, parameters="fitted").shape == (2, 1, 3)


def test_statistics_add_up_over_chunks():
    x = _incomplete(seed=3)
    imputer = GaussianImputer(tol=1e-10, accelerate=None).fit(x)
    model, _, _ = imputer._start(IterableChunks([x]))
    whole, ll = model.e_step(x)
    a, ll_a = model.e_step(x[:40])
    b, ll_b = model.e_step(x[40:])
    merged = a + b
    np.testing.assert_allclose(merged.components.scatter, whole.components.scatter, rtol=1e-12)
    np.testing.assert_allclose(merged.components.mean, whole.components.mean, rtol=1e-12)
    assert ll_a + ll_b == pytest.approx(ll, rel=1e-13)
    chunks = IterableChunks([x[:40], x[40:100], x[100:]])
    result = run_em(model, chunks, tol=1e-10, max_iter=1000, total_weight=chunks.total_weight)
    np.testing.assert_allclose(result.model.components.means[0], imputer.mean_, rtol=1e-10)
    np.testing.assert_allclose(result.model.components.covariances[0], imputer.covariance_)


def test_sample_weight_counts_rows():
    x = _incomplete(seed=4)
    weights = np.random.default_rng(0).integers(0, 3, size=len(x))
    weighted = GaussianImputer(tol=1e-12).fit(x, sample_weight=weights)
    repeated = GaussianImputer(tol=1e-12).fit(np.repeat(x, weights, axis=0))
    np.testing.assert_allclose(weighted.mean_, repeated.mean_, atol=1e-7)
    np.testing.assert_allclose(weighted.covariance_, repeated.covariance_, atol=1e-7)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, abs=1e-6)


def test_bad_input_says_what_to_do():
    x = _incomplete()
    with pytest.raises(ValueError, match="infinity|inf"):
        GaussianImputer().fit(np.where(np.isnan(x), np.inf, x))
    x[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"columns \[1\] have no observed value"):
        GaussianImputer().fit(x)
    with pytest.raises(ValueError, match="n_draws"):
        GaussianImputer().fit(_incomplete()).transform(x, n_draws=0)


@pytest.mark.parametrize(
    "estimator", [GaussianImputer(), emkit.GaussianMixture(1, missing="em")], ids=type
)
@pytest.mark.parametrize("source", ["array", "file"])
def test_inf_is_refused_naming_its_rows_and_columns(estimator, source, tmp_path):
    # inf gave scikit-learn's "Input X contains infinity or a value too large for
    # dtype('float64')", where NaN's refusal says where and what to do.
    x = _incomplete(n=60, seed=4)
    x[[3, 17], 2] = np.inf
    x[17, 0] = -np.inf
    data = x
    if source == "file":
        np.save(tmp_path / "x.npy", x)
        data = tmp_path / "x.npy"
    pattern = r"infinite values in 2 of \d+ rows \(rows \[3, 17\]; columns \[0, 2\]\).*np\.nan"
    with pytest.raises(ValueError, match=pattern):
        estimator.fit(data)
    # without NaN as missing values, inf is to be dropped or replaced by finite values
    with pytest.raises(ValueError, match=r"rows \[3, 17\]; columns \[0, 2\]\); drop those"):
        emkit.GaussianMixture(1).fit(np.nan_to_num(x, nan=0.0, posinf=np.inf, neginf=-np.inf))


def test_save_and_load(tmp_path):
    x = _incomplete()
    imputer = GaussianImputer().fit(x)
    imputer.save(tmp_path / "imputer.json")
    loaded = emkit.load(tmp_path / "imputer.json")
    np.testing.assert_array_equal(loaded.transform(x), imputer.transform(x))


@pytest.mark.parametrize("scale", [1e-4, 1.0])
def test_a_ridge_that_outweighs_the_data_warns_as_in_gaussian_mixture(scale):
    # reg_covar = 1e-6 over 500 rows of variance 1e-8 adds 2e-9 to each variance, about 20%:
    # GaussianMixture raises a ScaleWarning there, and so must the imputer.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * scale
    missing = x.copy()
    missing[rng.random(x.shape) < 0.2] = np.nan
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        emkit.GaussianMixture(1, random_state=0).fit(x)
    expected = any(issubclass(w.category, emkit.ScaleWarning) for w in seen)
    assert expected == (scale < 1)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit = GaussianImputer().fit(missing)
    assert any(issubclass(w.category, emkit.ScaleWarning) for w in seen) == expected
    # The warning's reason: the ridge's share of the variances, against the fit without it.
    plain = GaussianImputer(reg_covar=0.0).fit(missing)
    inflation = np.diag(fit.covariance_) / np.diag(plain.covariance_) - 1.0
    assert (inflation.max() > 0.1) == expected


def test_draws_under_pandas_output_are_one_dataframe_per_draw():
    # scikit-learn's set_output wrapper could not make a DataFrame of the (m, n, d) draws.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([0.0, 1.0, 2.0], np.eye(3) + 0.5, size=200)
    x[rng.random(x.shape) < 0.2] = np.nan
    frame = pd.DataFrame(x, columns=["a", "b", "c"], index=np.arange(200) + 10)
    arrays = GaussianImputer().fit(frame)
    expected = arrays.transform(frame, n_draws=3, random_state=0)  # (3, n, d)
    frames = GaussianImputer().set_output(transform="pandas").fit(frame)
    draws = frames.transform(frame, n_draws=3, random_state=0)
    assert isinstance(draws, list) and len(draws) == 3
    for got, want in zip(draws, expected, strict=True):
        assert list(got.columns) == ["a", "b", "c"]
        np.testing.assert_array_equal(got.index, frame.index)
        np.testing.assert_allclose(got.to_numpy(), want, rtol=1e-12)
    filled = frames.transform(frame)
    assert isinstance(filled, pd.DataFrame)
    np.testing.assert_allclose(filled.to_numpy(), arrays.transform(frame), rtol=1e-12)
    np.testing.assert_allclose(frames.fit_transform(frame).to_numpy(), filled.to_numpy())


def _near_plane(seed=5, scale=1.0):
    """40 rows whose third column is 2 x the second + 1, a quarter of the values missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 3))
    x[:, 2] = 2 * x[:, 1] + 1
    x[rng.uniform(size=x.shape) < 0.25] = np.nan
    return scale * x[~np.isnan(x).all(axis=1)]


@pytest.mark.parametrize("accelerate", ["squarem", None])
def test_the_objective_never_falls_when_the_ridge_holds_up_the_covariance(accelerate):
    # The marginal densities came from Cholesky factors of Sigma_oo's entries, whose rounding
    # grows with Sigma's condition number (here 1e8): the objective moved by 5e-9 from one
    # evaluation to the next, and EM reported MonotonicityWarnings (errors under pytest).
    x = _near_plane()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.DegenerateFitWarning)  # it is: see test below
        imp = GaussianImputer(accelerate=accelerate).fit(x)
    # Falls of 1e-12 of the objective would be rounding; these were of 1.4e-10.
    assert np.all(np.diff(imp.history_) >= -1e-12 * np.abs(imp.history_[:-1]))
    assert np.linalg.cond(imp.covariance_) > 1e7
    # The log-likelihood is scipy's, at the fitted mean and covariance.
    assert imp.log_likelihood_ == pytest.approx(
        _observed_loglik(x, imp.mean_, imp.covariance_), rel=1e-8
    )


def test_marginal_densities_are_exact_for_a_nearly_singular_covariance():
    # Every row's log density is that of the covariance the Cholesky factor holds, to the
    # rounding of that factor, as mpmath computes it with 50 digits.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = _near_plane()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.DegenerateFitWarning)
        imp = GaussianImputer().fit(x)
    factor = mpmath.matrix(np.linalg.cholesky(imp.covariance_).tolist())
    cov = factor * factor.T
    ours = imp.score_samples(x)
    for row, value in zip(x, ours, strict=True):
        o = np.flatnonzero(~np.isnan(row))
        marginal = mpmath.matrix([[cov[i, j] for j in o] for i in o])
        diff = mpmath.matrix([row[i] - imp.mean_[i] for i in o])
        quad = (diff.T * mpmath.inverse(marginal) * diff)[0]
        exact = -(len(o) * mpmath.log(2 * mpmath.pi) + mpmath.log(mpmath.det(marginal)) + quad) / 2
        assert value == pytest.approx(float(exact), abs=1e-12)


@pytest.mark.parametrize("scale", [1e-2, 1.0, 10.0])
def test_degenerate_as_gaussian_mixture_says(scale):
    # A column that is a linear function of another: the covariance is singular but for the
    # ridge. The imputer had no degenerate_ and said nothing.
    x = _near_plane(scale=scale)
    with pytest.warns(emkit.DegenerateFitWarning, match="singular but for regularisation"):
        imp = GaussianImputer().fit(x)
    with pytest.warns(emkit.DegenerateFitWarning):
        gm = emkit.GaussianMixture(1, missing="em").fit(x)
    assert imp.degenerate_ and gm.degenerate_
    # numpy: the covariance's narrowest direction is the plane's normal (0, -2, 1)/sqrt(5).
    vectors = np.linalg.eigh(imp.covariance_)[1]
    assert abs(vectors[:, 0] @ [0.0, -2.0, 1.0]) == pytest.approx(np.sqrt(5.0), abs=1e-3)
    assert not GaussianImputer().fit(_incomplete()).degenerate_


def _text_dtypes():
    dtypes = [pytest.param("string", id="string"), pytest.param("str", id="str")]
    try:
        import pyarrow as pa
    except ImportError:
        return dtypes
    arrow = pd.ArrowDtype(pa.string())
    return [*dtypes, pytest.param("string[pyarrow]", id="pyarrow"), pytest.param(arrow, id="arrow")]


@pytest.mark.parametrize("dtype", _text_dtypes())
def test_text_columns_holding_pd_na_read_as_the_object_column(dtype):
    # A pandas string column holding pd.NA failed in NumPy's conversion (TypeError: float()
    # argument must be ... 'NAType'), where the object column of the same text reads pd.NA as
    # NaN: refused, naming the column, or a missing value with missing="em".
    x = _incomplete(n=80)
    text = [[None if np.isnan(v) else repr(float(v)) for v in row] for row in x]
    objects = pd.DataFrame(text, columns=["a", "b", "c"], dtype=object).fillna(pd.NA)
    typed = objects.astype({"a": dtype, "b": dtype})
    assert typed["a"].isna().any() and not isinstance(typed.dtypes["a"], np.dtype)

    def refusal(data):
        with pytest.raises(ValueError) as caught:
            emkit.GaussianMixture(2, random_state=0).fit(data)
        return str(caught.value)

    said = refusal(objects)
    assert "NaN" in said and "'a'" in said
    assert refusal(typed) == said
    reference = emkit.GaussianMixture(2, missing="em", random_state=0).fit(x)
    for data in (objects, typed):
        got = emkit.GaussianMixture(2, missing="em", random_state=0).fit(data)
        assert got.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-12)
        np.testing.assert_allclose(got.means_, reference.means_, rtol=1e-12)
    imputer = GaussianImputer().fit(typed)
    np.testing.assert_allclose(imputer.mean_, GaussianImputer().fit(x).mean_, rtol=1e-12)
    words = typed.astype({"a": object}).assign(a=["u", *typed["a"][1:]]).astype({"a": dtype})
    assert refusal(words) == refusal(words.astype({"a": object}))


@pytest.mark.parametrize("make", ["imputer", "mixture", "classifier"])
def test_object_columns_holding_pd_na_read_as_nan(make):
    # float(pd.NA) is a TypeError: object columns with pd.NA failed in NumPy's conversion,
    # where Float64 columns with pd.NA and object columns with None read as NaN.
    x = _incomplete(n=80)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    objects = frame.astype(object).where(frame.notna(), pd.NA)
    assert objects["a"].isna().any() and objects.dtypes.eq(object).all()
    y = np.arange(len(x)) % 2

    def fitted(data):
        if make == "imputer":
            return GaussianImputer().fit(data)
        if make == "mixture":
            return emkit.GaussianMixture(2, missing="em", random_state=0).fit(data)
        return emkit.GenerativeClassifier(missing="em").fit(data, y)

    reference = fitted(x)
    for data in (objects, frame.astype("Float64"), objects.to_numpy()):
        got = fitted(data)
        assert got.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-12)
        means = got.mean_ if make == "imputer" else got.means_
        expected = reference.mean_ if make == "imputer" else reference.means_
        np.testing.assert_allclose(means, expected, rtol=1e-12)
    if make == "imputer":  # scipy's observed-data log-likelihood at the fitted parameters
        got = fitted(objects)
        loglik = _observed_loglik(x, reference.mean_, reference.covariance_)
        assert got.log_likelihood_ == pytest.approx(loglik, rel=1e-10)
        np.testing.assert_allclose(got.transform(objects), reference.transform(x), rtol=1e-12)
    # Without missing="em", the NaN it is: the message that says what to do.
    if make == "mixture":
        with pytest.raises(ValueError, match='missing="em"'):
            emkit.GaussianMixture(2).fit(objects)


def test_columns_never_observed_together_warn_that_their_covariance_is_not_estimated():
    # Columns 0 and 1 are never in one row: the observed-data likelihood is the same whatever
    # their covariance, so the fitted value is EM's choice, not the data's. It was silent.
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([0.0, 1.0, 2.0], np.eye(3) + 0.5, size=60)
    x[:30, 0] = np.nan
    x[30:, 1] = np.nan
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    with pytest.warns(emkit.DegenerateFitWarning, match=r"\('a', 'b'\) are never observed"):
        imputer = GaussianImputer(reg_covar=0).fit(frame)
    # scipy: moving that covariance leaves the likelihood where it is (and the fit at its max)
    mean, cov = imputer.mean_, imputer.covariance_
    moved = cov.copy()
    moved[0, 1] = moved[1, 0] = cov[0, 1] + 0.2 * np.sqrt(cov[0, 0] * cov[1, 1])
    assert np.all(np.linalg.eigvalsh(moved) > 0)
    np.testing.assert_allclose(
        _observed_loglik(x, mean, moved), imputer.log_likelihood_, rtol=1e-12
    )
    np.testing.assert_allclose(_observed_loglik(x, mean, cov), imputer.log_likelihood_, rtol=1e-10)
    x[:10, 0] = rng.normal(size=10)  # ten rows observing both: no such warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GaussianImputer().fit(x)
    assert not [w for w in caught if "never observed" in str(w.message)]


def test_an_unbounded_likelihood_is_explained_when_reg_covar_is_zero():
    # One row observes columns 0 and 1 together: with no ridge the likelihood has no maximum
    # (the covariance runs toward singular), which the warning says, with what to do.
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([0.0, 1.0, 2.0], np.eye(3) + 0.5, size=60)
    x[:30, 0] = np.nan
    x[30:, 1] = np.nan
    x[0, 0] = 0.3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = GaussianImputer(reg_covar=0, max_iter=3000).fit(x)
    messages = [
        str(w.message) for w in caught if issubclass(w.category, emkit.DegenerateFitWarning)
    ]
    assert fit.degenerate_ and messages
    assert "with reg_covar=0 the likelihood has no maximum" in messages[0]
    assert "set reg_covar > 0" in messages[0]
    assert np.linalg.eigvalsh(fit.covariance_).min() < 1e-9 * np.trace(fit.covariance_)


def test_weighted_score_is_the_score_of_the_rows_repeated():
    x = _incomplete(n=120, seed=3)
    x[5] = np.nan  # a row with nothing observed: log density 0, one row all the same
    counts = np.random.default_rng(3).integers(0, 4, x.shape[0])
    fit = GaussianImputer().fit(x)
    repeated = np.repeat(x, counts, axis=0)
    seen = repeated[~np.isnan(repeated).all(axis=1)]
    expected = _observed_loglik(seen, fit.mean_, fit.covariance_) / counts.sum()
    np.testing.assert_allclose(fit.score(repeated), expected, rtol=1e-12)
    np.testing.assert_allclose(fit.score(x, sample_weight=counts), expected, rtol=1e-12)
    np.testing.assert_allclose(
        fit.score(x, sample_weight=np.ones(len(x))), fit.score(x), rtol=1e-14
    )
    with pytest.raises(ValueError, match="at least one non-zero"):
        fit.score(x, sample_weight=np.zeros(len(x)))


def _conditional_means(x, mean, cov):
    """Each row of ``x`` with its NaN replaced by mu_m + S_mo S_oo^-1 (x_o - mu_o)."""
    filled = x.copy()
    for row in filled:
        m = np.isnan(row)
        if m.any() and not m.all():
            o = ~m
            gain = cov[np.ix_(m, o)] @ np.linalg.inv(cov[np.ix_(o, o)])
            row[m] = mean[m] + gain @ (row[o] - mean[o])
        elif m.all():
            row[:] = mean
    return filled


def test_pandas_output_on_dask_is_a_lazy_frame_with_the_index_of_x():
    dd = pytest.importorskip("dask.dataframe")
    da = pytest.importorskip("dask.array")
    x = _incomplete(n=40)
    df = pd.DataFrame(x, columns=["a", "b", "c"], index=np.arange(1000, 1000 + len(x)))
    ddf = dd.from_pandas(df, npartitions=3)
    imp = GaussianImputer().set_output(transform="pandas").fit(df)
    expected = imp.transform(df)
    np.testing.assert_allclose(
        expected.to_numpy(), _conditional_means(x, imp.mean_, imp.covariance_), rtol=1e-10
    )
    for out in (
        imp.transform(ddf),
        GaussianImputer().set_output(transform="pandas").fit_transform(ddf),
    ):
        assert isinstance(out, dd.DataFrame)  # lazy, not computed into pandas
        assert out.divisions == ddf.divisions
        pd.testing.assert_frame_equal(out.compute(), expected, rtol=1e-6)
    # a dask Array has no index: its rows are numbered from 0, as pandas numbers an array's
    unnamed = GaussianImputer().set_output(transform="pandas").fit(x)
    out = unnamed.transform(da.from_array(x, chunks=(15, 3)))
    assert isinstance(out, dd.DataFrame)
    pd.testing.assert_frame_equal(out.compute(), unnamed.transform(x), rtol=1e-10)
    # without pandas output the lazy dask Array, as documented
    assert isinstance(GaussianImputer().fit(df).transform(ddf), da.Array)


@pytest.mark.parametrize("suffix", ["npy", "parquet"])
def test_fit_transform_of_a_file_fills_its_rows(tmp_path, suffix):
    x = _incomplete(n=120)
    path = tmp_path / f"x.{suffix}"
    if suffix == "npy":
        np.save(path, x)
    else:
        pytest.importorskip("pyarrow")
        pd.DataFrame(x, columns=["a", "b", "c"]).to_parquet(path)
    imp = GaussianImputer()
    filled = imp.fit_transform(str(path))
    assert isinstance(filled, np.ndarray) and filled.shape == x.shape
    np.testing.assert_allclose(
        filled, _conditional_means(x, imp.mean_, imp.covariance_), rtol=1e-10
    )
    np.testing.assert_allclose(filled, GaussianImputer().fit_transform(x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(imp.transform(path), filled, rtol=1e-12)
    np.testing.assert_allclose(
        imp.score_samples(path).sum(), _observed_loglik(x, imp.mean_, imp.covariance_), rtol=1e-10
    )
    framed = GaussianImputer().set_output(transform="pandas").fit_transform(path)
    assert isinstance(framed, pd.DataFrame) and framed.index.equals(pd.RangeIndex(len(x)))
    np.testing.assert_allclose(framed.to_numpy(), filled, rtol=1e-12)


def _collinear(seed=19, n=200):
    """n rows whose third column is the sum of the first two, 15% of the values missing."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 2))
    x = np.c_[a, a.sum(axis=1)]
    x[rng.uniform(size=x.shape) < 0.15] = np.nan
    return x[~np.isnan(x).all(axis=1)]


@pytest.mark.parametrize("kind", ["imputer", "mixture"])
def test_no_monotonicity_warning_from_the_rounding_of_a_ridge_held_covariance(kind):
    # reg_covar=0 on collinear columns: the M-step raises the ridge to about 2e-11, which holds
    # the covariance at a condition number of 2e13. EM's late steps then moved the objective
    # (about 1008) by up to 9e-4 either way, and 11 or 12 MonotonicityWarnings (errors under
    # pytest) reported falls that were the rounding of the marginal densities at that
    # conditioning (a tenth of eps * n * cond at most as EM went there, against mpmath).
    x = _collinear()
    est = (
        GaussianImputer(reg_covar=0)
        if kind == "imputer"
        else emkit.GaussianMixture(1, missing="em", reg_covar=0)
    )
    with pytest.warns(emkit.DegenerateFitWarning):
        est.fit(x)
    mean, cov = (
        (est.mean_, est.covariance_) if kind == "imputer" else (est.means_[0], est.covariances_[0])
    )
    assert np.linalg.cond(cov) > 1e12
    assert est.converged_
    # scipy's marginal normal densities of the observed values, from a Cholesky factor of
    # each pattern's own block of the covariance (scipy refuses the block itself as singular)
    patterns, inverse = np.unique(~np.isnan(x), axis=0, return_inverse=True)
    total = 0.0
    for p, o in enumerate(patterns):
        block = stats.Covariance.from_cholesky(np.linalg.cholesky(cov[np.ix_(o, o)]))
        total += (
            stats.multivariate_normal(mean[o], block).logpdf(x[inverse.ravel() == p][:, o]).sum()
        )
    ours = est.log_likelihood_ if kind == "imputer" else est.score(x) * len(x)
    assert ours == pytest.approx(total, rel=1e-9)


def test_a_real_fall_of_the_objective_is_still_reported_on_a_ridge_held_covariance():
    # An M-step that every other time (the first from the fit) moves the mean by 0.5 along
    # the data's plane lowers the objective by 20 to 70: the ascent check reports it on the
    # ridge-held fit of the collinear rows (condition number 2e13, rounding allowed about 5)
    # as on well-conditioned rows (rounding allowed 1e-12 and ROUNDING of the objective).
    from dataclasses import fields, replace

    from emkit.distributions.gaussian import COVARIANCES
    from emkit.models.missing import MissingMixture

    shift = np.array([0.5, 0.0, 0.5])

    class Shifted(MissingMixture):
        steps: ClassVar[list] = []

        def m_step(self, stats):
            Shifted.steps.append(None)
            model = super().m_step(stats)
            if len(Shifted.steps) % 2 == 0:
                return model
            components = COVARIANCES["full"].from_covariances(
                model.components.means + shift, model.components.covariances
            )
            return replace(model, components=components)

    for x, ridge in ((_incomplete(seed=3), 1e-6), (_collinear(), 2e-11)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", emkit.DegenerateFitWarning)
            fit = GaussianImputer(reg_covar=0).fit(x)  # the collinear fit raises the ridge
        model = MissingMixture(
            np.ones(1),
            COVARIANCES["full"].from_covariances(fit.mean_[None], fit.covariance_[None]),
            ridge,
        )
        start = Shifted(**{f.name: getattr(model, f.name) for f in fields(model)})
        Shifted.steps.clear()
        chunks = IterableChunks([x])
        with pytest.warns(emkit.MonotonicityWarning, match="decreased"):
            run_em(start, chunks, tol=1e-12, max_iter=4, total_weight=chunks.total_weight)


def test_a_fall_of_a_few_hundred_is_reported_on_a_ridge_held_covariance_of_many_rows():
    # At n = 20,000 the ascent check allowed eps * d * n * cond per model (cond 2e13 of the
    # collinear rows: about 480 in all), so that falls of a few hundred passed without a word.
    # Now each row's rounding is capped at ROW_ROUNDING (about 50 in all here, against
    # evaluations within 2.5 of mpmath's objective): an M-step moving the mean by 0.15 along
    # the plane (the fourth) lowers the objective by about 210, and is reported.
    from dataclasses import fields, replace

    from emkit.distributions.gaussian import COVARIANCES
    from emkit.models.missing import MissingMixture

    x = _collinear(n=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.DegenerateFitWarning)
        fit = GaussianImputer(reg_covar=0).fit(x)
    assert np.linalg.cond(fit.covariance_) > 1e12
    shift = np.array([0.15, 0.0, 0.15])
    falls = []

    class Shifted(MissingMixture):
        steps: ClassVar[list] = []

        def m_step(self, stats):
            Shifted.steps.append(None)
            model = super().m_step(stats)
            if len(Shifted.steps) != 4:
                return model
            components = COVARIANCES["full"].from_covariances(
                model.components.means + shift, model.components.covariances
            )
            return replace(model, components=components)

        def rounding(self, stats):
            falls.append(super().rounding(stats))
            return falls[-1]

    model = MissingMixture(
        np.ones(1),
        COVARIANCES["full"].from_covariances(fit.mean_[None], fit.covariance_[None]),
        2e-11,
    )
    start = Shifted(**{f.name: getattr(model, f.name) for f in fields(model)})
    chunks = IterableChunks([x])
    with pytest.warns(emkit.MonotonicityWarning, match="decreased") as record:
        run_em(start, chunks, tol=1e-12, max_iter=6, total_weight=chunks.total_weight)
    drops = [float(str(w.message).split("decreased by ")[1].split()[0]) for w in record]
    assert len(drops) == 1 and 150 < drops[0] < 300, drops
    assert max(falls) < 2e-3 * len(x)  # ROW_ROUNDING per row, and the log prior's share


def test_the_start_sums_travel_through_pickle_as_dask_sends_them():
    # The partial sums of a Dask partition come back pickled and are added up on the client;
    # a tuple subclass whose __new__ took other arguments than a tuple's failed to unpickle,
    # and a fit on a cluster waited forever for it.
    import pickle

    from emkit.estimators.imputer import _observed_sums

    x = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, 4.0]])
    w = np.array([1.0, 2.0, 0.5])
    back = pickle.loads(pickle.dumps(_observed_sums(x[:2], w[:2])))
    added = back + _observed_sums(x[2:], w[2:])
    whole = _observed_sums(x, w)
    for got, expected in zip(added, whole, strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(whole[1], [1.0 + 4.0, 6.0 + 2.0])  # weighted sums
    assert whole[-1] == 2  # rows whose weight is not 1
