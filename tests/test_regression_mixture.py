"""MixtureOfRegressions: known lines recovered, real data against direct maximisation."""

import copy
import json
import re
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats
from scipy.special import log_softmax, logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks
from statsmodels import datasets

from emkit.estimators.persist import load
from emkit.estimators.regression_mixture import MixtureOfRegressions, _offset_moments
from emkit.exceptions import DegenerateFitWarning, ModelFileError, MonotonicityWarning

RANK_DEFICIENT = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the check fits 31 coefficients per line to 15 distinct rows: every least-squares "
        "problem is rank-deficient and rounding alone separates the weighted and repeated "
        "fits (test_weights_equal_repeated_rows checks the property on a well-posed problem)"
    )
}


@parametrize_with_checks(
    [
        MixtureOfRegressions(random_state=0),
        MixtureOfRegressions(equal_variance=True, fit_intercept=False, random_state=0),
    ],
    expected_failed_checks=lambda est: RANK_DEFICIENT,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        check(estimator)


def _two_lines(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    first = rng.random(n) < 0.4
    y = np.where(first, 1.0 + 2.0 * x, 8.0 - 0.5 * x) + rng.normal(0, 0.5, n)
    return x[:, None], y, first


def test_recovers_two_known_lines():
    x, y, first = _two_lines()
    model = MixtureOfRegressions(2, random_state=0).fit(x, y)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))
    # Components are ordered by slope: (-0.5, 8) then (2, 1).
    np.testing.assert_allclose(model.coef_[:, 0], [-0.5, 2.0], atol=0.05)
    np.testing.assert_allclose(model.intercept_, [8.0, 1.0], atol=0.2)
    np.testing.assert_allclose(model.sigmas_, [0.5, 0.5], atol=0.06)
    np.testing.assert_allclose(model.weights_, [0.6, 0.4], atol=0.05)
    labels = model.predict_component(x, y)
    assert np.mean(labels == first) > 0.9
    np.testing.assert_allclose(
        model.predict(x), (model.intercept_ + x @ model.coef_.T) @ model.weights_
    )
    np.testing.assert_allclose(model.predict_proba(x), np.tile(model.weights_, (len(x), 1)))


def _engel():
    """Engel food expenditure (statsmodels): 235 Belgian households, income -> food, in
    thousands of francs. The spread fans out with income; a low-share and a high-share group
    of households are the two regimes."""
    data = datasets.engel.load_pandas().data
    return data[["income"]].to_numpy() / 1000.0, data["foodexp"].to_numpy() / 1000.0


def _negative_loglik(theta, x, y, k):
    p = x.shape[1]
    logits = np.concatenate([[0.0], theta[: k - 1]])
    coef = theta[k - 1 : k - 1 + k * p].reshape(k, p)
    intercept = theta[k - 1 + k * p : k - 1 + k * p + k]
    log_sigma = theta[-k:]
    resid = y[:, None] - x @ coef.T - intercept
    log_norm = -0.5 * np.log(2 * np.pi) - log_sigma - 0.5 * resid**2 * np.exp(-2 * log_sigma)
    return -logsumexp(log_softmax(logits) + log_norm, axis=1).sum()


def _pack(model):
    logits = np.log(model.weights_[1:] / model.weights_[0])
    return np.concatenate([logits, model.coef_.ravel(), model.intercept_, np.log(model.sigmas_)])


def _random_line_start(x, y, k, rng):
    """Parameters drawn without EM: each line through two random rows, its sigma a random
    fraction of that line's residual spread, random weights."""
    coef, intercept, log_sigma = [], [], []
    for _ in range(k):
        i, j = rng.choice(y.shape[0], 2, replace=False)
        slope = (y[j] - y[i]) / (x[j, 0] - x[i, 0])
        coef.append(slope)
        intercept.append(y[i] - slope * x[i, 0])
        spread = np.std(y - slope * x[:, 0] - intercept[-1])
        log_sigma.append(np.log(spread * rng.uniform(0.1, 1.0)))
    return np.concatenate([rng.normal(0, 1, k - 1), coef, intercept, log_sigma])


def _effective_rows(theta, x, y, k):
    logits = np.concatenate([[0.0], theta[: k - 1]])
    coef, intercept, log_sigma = theta[k - 1 : 2 * k - 1], theta[2 * k - 1 : 3 * k - 1], theta[-k:]
    resid = y[:, None] - x[:, :1] * coef - intercept
    log_joint = log_softmax(logits) - log_sigma - 0.5 * resid**2 * np.exp(-2 * log_sigma)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True)).sum(axis=0)


def test_real_data_best_loglik_matches_direct_optimisation():
    x, y = _engel()
    model = MixtureOfRegressions(2, n_init=20, tol=1e-12, random_state=0).fit(x, y)
    em = _pack(model)
    np.testing.assert_allclose(-_negative_loglik(em, x, y, 2), model.log_likelihood_, rtol=1e-12)

    def direct(start):
        return optimize.minimize(
            _negative_loglik,
            start,
            args=(x, y, 2),
            method="BFGS",
            options={"gtol": 1e-8, "maxiter": 5000},
        )

    # EM's optimum is a stationary point that direct optimisation cannot improve on...
    np.testing.assert_allclose(model.log_likelihood_, -direct(em).fun, rtol=1e-9)
    # ...and the best of direct searches started independently of EM is EM's best over its
    # n_init starts, among fits where no line collapsed (as the estimator's rule: at least
    # 4 effective rows and a sigma at least 0.05 of the other's).
    rng = np.random.default_rng(1)
    fits = [direct(_random_line_start(x, y, 2, rng)) for _ in range(12)]
    kept = [
        f
        for f in fits
        if np.isfinite(f.fun)
        and np.all(_effective_rows(f.x, x, y, 2) >= 4)
        and np.exp(f.x[-2:]).min() >= 0.05 * np.exp(f.x[-2:]).max()
    ]
    assert len(kept) >= 6
    best = min(kept, key=lambda f: f.fun)
    np.testing.assert_allclose(model.log_likelihood_, -best.fun, rtol=1e-8)


def test_collapsing_component_is_reseeded_not_returned():
    """Three lines for two-line data: random starts collapse a line onto a few rows."""
    x, y, _ = _two_lines(60, seed=0)
    model = MixtureOfRegressions(3, n_init=10, random_state=0).fit(x, y)
    assert model.n_reseeds_ > 0
    assert np.all(model.sigmas_ > 0.1)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))


