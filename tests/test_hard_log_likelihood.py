"""Classification EM (``assignment="hard"``) climbs the classification log-likelihood, but
``log_likelihood_``, ``lower_bound_`` and the criteria are the observed-data log-likelihood at
the returned parameters, on every path; ``history_`` keeps the objective climbed."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

import emkit
from emkit import GaussianMixture, MixtureModel, Normal, select_mixture
from emkit.estimators import selection


def _rows(d: int = 2, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(0, 1, (n, d)), rng.normal(3, 1, (n, d))])


def _log_joint(model: GaussianMixture, x: np.ndarray) -> np.ndarray:
    """log pi_k + log N(x_n | mu_k, Sigma_k) by scipy, shape (n, k)."""
    return np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(model.weights_, model.means_, model.covariances_, strict=True)
        ]
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_hard_fit_reports_the_observed_data_log_likelihood(weighted):
    x = _rows()
    w = np.random.default_rng(1).uniform(0.5, 2.0, x.shape[0]) if weighted else None
    gm = GaussianMixture(2, assignment="hard", reg_covar=0.0, random_state=0)
    gm.fit(x, sample_weight=w)
    weight = np.ones(x.shape[0]) if w is None else w
    joint = _log_joint(gm, x)
    expected = float(weight @ logsumexp(joint, axis=1))
    assert gm.log_likelihood_ == pytest.approx(expected, rel=1e-10)
    assert gm.log_likelihood_ == pytest.approx(float(weight @ gm.score_samples(x)), rel=1e-12)
    assert gm.lower_bound_ == pytest.approx(expected / weight.sum(), rel=1e-10)
    # history_ keeps the objective classification EM climbed: sum_n w_n max_k log pi_k p_k(x_n)
    assert gm.history_[-1] == pytest.approx(float(weight @ joint.max(axis=1)), rel=1e-10)
    assert gm.history_[-1] < gm.log_likelihood_


def test_hard_fit_of_a_dask_array_reports_the_observed_data_log_likelihood():
    da = pytest.importorskip("dask.array")
    x = _rows()
    gm = GaussianMixture(2, assignment="hard", random_state=0).fit(da.from_array(x, chunks=250))
    expected = float(logsumexp(_log_joint(gm, x), axis=1).sum())
    assert gm.log_likelihood_ == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("how", ["lockstep", "checkpoint", "single"])
def test_hard_selection_table_agrees_with_its_criteria(tmp_path, monkeypatch, how):
    # The table's log_likelihood column and its bic column read one log-likelihood, that of
    # score_samples, whichever way the grid runs.
    x = _rows(d=1)
    options = {"checkpoint": dict(checkpoint=tmp_path)}.get(how, {})
    if how == "single":  # the rounds in float32, a final pass in float64
        monkeypatch.setattr(selection, "LARGE_GRID_ROWS", 0)
        monkeypatch.setattr(selection, "SINGLE_SCREEN_ROWS", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.exceptions.LocalMaximumWarning)
        sel = select_mixture(x, n_components=[1, 2, 3], assignment="hard", **options)
    table = sel.table_
    from_bic = -(table.bic - table.n_parameters * np.log(x.shape[0])) / 2.0
    np.testing.assert_allclose(table.log_likelihood, from_bic, rtol=1e-10)
    for row in table.itertuples():
        model = sel.models_[(row.n_components, row.covariance_type)]
        expected = float(model.score_samples(x).sum())
        assert row.log_likelihood == pytest.approx(expected, rel=1e-10)
        assert model.log_likelihood_ == pytest.approx(expected, rel=1e-10)


def test_hard_mixture_model_reports_the_observed_data_log_likelihood():
    x = _rows(d=1)
    mm = MixtureModel([Normal(), Normal()], assignment="hard", random_state=0).fit(x)
    log_joint = np.column_stack(
        [
            np.log(w) + norm(p["mean"][0], np.sqrt(p["variance"][0])).logpdf(x[:, 0])
            for w, p in zip(mm.weights_, mm.component_params_, strict=True)
        ]
    )
    assert mm.log_likelihood_ == pytest.approx(float(logsumexp(log_joint, axis=1).sum()), rel=1e-9)
    assert mm.history_[-1] < mm.log_likelihood_


def test_summary_names_classification_em():
    x = _rows()
    hard = GaussianMixture(2, assignment="hard", random_state=0).fit(x).summary(x)
    assert "fitted by classification EM algorithm" in hard
    soft = GaussianMixture(2, random_state=0).fit(x).summary(x)
    assert "fitted by EM algorithm" in soft