@pytest.mark.parametrize("seed", [1, 5, 8, 9])
def test_near_collapse_onto_a_few_rows_is_reseeded(seed):
    """Three lines for one noisy line: no line may sit on a few rows with a tiny sigma.

    Before the rule, seed 1 returned sigmas [0.229, 0.0158, 0.526] with the 0.0158 line on
    3.86 effective rows (noise sd 1).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, 40)
    y = 2 + 0.5 * x + rng.normal(0, 1, 40)
    model = MixtureOfRegressions(3, n_init=3, random_state=seed).fit(x[:, None], y)
    rows = model.predict_proba(x[:, None], y).sum(axis=0)
    # Free parameters of a line (slope, intercept, sigma) + 1, and Hathaway's scale ratio.
    assert np.all(rows >= 4)
    assert np.all(model.sigmas_ >= 0.05 * model.sigmas_.max())
    means = x[:, None] * model.coef_[:, 0] + model.intercept_
    loglik = logsumexp(
        np.log(model.weights_) + stats.norm.logpdf(y[:, None], means, model.sigmas_), axis=1
    )
    np.testing.assert_allclose(loglik.sum(), model.log_likelihood_, rtol=1e-10)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))


def test_a_narrow_line_through_many_rows_is_the_datas_not_a_collapse():
    # One regime measured 50x more precisely than the other: the narrow line was re-seeded as
    # collapsed (Hathaway's ratio) 400 times and the fit fell back to one shared sigma of 0.69
    # with a log-likelihood 488 below the truth's. Each line now matches least squares on its
    # own rows.
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, (300, 1))
    first = rng.uniform(size=300) < 0.5
    y = np.where(first, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0])
    y = y + np.where(first, rng.normal(0, 0.02, 300), rng.normal(0, 1, 300))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = MixtureOfRegressions(2, random_state=0).fit(x, y)
    for rows in (first, ~first):
        ols = sm.OLS(y[rows], sm.add_constant(x[rows])).fit()
        line = np.argmin(np.abs(model.coef_[:, 0] - ols.params[1]))
        np.testing.assert_allclose(model.coef_[line, 0], ols.params[1], rtol=1e-3)
        np.testing.assert_allclose(model.intercept_[line], ols.params[0], atol=5e-3)
        np.testing.assert_allclose(model.sigmas_[line], np.sqrt(ols.ssr / rows.sum()), rtol=0.01)


def test_data_that_always_collapse_fall_back_to_one_variance():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 60)
    y = 2 * x + rng.normal(0, 1, 60)
    y[:3] = 5.0 + 10.0 * x[:3]  # three rows exactly on a line: an unbounded likelihood
    with pytest.warns(DegenerateFitWarning, match="shared residual variance"):
        model = MixtureOfRegressions(2, n_init=2, random_state=0).fit(x[:, None], y)
    assert model.sigmas_[0] == model.sigmas_[1] > 0.5


def test_weights_equal_repeated_rows():
    x, y, _ = _two_lines(120, seed=5)
    counts = np.random.default_rng(0).integers(0, 3, size=len(y))
    weighted = MixtureOfRegressions(2, n_init=3, random_state=0).fit(x, y, sample_weight=counts)
    repeated = MixtureOfRegressions(2, n_init=3, random_state=0).fit(
        np.repeat(x, counts, axis=0), np.repeat(y, counts)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7)
    np.testing.assert_allclose(weighted.log_likelihood_, repeated.log_likelihood_, rtol=1e-10)


def test_weighted_criteria_equal_repeated_rows():
    """bic, aic, icl (both kinds) and score with frequency weights are those of the rows
    written out, as GaussianMixture's; a row of weight 0 counts for nothing."""
    x, y, _ = _two_lines(120, seed=5)
    counts = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float)
    model = MixtureOfRegressions(2, n_init=3, random_state=0).fit(x, y, sample_weight=counts)
    rx, ry = np.repeat(x, counts.astype(int), axis=0), np.repeat(y, counts.astype(int))
    for name in ("bic", "aic", "score"):
        weighted = getattr(model, name)(x, y, sample_weight=counts)
        np.testing.assert_allclose(weighted, getattr(model, name)(rx, ry), rtol=1e-12)
    for kind in ("hard", "soft"):
        weighted = model.icl(x, y, kind=kind, sample_weight=counts)
        np.testing.assert_allclose(weighted, model.icl(rx, ry, kind=kind), rtol=1e-12)
    assert model.bic(x, y, sample_weight=counts) == pytest.approx(
        -2 * model.log_likelihood_ + model.n_parameters() * np.log(counts.sum()), rel=1e-10
    )
    with pytest.raises(ValueError, match="Negative values"):
        model.bic(x, y, sample_weight=np.r_[-1.0, counts[1:]])
    with pytest.raises(ValueError, match="kind"):
        model.icl(x, y, kind="firm", sample_weight=counts)
    # a Dask collection: the same sums, taken on the partitions
    da = pytest.importorskip("dask.array")
    parts = [da.from_array(a, chunks=40) for a in (x, y, counts)]
    for name in ("bic", "score"):
        np.testing.assert_allclose(
            getattr(model, name)(*parts[:2], sample_weight=parts[2]),
            getattr(model, name)(x, y, sample_weight=counts),
            rtol=1e-12,
        )
    np.testing.assert_allclose(
        model.icl(*parts[:2], kind="soft", sample_weight=parts[2]),
        model.icl(x, y, kind="soft", sample_weight=counts),
        rtol=1e-12,
    )


def test_save_load(tmp_path):
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=2, random_state=0).fit(x, y)
    model.save(tmp_path / "r.json")
    again = load(tmp_path / "r.json")
    np.testing.assert_array_equal(again.predict_proba(x, y), model.predict_proba(x, y))


def test_criteria_of_one_line_are_those_of_least_squares():
    """With one line the fit is ordinary least squares: statsmodels' log-likelihood, and
    R's parameter count for lm (coefficients, intercept and sigma)."""
    x, y, _ = _two_lines(300, seed=3)
    x = np.column_stack([x, np.sin(x[:, 0])])
    model = MixtureOfRegressions(1, n_init=1, random_state=0).fit(x, y)
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    n, p = len(y), 4
    assert model.n_parameters() == p
    np.testing.assert_allclose(model.bic(x, y), -2 * ols.llf + p * np.log(n), rtol=1e-10)
    np.testing.assert_allclose(model.aic(x, y), -2 * ols.llf + 2 * p, rtol=1e-10)
    # One component: every posterior is 1, so both ICLs are the BIC.
    np.testing.assert_allclose(model.icl(x, y), model.bic(x, y), rtol=1e-12)
    np.testing.assert_allclose(model.icl(x, y, kind="soft"), model.bic(x, y), rtol=1e-12)


def test_bic_chooses_the_number_of_lines():
    x, y, _ = _two_lines(400, seed=1)
    bics = [
        MixtureOfRegressions(k, n_init=3, random_state=0).fit(x, y).bic(x, y) for k in (1, 2, 3)
    ]
    assert int(np.argmin(bics)) == 1
    shared = MixtureOfRegressions(2, equal_variance=True, n_init=3, random_state=0).fit(x, y)
    assert shared.equal_variance_ and shared.n_parameters() == 1 + 2 * 2 + 1
    with pytest.raises(ValueError, match="ICL kind"):
        shared.icl(x, y, kind="entropy")


def test_criteria_against_scipy():
    x, y, _ = _two_lines(200, seed=2)
    model = MixtureOfRegressions(2, n_init=3, random_state=0).fit(x, y)
    means = model.intercept_ + x @ model.coef_.T
    joint = model.weights_ * stats.norm.pdf(y[:, None], means, model.sigmas_)
    log_lik, post = np.log(joint.sum(axis=1)).sum(), joint / joint.sum(axis=1, keepdims=True)
    bic = -2 * log_lik + 7 * np.log(len(y))  # 1 weight, 2 x (slope, intercept, sigma)
    np.testing.assert_allclose(model.bic(x, y), bic, rtol=1e-12)
    np.testing.assert_allclose(model.aic(x, y), -2 * log_lik + 14, rtol=1e-12)
    hard = bic - 2 * np.log(post.max(axis=1)).sum()
    soft = bic - 2 * (post * np.log(post)).sum()
    np.testing.assert_allclose(model.icl(x, y), hard, rtol=1e-12)
    np.testing.assert_allclose(model.icl(x, y, kind="soft"), soft, rtol=1e-12)


Y_QUERIES = {
    "score": lambda m, x, y: m.score(x, y),
    "log_prob": lambda m, x, y: m.log_prob(x, y),
    "predict_proba": lambda m, x, y: m.predict_proba(x, y),
    "predict_component": lambda m, x, y: m.predict_component(x, y),
    "bic": lambda m, x, y: m.bic(x, y),
    "aic": lambda m, x, y: m.aic(x, y),
    "icl": lambda m, x, y: m.icl(x, y),
    "estimate": lambda m, x, y: m.estimate(x, y),
}


@pytest.mark.parametrize("query", list(Y_QUERIES))
def test_queries_read_y_as_fit_reads_it(query):
    """A 2-D y of n values, (n / 2, 2), is refused by every query with fit's (scikit-learn's)
    message: ravelled, it paired rows with other rows' responses (score -39.3 for -1.29). A
    column (n, 1) is read as fit reads it, with the same DataConversionWarning, and gives the
    scipy numbers of the 1-D y."""
    from sklearn.exceptions import DataConversionWarning

    x, y, _ = _two_lines(200, seed=2)
    model = MixtureOfRegressions(2, n_init=3, random_state=0).fit(x, y)
    side_by_side = np.column_stack([y[:100], y[100:]])
    with pytest.raises(ValueError) as refused:
        MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, side_by_side)
    assert "y should be a 1d array" in str(refused.value)
    with pytest.raises(ValueError, match=re.escape(str(refused.value))):
        Y_QUERIES[query](model, x, side_by_side)
    with pytest.warns(DataConversionWarning, match="column-vector y") as fitted:
        MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y[:, None])
    with pytest.warns(DataConversionWarning, match="column-vector y") as asked:
        got = Y_QUERIES[query](model, x, y[:, None])
    assert [str(w.message) for w in asked] == [str(fitted[0].message)] * len(asked)
    if query == "score":  # the mean log density, from scipy
        means = model.intercept_ + x @ model.coef_.T
        joint = model.weights_ * stats.norm.pdf(y[:, None], means, model.sigmas_)
        np.testing.assert_allclose(got, np.log(joint.sum(axis=1)).mean(), rtol=1e-12)
    elif query == "estimate":
        np.testing.assert_allclose(got.stderr["coef"], model.estimate(x, y).stderr["coef"])
    else:
        np.testing.assert_allclose(got, Y_QUERIES[query](model, x, y), rtol=1e-12)


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs R with flexmix")
def test_parameter_count_is_flexmix_s(tmp_path):
    if subprocess.run(["Rscript", "-e", "library(flexmix)"], capture_output=True).returncode:
        pytest.skip("R has no flexmix")
    x, y, _ = _two_lines(200, seed=2)
    x = np.column_stack([x, x**2])
    model = MixtureOfRegressions(3, n_init=2, random_state=0).fit(x, y)
    np.savetxt(tmp_path / "rows.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g")
    script = f"""
suppressMessages(library(flexmix)); set.seed(0)
d <- read.csv("{tmp_path / "rows.csv"}", header=FALSE, col.names=c("a", "b", "y"))
fit <- flexmix(y ~ a + b, data=d, k=3, control=list(minprior=0))
cat("df", attr(logLik(fit), "df"), "\n")
"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    df = next(line.split()[1] for line in out.stdout.splitlines() if line.startswith("df "))
    assert model.n_parameters() == int(df) == 2 + 3 * 4


def test_bad_input():
    with pytest.raises(ValueError, match="n_samples = 2"):
        MixtureOfRegressions(2).fit(np.ones((2, 1)), np.ones(2))
    x, y, _ = _two_lines(50)
    model = MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match="one per row"):
        model.predict_proba(x, y[:10])


def _two_precise_lines(noise, n=200, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, 1))
    first = rng.random(n) < 0.5
    y = np.where(first, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0]) + noise * rng.normal(size=n)
    return x, y, first


@pytest.mark.parametrize("equal_variance", [False, True])
def test_precise_lines_are_the_datas_not_collapses(equal_variance):
    # Noise 1e-4 on a response of spread 5: a residual variance of 5e-10 var(y), which the
    # former floor (1e-8 var(y)) called collapsed, re-seeding 295 times to end on one line
    # through both (slope 0.97, sigma 4.45, log-likelihood -582 against the truth's +1417).
    x, y, first = _two_precise_lines(1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = MixtureOfRegressions(2, equal_variance=equal_variance, random_state=0).fit(x, y)
    assert model.n_reseeds_ == 0
    rss = 0.0
    for line, rows in enumerate((~first, first)):  # ordered by slope: -0.5 first
        ols = sm.OLS(y[rows], sm.add_constant(x[rows])).fit()
        np.testing.assert_allclose(model.coef_[line, 0], ols.params[1], rtol=1e-9)
        np.testing.assert_allclose(model.intercept_[line], ols.params[0], rtol=1e-9)
        np.testing.assert_allclose(model.weights_[line], rows.mean(), rtol=1e-9)
        if not equal_variance:
            np.testing.assert_allclose(model.sigmas_[line], np.sqrt(ols.ssr / rows.sum()), 1e-6)
        rss += ols.ssr
    if equal_variance:
        np.testing.assert_allclose(model.sigmas_, np.sqrt(rss / len(y)), rtol=1e-6)


def test_lines_that_rows_follow_exactly_fall_back_to_one_variance():
    # No noise: the likelihood is unbounded. Starts that found a line collapsed it again
    # after every re-seed and the others merged both lines into one (slope 0.97, sigma 4.45),
    # which was returned with no warning. The shared-variance fit finds the exact lines.
    x, y, _ = _two_precise_lines(0.0)
    with pytest.warns(DegenerateFitWarning, match="follow exactly"):
        model = MixtureOfRegressions(2, n_init=4, random_state=0).fit(x, y)
    assert model.equal_variance_
    np.testing.assert_allclose(model.coef_[:, 0], [-0.5, 2.0], rtol=1e-9)
    np.testing.assert_allclose(model.intercept_, [8.0, 1.0], rtol=1e-9)
    # The ridge's floor on the pooled variance: 1e-8 var(y).
    np.testing.assert_allclose(model.sigmas_**2, 1e-8 * y.var(), rtol=1e-6)


def test_a_constant_response_is_refused():
    x = np.arange(10.0)[:, None]
    with pytest.raises(ValueError, match="y takes the one value 3 on every row"):
        MixtureOfRegressions(2).fit(x, np.full(10, 3.0))
    # Rows of weight 0 do not count: the weighted response is still constant.
    y = np.r_[np.full(9, 3.0), 7.0]
    with pytest.raises(ValueError, match="one value 3"):
        MixtureOfRegressions(2).fit(x, y, sample_weight=np.r_[np.ones(9), 0.0])


def test_rows_of_weight_zero_do_not_count_towards_enough_rows():
    """k (q + 1) rows of positive weight at least, as the same rows alone are refused: 2 of
    100 rows weighted for 2 lines ran on (96 RuntimeWarnings, a weight of 8e-15)."""
    x, y, _ = _two_lines(100)
    with pytest.raises(ValueError, match="needs at least 6 rows"):
        MixtureOfRegressions(2).fit(x[:5], y[:5])
    w = np.zeros(100)
    w[:5] = 1.0
    with pytest.raises(ValueError, match=r"needs at least 6 rows .* = 5 of positive weight"):
        MixtureOfRegressions(2).fit(x, y, sample_weight=w)


def test_fewer_rows_than_the_lines_coefficients_and_variances_are_refused():
    """A line of q coefficients needs q + 1 rows for a residual variance (OLS's n > q).
    One line of 2 features on 2 rows was fitted with sigma 0.00039 and a log-likelihood of
    +13.87, with a warning to use fewer components (of 1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = x @ [1.0, 2.0] + rng.normal(size=50)
    for n in (2, 3):
        with pytest.raises(ValueError, match="needs at least 4 rows") as caught:
            MixtureOfRegressions(1).fit(x[:n], y[:n])
        said = str(caught.value)
        assert f"n_samples = {n}" in said and "3 coefficients (2 features and an intercept)" in said
        assert "Use fewer features, or more rows." in said and "fewer components" not in said
    with pytest.raises(ValueError, match="needs at least 3 rows .* 2 coefficients"):
        MixtureOfRegressions(1, fit_intercept=False).fit(x[:2], y[:2])
    with pytest.raises(ValueError, match="needs at least 6 rows .* Use fewer components or"):
        MixtureOfRegressions(2).fit(x[:5, :1], y[:5])
    # q + 1 rows: the fit is ordinary least squares, sigma the maximum likelihood sqrt(RSS / n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        model = MixtureOfRegressions(1, random_state=0).fit(x[:4], y[:4])
    ols = sm.OLS(y[:4], sm.add_constant(x[:4])).fit()
    np.testing.assert_allclose(model.coef_[0], ols.params[1:], rtol=1e-6)
    np.testing.assert_allclose(model.sigmas_[0], np.sqrt(ols.ssr / 4), rtol=1e-6)
    np.testing.assert_allclose(model.log_likelihood_, ols.llf, rtol=1e-6)


def test_likelihood_methods_without_y_say_they_need_it():
    """log_prob, score, bic, aic and icl with y=None failed in NumPy's concatenation
    ("all the input array dimensions except for the concatenation axis must match")."""
    import dask.array as da

    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y)
    for X in (x, da.from_array(x, chunks=50)):
        for call in (model.log_prob, model.score, model.bic, model.aic, model.icl):
            with pytest.raises(ValueError, match="need the responses y.*pass y"):
                call(X, None)
    np.testing.assert_allclose(model.predict_proba(x, None), np.tile(model.weights_, (100, 1)))


def test_a_response_of_text_that_is_not_numbers_is_refused_by_name():
    """Text of numbers is read as numbers, as in X; other text gave NumPy's bare "could not
    convert string to float"."""
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y)
    text = y.astype(str)
    reference = model.log_prob(x, y)
    np.testing.assert_array_equal(model.log_prob(x, text), reference)
    np.testing.assert_array_equal(
        MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, text).coef_, model.coef_
    )
    text[3] = "n/a"
    said = r"y holds values that are not numbers \(could not convert .*'n/a'.*pandas.to_numeric"
    with pytest.raises(ValueError, match=said):
        MixtureOfRegressions(2).fit(x, text)
    with pytest.raises(ValueError, match=said):
        model.log_prob(x, text)


MISSING_RESPONSES = {
    "None in a list": lambda y: [None, *y[1:]],
    "None in an object Series": lambda y: pd.Series([None, *y[1:]], dtype=object),
    "pd.NA in an object Series": lambda y: pd.Series([pd.NA, *y[1:]], dtype=object),
    "pd.NA in a string Series": lambda y: pd.Series([None, *y[1:].astype(str)], dtype="string"),
    "None in an object column": lambda y: pd.DataFrame({"y": [None, *y[1:]]}, dtype=object),
}


@pytest.mark.parametrize("given", list(MISSING_RESPONSES))
def test_a_missing_response_is_refused_as_nan_is(given):
    """None and pd.NA in a y of objects or text are missing values, refused as NaN is ("Input
    y contains NaN"). None passed scikit-learn's check of y as a number and became NaN after
    it: fit said "y takes the one value nan on every row", and score, log_prob and
    predict_proba gave NaN without a word; pd.NA raised a bare "boolean value of NA is
    ambiguous"."""
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y)
    missing = MISSING_RESPONSES[given](y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a one-column DataFrame's DataConversionWarning
        with pytest.raises(ValueError, match="Input y contains NaN"):
            MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, missing)
        for query in (model.score, model.log_prob, model.predict_proba, model.bic):
            with pytest.raises(ValueError, match="Input y contains NaN"):
                query(x, missing)


def test_text_in_a_response_of_objects_is_refused_by_the_name_y():
    """An object Series of numbers and text that is not: fit said "X holds values that are not
    numbers" (scikit-learn converts y inside the check of X), the queries gave NumPy's bare
    "could not convert string to float". Numbers as objects are read as numbers."""
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, y)
    objects = pd.Series(list(y), dtype=object)
    np.testing.assert_array_equal(model.log_prob(x, objects), model.log_prob(x, y))
    objects[3] = "n/a"
    said = r"y holds values that are not numbers \(could not convert .*'n/a'"
    with pytest.raises(ValueError, match=said):
        MixtureOfRegressions(2, n_init=1, random_state=0).fit(x, objects)
    with pytest.raises(ValueError, match=said):
        model.score(x, objects)


def test_predictions_refuse_values_whose_squares_overflow():
    """As fit and GaussianMixture: values past 1e150 are refused by name, not answered with
    NaN posteriors, a log density of -inf or a mean of inf."""
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=2, random_state=0).fit(x, y)
    one, huge = np.array([[1.0]]), np.array([1e200])
    for call in (model.predict_proba, model.log_prob, model.score, model.bic):
        with pytest.raises(ValueError, match="y holds values as large as 1e\\+200"):
            call(one, huge)
    with pytest.raises(ValueError, match="X holds values as large as 1e\\+200"):
        model.predict_proba(np.array([[1e200]]), np.array([1.0]))
    with pytest.raises(ValueError, match="X holds values as large as 1e\\+308"):
        model.predict(np.array([[1e308]]))
    # tiny values are fine where they are not fitted
    assert np.isfinite(model.predict(np.array([[1e-200]]))).all()


def test_a_collapse_from_normalised_weights_names_sample_weight():
    """Weights summing to 1 give every line under its 4 rows' weight: every start collapses,
    and the warning says the weights count rows, not that the data are too few."""
    x, y, _ = _two_lines(200)
    with pytest.warns(DegenerateFitWarning, match="sample_weight sums to 1: frequency weights"):
        MixtureOfRegressions(2, n_init=2, random_state=0).fit(
            x, y, sample_weight=np.full(200, 0.005)
        )
    # weights that count enough rows: the collapse is the data's
    x, y, _ = _two_precise_lines(0.0)
    with pytest.warns(DegenerateFitWarning, match="use fewer components") as caught:
        MixtureOfRegressions(2, n_init=4, random_state=0).fit(x, y, sample_weight=np.ones(len(y)))
    assert not any("sample_weight" in str(w.message) for w in caught)


@pytest.mark.parametrize("accelerate", ["squarem", None])
@pytest.mark.parametrize(("k", "seed"), [(1, 2), (2, 6)])
def test_few_rows_leak_no_numpy_warning(k, seed, accelerate):
    """With few rows (k + 1, before they were refused) a starting line passes exactly through
    the rows it would claim: its variance of 0 (floored at the smallest float) overflowed the
    other rows' squared residuals in log_density and coef / sigma in SQUAREM's step."""
    rng = np.random.default_rng(seed)
    n = 3 * k  # the fewest rows allowed: a slope, an intercept and a variance per line
    x = rng.uniform(0, 10, (n, 1))
    y = 1 + 2 * x[:, 0] + rng.normal(0, 5, n)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixtureOfRegressions(k, random_state=0, accelerate=accelerate).fit(x, y)
    leaked = [w for w in caught if not issubclass(w.category, DegenerateFitWarning)]
    assert not leaked, [str(w.message) for w in leaked]
    assert np.isfinite(model.log_likelihood_)


def test_regimes_apart_in_x_are_found():
    # Each starting line's variance was the spread of every row about it: a line through one
    # regime got the other's residuals, started wide and lost its rows to a narrow wrong line.
    # 20 random states x 10 starts never found these regimes (log-likelihood -191.3; mixtools'
    # regmixEM found +39.98 from 4 of 10 random starts); the line's own rows set it now.
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(0, 1, 100), rng.uniform(5, 6, 100)][:, None]
    left = x[:, 0] < 3
    y = np.where(left, 1 + 2 * x[:, 0], 20 - 3 * x[:, 0]) + rng.normal(0, 0.1, 200)
    model = MixtureOfRegressions(2, random_state=0).fit(x, y)
    truth = np.array([0.0, -3.0, 2.0, 20.0, 1.0, np.log(0.1), np.log(0.1)])
    direct = optimize.minimize(_negative_loglik, truth, args=(x, y, 2), method="BFGS")
    np.testing.assert_allclose(model.log_likelihood_, -direct.fun, rtol=1e-7)
    for line, rows in enumerate((~left, left)):  # ordered by slope: -3 first
        ols = sm.OLS(y[rows], sm.add_constant(x[rows])).fit()
        np.testing.assert_allclose(model.coef_[line, 0], ols.params[1], rtol=1e-6)
        np.testing.assert_allclose(model.intercept_[line], ols.params[0], rtol=1e-6)


@pytest.mark.parametrize("value", [1.0, 3.0, 1e6])
def test_a_constant_covariate_is_a_mixture_of_normals_for_y(value):
    # A column holding one value is the intercept again. pinv inverted the 1e-46 that rounding
    # leaves of its centred scatter: coefficients of 1e15 (x = 3) and hundreds of
    # MonotonicityWarnings. The fit is a two-component normal mixture of y, as scikit-learn's.
    from sklearn.mixture import GaussianMixture

    from emkit.exceptions import MonotonicityWarning

    rng = np.random.default_rng(5)
    n = 200
    x = rng.uniform(0, 10, n)
    y = np.where(rng.uniform(size=n) < 0.5, 1 + 2 * x, 8 - 0.5 * x) + rng.normal(0, 0.5, n)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        fit = MixtureOfRegressions(2, n_init=3, random_state=0).fit(np.full((n, 1), value), y)
    np.testing.assert_array_equal(fit.coef_, 0.0)
    ref = GaussianMixture(2, reg_covar=0, tol=1e-12, max_iter=5000, n_init=5, random_state=0)
    ref.fit(y[:, None])
    order = np.argsort(ref.means_[:, 0])
    assert fit.log_likelihood_ == pytest.approx(ref.score(y[:, None]) * n, abs=1e-5)
    np.testing.assert_allclose(fit.intercept_, ref.means_[order, 0], rtol=1e-4)
    np.testing.assert_allclose(fit.sigmas_, np.sqrt(ref.covariances_[order, 0, 0]), rtol=1e-4)
    np.testing.assert_allclose(fit.weights_, ref.weights_[order], rtol=1e-4)


def test_scaling_the_weights_changes_no_coefficient_of_a_narrow_column():
    # A column varying by 1e-13 of its size is real spread, whatever the total weight: the
    # constant-column cutoff divided by the weight twice, and weights of 100 dropped it.
    from emkit.distributions.gaussian.stats import GaussianStats
    from emkit.distributions.linear_gaussian import weighted_least_squares

    rng = np.random.default_rng(0)
    x = 1 + 1e-13 * rng.normal(size=300)
    y = 1e13 * (x - 1) + rng.normal(0, 0.01, 300)
    z = np.c_[x, y]
    reference = np.polyfit(x - 1, y, 1)[0]
    for scale in (1e-8, 1.0, 100.0, 1e8):
        stats = GaussianStats.from_data(z, np.full((300, 1), scale), diagonal=False)
        coef, _, _ = weighted_least_squares(stats, fit_intercept=True)
        assert coef[0, 0] == pytest.approx(reference, rel=1e-6)
        with warnings.catch_warnings():
            # The intercept, about -1e13, holds the line's level only to 1e13 eps = 2e-3
            # against residuals of sd 0.01, so the objective is known only to tens at weights
            # of 100: far coarser than the rounding the ascent check allows, a step can seem
            # to descend (as it does on one thread count and not on another). The
            # coefficients are what this test is about.
            warnings.simplefilter("ignore", MonotonicityWarning)
            fit = MixtureOfRegressions(1).fit(x[:, None], y, sample_weight=np.full(300, scale))
        assert fit.coef_[0, 0] == pytest.approx(reference, rel=1e-6)


def test_collinear_columns_get_scikit_learns_minimum_norm_coefficients():
    # x2 = 1000 x1: any split of the slope fits equally; the pseudo-inverse's minimum-norm one in
    # the data's units is scikit-learn's (a pseudo-inverse in column-scaled units gave another)
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    x1 = rng.normal(size=200)
    x = np.c_[x1, 1000 * x1]
    y = 3 * x1 + rng.normal(0, 0.1, 200)
    fit = MixtureOfRegressions(1).fit(x, y)
    ref = LinearRegression().fit(x, y)
    np.testing.assert_allclose(fit.coef_[0], ref.coef_, rtol=1e-8)
    assert fit.intercept_[0] == pytest.approx(ref.intercept_, rel=1e-8, abs=1e-12)


def test_columns_on_scales_1e8_apart_are_both_fitted():
    # numpy's pinv of the scatter cut at 1e-15 of its largest eigenvalue and dropped the narrow
    # column: the M-step lowered the objective (433 at the first iteration) with one line
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0, 1e4, 300), rng.normal(0, 1e-4, 300)]
    y = 1e-4 * x[:, 0] + 1e4 * x[:, 1] + rng.normal(0, 0.1, 300)
    design = np.c_[np.ones(300), x / x.std(axis=0)]  # OLS on standardised columns
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    from emkit.exceptions import MonotonicityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        fit = MixtureOfRegressions(1).fit(x, y)
    np.testing.assert_allclose(fit.coef_[0], beta[1:] / x.std(axis=0), rtol=1e-9)
    assert fit.intercept_[0] == pytest.approx(beta[0], rel=1e-9, abs=1e-12)


# mixtools' regmixEM on _qa_lines() (R 4, mixtools 2.0), started from emkit's default fit,
# epsilon=1e-12: regmixEM(y, x, lambda=w, beta=rbind(b, t(coef)), sigma=s, epsilon=1e-12).
MIXTOOLS_QA = dict(
    log_likelihood=-606.515581017129,
    intercept=[6.035626620725, 1.032755412174],
    coef=[[-0.481996919367, 0.267342103793], [1.980275214945, -0.485094691905]],
    sigmas=[1.333822895832, 0.728543018849],
    weights=[0.602869423659, 0.397130576341],
)


def _qa_lines(n=300):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, size=(n, 2))
    first = rng.uniform(size=n) < 0.4
    mean = np.where(first, 1 + 2 * x[:, 0] - 0.5 * x[:, 1], 6 - 0.5 * x[:, 0] + 0.3 * x[:, 1])
    return x, mean + rng.normal(0, np.where(first, 0.8, 1.3))


def test_the_default_stop_leaves_less_than_tol_to_gain_and_a_tight_tol_reaches_mixtools():
    """QA: the default fit's intercept is 2.5e-6 relative from mixtools' (1.0327529 against
    1.0327554). That is what tol means: the log-likelihood is within tol * n (3e-6) of the
    maximum (here 1.2e-10), and the estimates, off by its square root over the information,
    reach mixtools' to 1e-7 with tol=1e-12."""
    x, y = _qa_lines()
    fit = MixtureOfRegressions(2, random_state=0).fit(x, y)
    gap = MIXTOOLS_QA["log_likelihood"] - fit.log_likelihood_
    assert fit.converged_ and -1e-12 * 606.5 < gap < fit.tol * y.size
    tight = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x, y)
    assert tight.converged_
    for name in ("intercept", "coef", "sigmas", "weights"):
        got = getattr(tight, name + "_")
        np.testing.assert_allclose(got, MIXTOOLS_QA[name], rtol=1e-7, err_msg=name)
    assert tight.log_likelihood_ == pytest.approx(MIXTOOLS_QA["log_likelihood"], abs=1e-9)


@pytest.mark.parametrize("extra", ["copy", "combination"])
def test_predictors_that_are_combinations_of_others_are_named_at_fit(extra):
    # A duplicated column fitted without a word, its coefficient split in two, and
    # estimate() then gave NaN for every standard error; mle.linear_regression refuses the
    # same design naming the column.
    from emkit.mle import linear_regression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    first = rng.random(300) < 0.5
    y = np.where(first, x @ [1.0, 2.0], x @ [-1.0, 0.5] + 3.0) + rng.normal(0, 0.3, 300)
    third = x[:, 0] if extra == "copy" else 2 * x[:, 0] - x[:, 1] + 1.0
    frame = pd.DataFrame(np.c_[x, third], columns=["a", "b", "c"])
    with pytest.raises(ValueError) as refused:
        linear_regression(frame, y)
    with pytest.warns(DegenerateFitWarning) as record:
        MixtureOfRegressions(2, random_state=0).fit(frame, y)
    (message,) = [str(w.message) for w in record if "linearly dependent" in str(w.message)]
    assert "c is a linear combination of intercept, a, b; drop it" in message
    assert "c is a linear combination of intercept, a, b; drop it" in str(refused.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        MixtureOfRegressions(2, random_state=0).fit(frame[["a", "b"]], y)


FAR = pytest.mark.parametrize(
    "shift", [("x", 1.7e9), ("y", 1e8), ("both", 1e9)], ids=["unix-time-x", "y", "both"]
)


def _rows_on_a_grid(shift=("x", 0.0)):
    """Two lines' rows (300, 1) and responses on a grid of 1/1024, and x and y moved by
    ``shift`` (which of them, by how much: exact in float64), then those moves."""
    which, offset = shift
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(0, 10, (300, 1)) * 1024) / 1024
    first = rng.random(300) < 0.5
    y = np.where(first, 1 + 2 * x[:, 0], 8 - x[:, 0]) + rng.normal(0, 0.5, 300)
    y = np.round(y * 1024) / 1024
    x_shift = offset if which in ("x", "both") else 0.0
    y_shift = offset if which in ("y", "both") else 0.0
    return x, y, x_shift, y_shift


def _assert_is_the_shifted_fit(far, near, x_shift, y_shift):
    """``far``, a fit of the rows of ``near`` moved by the shifts, is ``near``'s fit moved."""
    assert far.converged_
    assert far.n_iter_ <= near.n_iter_ + 5
    np.testing.assert_allclose(far.coef_, near.coef_, rtol=1e-7)
    np.testing.assert_allclose(
        far.intercept_ + far.coef_[:, 0] * x_shift - y_shift, near.intercept_, rtol=1e-6
    )
    np.testing.assert_allclose(far.sigmas_, near.sigmas_, rtol=1e-7)
    np.testing.assert_allclose(far.weights_, near.weights_, rtol=1e-7)
    assert far.log_likelihood_ == pytest.approx(near.log_likelihood_, abs=1e-7)


@FAR
def test_a_fit_far_from_the_origin_is_the_shifted_fit(shift):
    """The likelihood with intercepts is that of the data shifted (x by c: the intercepts by
    -coef c; y by c: by c), and the fit far from the origin is that of the data near it. Rows
    of x in Unix seconds (1.7e9 + a few units) gave residuals as differences of numbers near
    3e9, rounded to 1e-6: EM's objective fell (a MonotonicityWarning) and never met its stop,
    stopping at max_iter (479 iterations for 6, a ConvergenceWarning); y near 1e8 alike. The
    shifted values are exact in float64 (on a grid of 1/1024), so the fit near the origin is
    the reference."""
    x, y, x_shift, y_shift = _rows_on_a_grid(shift)
    near = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        far = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x + x_shift, y + y_shift)
    _assert_is_the_shifted_fit(far, near, x_shift, y_shift)


@FAR
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_a_dask_fit_far_from_the_origin_is_the_fit_in_memory(shift, weighted):
    """On a Dask collection the rows are moved to their mean as in memory (the partitions'
    moments merged), so the fit is the in-memory one to rounding and the shifted fit: the
    rows were fitted as they were, and x near 1.7e9 ran to max_iter (486 iterations for 5)
    after a MonotonicityWarning. The weights leave the first partition's rows out (weight 0):
    the mean is taken about the first row all the same, as in memory."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    x, y, x_shift, y_shift = _rows_on_a_grid(shift)
    w = None
    if weighted:
        w = np.random.default_rng(1).integers(0, 4, 300).astype(float)
        w[:70] = 0.0
    near = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x, y, sample_weight=w)
    x, y = x + x_shift, y + y_shift
    memory = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x, y, sample_weight=w)
    parts = [None if a is None else da.from_array(a, chunks=70) for a in (x, y, w)]
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        cluster = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(
            parts[0], parts[1], sample_weight=parts[2]
        )
    _assert_is_the_shifted_fit(cluster, near, x_shift, y_shift)
    assert cluster.n_iter_ == memory.n_iter_
    for name in ("coef_", "intercept_", "weights_"):
        np.testing.assert_allclose(getattr(cluster, name), getattr(memory, name), rtol=1e-13)
    np.testing.assert_allclose(cluster.sigmas_, memory.sigmas_, rtol=1e-12)
    assert cluster.log_likelihood_ == pytest.approx(memory.log_likelihood_, abs=1e-11)


def test_a_dask_fit_far_from_the_origin_takes_the_passes_of_one_near_it(monkeypatch):
    """The partitions' moments that decide the move come from the pass that checks them,
    and the E-steps move the rows as they read them: a fit far from the origin computes on
    the collection as often as one near it (a check pass, a sample, one pass per EM step)."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    x, y, x_shift, _ = _rows_on_a_grid(("x", 1.7e9))
    calls = []

    def counted(call):
        return lambda *args, **kwargs: calls.append(1) or call(*args, **kwargs)

    for name in ("compute", "persist"):
        monkeypatch.setattr(dask, name, counted(getattr(dask, name)))
    settings = dict(n_init=1, max_iter=6, tol=0.0, accelerate=None, random_state=0)
    counts = []
    for shift in (0.0, x_shift):
        calls.clear()
        with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = MixtureOfRegressions(2, **settings).fit(
                da.from_array(x + shift, chunks=70), da.from_array(y, chunks=70)
            )
        counts.append(len(calls) - (fit.n_iter_ + 1))  # less the EM passes
    assert counts == [3, 3]  # the persist, the check pass and the sample of start rows


def test_a_constant_column_far_from_the_origin_does_not_move_the_rows():
    """A constant column is no reason to fit about the mean (its spread is 0, and the rounded
    mean of 1,000 copies of 1712345678.123 made it 2.8e-5 about it, some 100 ulps: FAR_MEAN
    standard deviations from 0); a column varying by units there is."""
    rng = np.random.default_rng(0)
    near = rng.normal(size=(1000, 2))
    constant = np.column_stack([near[:, 0], np.full(1000, 1712345678.123), near[:, 1]])
    assert not MixtureOfRegressions(2)._origin(constant, None).any()
    varying = constant.copy()
    varying[:, 1] += rng.uniform(0, 10, 1000)
    origin = MixtureOfRegressions(2)._origin(varying, None)
    np.testing.assert_allclose(origin, varying.mean(axis=0), rtol=1e-13, atol=1e-15)
    # a Dask collection's partitions, each about its own first row: merged, the same
    model = MixtureOfRegressions(2)
    for rows, moved in ((constant, False), (varying, True)):
        parts = [_offset_moments(part, None) for part in np.array_split(rows, 7)]
        merged = model._origin_of([None, *parts], 3)  # an empty partition adds nothing
        assert merged.any() == moved
        np.testing.assert_allclose(merged, origin if moved else 0.0, rtol=1e-13, atol=1e-15)


def _far_fit(shift, **settings):
    """The rows of :func:`_rows_on_a_grid` moved by ``shift``, and the fit of them."""
    x, y, x_shift, y_shift = _rows_on_a_grid(shift)
    x, y = x + x_shift, y + y_shift
    settings = {"random_state": 0, "tol": 1e-12, **settings}
    return x, y, MixtureOfRegressions(2, **settings).fit(x, y)


def _moved_back(far, x_shift, y_shift):
    """``far`` for the rows less the shifts (exact on the grid): its lines moved there by
    numbers of the rows' own size (a difference of nearby numbers, ``origin_ - shift``, is
    exact), fitted as about 0."""
    near = copy.deepcopy(far)
    offset = far.origin_ - np.r_[np.full(far.coef_.shape[1], x_shift), y_shift]
    near.intercept_ = far.origin_intercept_ + offset[-1] - far.coef_ @ offset[:-1]
    near.origin_intercept_ = near.intercept_.copy()
    near.origin_ = np.zeros_like(far.origin_)
    return near


@FAR
def test_queries_far_from_the_origin_take_the_fits_residuals(shift):
    """Every query takes its residuals about ``origin_`` with the intercepts the fit used, so
    that the log-likelihood of the training rows is the fit's, and the queries those of the
    same lines moved to the rows near 0. In the rows' own coordinates the intercept far from
    0 is -coef x 1.7e9: residuals y - x'beta - b were differences of numbers near 3.4e9,
    rounded to 5e-7, and the log-likelihood of the training rows differed from the fit's by
    4e-9 of it (y near 1e8 by 4e-11)."""
    x, y, far = _far_fit(shift)
    _, _, x_shift, y_shift = _rows_on_a_grid(shift)
    assert far.origin_.any()
    np.testing.assert_allclose(
        far.intercept_,
        far.origin_intercept_ + far.origin_[-1] - far.coef_ @ far.origin_[:-1],
        rtol=1e-15,
    )
    total = far.log_prob(x, y).sum()
    assert total == pytest.approx(far.log_likelihood_, rel=1e-12)
    assert far.score(x, y) * len(y) == pytest.approx(far.log_likelihood_, rel=1e-12)
    assert far.bic(x, y) == pytest.approx(
        -2 * far.log_likelihood_ + far.n_parameters() * np.log(len(y)), rel=1e-12
    )
    assert far.estimate(x, y).loglik == pytest.approx(far.log_likelihood_, rel=1e-12)
    near = _moved_back(far, x_shift, y_shift)
    x0, y0 = x - x_shift, y - y_shift
    np.testing.assert_allclose(far.predict(x), near.predict(x0) + y_shift, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(far.log_prob(x, y), near.log_prob(x0, y0), rtol=1e-12)
    np.testing.assert_allclose(far.predict_proba(x, y), near.predict_proba(x0, y0), atol=1e-13)
    np.testing.assert_array_equal(far.predict_component(x, y), near.predict_component(x0, y0))
    for kind in ("hard", "soft"):
        assert far.icl(x, y, kind) == pytest.approx(near.icl(x0, y0, kind), rel=1e-12)
    # the standard errors of the fit near 0 (to its own distance from this one, 1e-9)
    moved = far.estimate(x, y)
    held = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(x0, y0).estimate(x0, y0)
    np.testing.assert_array_equal(moved.params["intercept"], far.intercept_)
    for name in ("weights", "coef", "sigmas"):
        np.testing.assert_allclose(moved.stderr[name], held.stderr[name], rtol=1e-7)


@FAR
def test_a_model_file_keeps_the_origin_and_its_queries(tmp_path, shift):
    """``origin_`` and ``origin_intercept_`` come back from the model file exactly, and with
    them every query, bit for bit."""
    x, y, far = _far_fit(shift)
    far.save(tmp_path / "far.json")
    again = load(tmp_path / "far.json")
    for name in ("origin_", "origin_intercept_", "intercept_"):
        np.testing.assert_array_equal(getattr(again, name), getattr(far, name))
    np.testing.assert_array_equal(again.predict(x), far.predict(x))
    np.testing.assert_array_equal(again.predict_proba(x, y), far.predict_proba(x, y))
    np.testing.assert_array_equal(again.log_prob(x, y), far.log_prob(x, y))
    assert again.score(x, y) == far.score(x, y)
    assert again.bic(x, y) == far.bic(x, y)
    np.testing.assert_array_equal(again.estimate(x, y).cov, far.estimate(x, y).cov)


def test_a_model_file_written_before_the_origin_was_kept_loads_about_zero(tmp_path):
    """A file without ``origin_`` and ``origin_intercept_`` (written before they were kept)
    is a fit about 0, queried as it was; a file with one of them only is damaged."""
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=2, random_state=0).fit(x, y)
    assert not model.origin_.any()
    np.testing.assert_array_equal(model.origin_intercept_, model.intercept_)
    model.save(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    for name in ("origin_", "origin_intercept_"):
        del document["attributes"][name]
    (tmp_path / "old.json").write_text(json.dumps(document))
    again = load(tmp_path / "old.json")
    np.testing.assert_array_equal(again.origin_, np.zeros(2))
    np.testing.assert_array_equal(again.origin_intercept_, model.intercept_)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    np.testing.assert_array_equal(again.log_prob(x, y), model.log_prob(x, y))
    document = json.loads((tmp_path / "r.json").read_text())
    del document["attributes"]["origin_intercept_"]
    (tmp_path / "half.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="origin_intercept_': absent where origin_ is"):
        load(tmp_path / "half.json")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("origin_", [0.0, 1.0, 2.0], r"origin_': shape \(3,\) where \(2,\)"),
        ("origin_intercept_", [0.0], r"origin_intercept_': shape \(1,\) where \(2,\)"),
        ("origin_", [1.0, 0.0], "origin_intercept_': not the lines of intercept_"),
        ("origin_intercept_", [1.0, 2.0], "origin_intercept_': not the lines of intercept_"),
    ],
)
def test_an_origin_that_is_not_the_lines_is_refused(tmp_path, field, value, message):
    x, y, _ = _two_lines(100)
    model = MixtureOfRegressions(2, n_init=2, random_state=0).fit(x, y)
    model.save(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    document["attributes"][field].update(shape=[len(value)], data=value)
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=message):
        load(tmp_path / "bad.json")


def test_lines_through_zero_have_no_origin(tmp_path):
    """Lines without intercepts are fitted as they are (a move would change the model): their
    origin is zeros, and a file that moves it is refused."""
    x, y, _, y_shift = _rows_on_a_grid(("y", 1e8))
    model = MixtureOfRegressions(2, fit_intercept=False, n_init=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lines through 0 fit these rows badly
        model.fit(x, y + y_shift)
    np.testing.assert_array_equal(model.origin_, np.zeros(2))
    np.testing.assert_array_equal(model.origin_intercept_, np.zeros(2))
    model.save(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    document["attributes"]["origin_"]["data"] = [1.0, 0.0]
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="origin_': .* where the parameter fit_intercept"):
        load(tmp_path / "bad.json")


@FAR
def test_a_dask_fit_far_from_the_origin_is_queried_as_the_fit_in_memory(shift):
    """A fit on a Dask collection keeps the origin its partitions' moments gave (the rows'
    mean, as in memory), and its queries, on the collection or in memory, are the in-memory
    fit's."""
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    x, y, memory = _far_fit(shift)
    xs, ys = da.from_array(x, chunks=70), da.from_array(y, chunks=70)
    with dask.config.set(scheduler="synchronous"):
        cluster = MixtureOfRegressions(2, random_state=0, tol=1e-12).fit(xs, ys)
        np.testing.assert_allclose(cluster.origin_, memory.origin_, rtol=1e-15)
        np.testing.assert_allclose(
            cluster.origin_intercept_, memory.origin_intercept_, rtol=1e-10, atol=1e-12
        )
        lazy = {
            "predict": cluster.predict(xs).compute(),
            "log_prob": cluster.log_prob(xs, ys).compute(),
            "predict_proba": cluster.predict_proba(xs, ys).compute(),
        }
        assert cluster.score(xs, ys) == pytest.approx(memory.score(x, y), rel=1e-12)
    assert cluster.log_prob(x, y).sum() == pytest.approx(cluster.log_likelihood_, rel=1e-12)
    np.testing.assert_array_equal(lazy["predict"], cluster.predict(x))
    np.testing.assert_array_equal(lazy["log_prob"], cluster.log_prob(x, y))
    np.testing.assert_array_equal(lazy["predict_proba"], cluster.predict_proba(x, y))
    np.testing.assert_allclose(lazy["predict"], memory.predict(x), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(lazy["log_prob"], memory.log_prob(x, y), rtol=1e-11)
    np.testing.assert_allclose(lazy["predict_proba"], memory.predict_proba(x, y), atol=1e-11)


@FAR
def test_a_fit_far_from_the_origin_continued_is_the_uninterrupted_fit(shift):
    """A warm start moves the stored lines from ``origin_`` to the rows' origin (by 0 on the
    same rows), so that plain EM cut in two takes the steps of one run; moving the reported
    intercepts instead rounded them by 5e-7 and the continued climb started elsewhere."""
    settings = dict(n_init=1, accelerate=None, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        x, y, whole = _far_fit(shift, max_iter=12, **settings)
        _, _, cut = _far_fit(shift, max_iter=5, warm_start=True, **settings)
        cut.set_params(max_iter=7).fit(x, y)
    np.testing.assert_array_equal(cut.origin_, whole.origin_)
    np.testing.assert_allclose(cut.history_, whole.history_[5:], rtol=1e-14)
    for name in ("coef_", "origin_intercept_", "sigmas_", "weights_"):
        np.testing.assert_allclose(getattr(cut, name), getattr(whole, name), rtol=1e-12)
