"""A fit that raises (bad rows, a refused warm start, a callback or Ctrl-C interrupting it)
leaves the estimator as it was before the call: still fitted with the old attributes, giving
the same numbers, or still unfitted. scikit-learn's estimators behave so for bad input (their
checks run before any attribute is set); an interrupted fit there can leave a mix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

import emkit
import emkit.estimators.bayesian_mixture as bayesian_module
import emkit.estimators.gaussian_mixture as gaussian_module
import emkit.estimators.imputer as imputer_module
import emkit.estimators.kmeans as kmeans_module
import emkit.estimators.mixture_model as mixture_module
import emkit.estimators.regression_mixture as regression_module

RNG = np.random.default_rng(0)
X3 = np.vstack([RNG.normal(0, 1, (60, 3)), RNG.normal(4, 1, (60, 3))])  # two clusters
Z2 = RNG.normal(size=(50, 2))  # other rows, of another width
Z2_NAN = Z2.copy()
Z2_NAN[0, 0] = np.nan
Y = np.r_[np.zeros(60, int), np.ones(60, int)]
Y_SEMI = Y.copy()
Y_SEMI[::3] = -1  # some rows unlabelled: the classifier runs EM (and calls its callback)
Y2_SEMI = np.r_[np.zeros(25, int), np.ones(25, int)]
Y2_SEMI[::3] = -1
X3_MISSING = X3.copy()
X3_MISSING[::5, 1] = np.nan
COUNTS = RNG.poisson(2.0, (120, 2))
COUNTS[:40] = 0


class Interrupt:
    """A callback that presses Ctrl-C (after the first EM step) once ``armed``."""

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, progress: Any) -> None:
        if self.armed:
            raise KeyboardInterrupt


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@dataclass
class Case:
    """An estimator, the data it fits, what it answers on them, and fits of it that fail."""

    make: Callable[..., Any]  # make(callback=None or an Interrupt, warm_start=...)
    fit_args: tuple
    queries: Callable[[Any], tuple]
    # fit arguments that raise ValueError: NaN rows of another width, and the like
    bad: list[tuple] = field(default_factory=list)
    # fit arguments (other data that fit well) to interrupt, and how: "callback" (an
    # Interrupt armed) or the (module, name) to replace by a function pressing Ctrl-C
    interrupted: list[tuple] = field(default_factory=list)
    warm: bool = False


def _mixture_queries(est) -> tuple:
    return est.predict_proba(X3), est.score_samples(X3), est.score(X3), est.bic(X3)


CASES = {
    "GaussianMixture": Case(
        lambda callback=None, **kw: emkit.GaussianMixture(
            2, random_state=0, callback=callback, **kw
        ),
        (X3,),
        _mixture_queries,
        bad=[(Z2_NAN,), (np.full((50, 3), np.inf),)],
        interrupted=[
            ((Z2,), "callback"),
            ((Z2,), (gaussian_module, "warn_unless_converged")),  # after every attribute
        ],
        warm=True,
    ),
    "KMeans": Case(
        lambda callback=None, **kw: emkit.KMeans(2, random_state=0, **kw),
        (X3,),
        lambda est: (est.predict(X3), est.transform(X3), est.score(X3)),
        bad=[(Z2_NAN,), (Z2[:1],)],
        # after cluster_centers_ is set (one start: labelled in the last pass)
        interrupted=[((Z2,), (kmeans_module, "_weighted_total"))],
    ),
    "GaussianImputer": Case(
        lambda callback=None, **kw: emkit.GaussianImputer(callback=callback, **kw),
        (X3_MISSING,),
        lambda est: (est.transform(X3_MISSING), est.score_samples(X3), est.score(X3)),
        bad=[(np.where(np.isnan(Z2_NAN), np.inf, Z2),)],
        interrupted=[
            ((Z2_NAN,), "callback"),
            ((Z2_NAN,), (imputer_module, "warn_unless_converged")),
        ],
    ),
    "GenerativeClassifier": Case(
        lambda callback=None, **kw: emkit.GenerativeClassifier(callback=callback, **kw),
        (X3, Y_SEMI),
        lambda est: (est.predict_proba(X3), est.predict(X3), est.score(X3, Y)),
        bad=[(Z2_NAN, Y[:50]), (Z2, np.zeros(50, int))],
        interrupted=[((Z2, Y2_SEMI), "callback")],
    ),
    "MixtureModel": Case(
        lambda callback=None, **kw: emkit.MixtureModel(random_state=0, callback=callback, **kw),
        (X3,),
        _mixture_queries,
        bad=[(Z2_NAN,)],
        interrupted=[
            ((Z2,), "callback"),
            ((Z2,), (mixture_module, "warn_unless_converged")),
        ],
        warm=True,
    ),
    "ZeroInflatedPoisson": Case(
        lambda callback=None, **kw: emkit.ZeroInflatedPoisson(
            random_state=0, callback=callback, **kw
        ),
        (COUNTS,),
        lambda est: (est.predict_proba(COUNTS), est.score(COUNTS), est.stderr_),
        bad=[(np.c_[COUNTS, COUNTS][:, :3] * np.nan,), (np.zeros((50, 3)),), (-COUNTS,)],
        interrupted=[
            ((COUNTS[:, :1],), "callback"),
            # after FamilyMixtureBase.fit, before stderr_
            ((COUNTS[:, :1],), (mixture_module, "warn_unless_converged")),
        ],
        warm=True,
    ),
    "MixtureOfRegressions": Case(
        lambda callback=None, **kw: emkit.MixtureOfRegressions(2, n_init=2, random_state=0, **kw),
        (X3[:, :2], X3[:, 2]),
        lambda est: (est.predict(X3[:, :2]), est.score(X3[:, :2], X3[:, 2]), est.coef_),
        bad=[(Z2_NAN[:, :1], Z2[:, 1]), (Z2, np.ones(50))],
        interrupted=[((Z2[:, :1], Z2[:, 1]), (regression_module, "warn_unless_converged"))],
        warm=True,
    ),
    "BayesianMixture": Case(
        lambda callback=None, **kw: emkit.BayesianMixture(
            2, chains=1, draws=20, tune=10, random_state=0, **kw
        ),
        (X3[:, :1],),
        lambda est: (est.predict_proba(X3[:, :1]), est.score(X3[:, :1])),
        bad=[(Z2_NAN,), (Z2, None, np.full(50, 0.5))],
        interrupted=[
            ((Z2,), (bayesian_module, "sample_gibbs")),  # after fit_type_ is set
            ((Z2,), (bayesian_module, "_relabel")),
        ],
    ),
}


def _assert_same(before: tuple, after: tuple) -> None:
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _failures(case: Case, monkeypatch, warm: bool = False) -> list:
    """(name, fit that fails, exception) for each failing refit of ``case``; ``warm``: the
    interrupted refits continue on the rows fitted (other widths are refused, ValueError)."""
    out: list = [
        (f"bad{i}", lambda est, a=args: est.fit(*a), ValueError) for i, args in enumerate(case.bad)
    ]
    if warm:
        out.append(("other width", lambda est: est.fit(*case.interrupted[0][0]), ValueError))
    for i, (other, how) in enumerate(case.interrupted):
        args = case.fit_args if warm else other
        if how == "callback":

            def fail(est, a=args):
                est.callback.armed = True
                try:
                    return est.fit(*a)
                finally:
                    est.callback.armed = False

        else:

            def fail(est, a=args, at=how):
                with monkeypatch.context() as patch:
                    patch.setattr(*at, _interrupt)  # raising=True: a renamed hook fails here
                    return est.fit(*a)

        out.append((f"interrupted{i}", fail, KeyboardInterrupt))
    return out


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", list(CASES))
def test_failed_refit_keeps_the_fit(name, monkeypatch):
    case = CASES[name]
    for warm in (False, True) if case.warm else (False,):
        kw = {"warm_start": True} if warm else {}
        for what, fail, error in _failures(case, monkeypatch, warm):
            est = case.make(callback=Interrupt(), **kw).fit(*case.fit_args)
            state = dict(vars(est))
            before = case.queries(est)
            with pytest.raises(error):
                fail(est)
            # the very attributes of the fit, no others, and the same answers
            assert vars(est).keys() == state.keys(), (name, warm, what)
            changed = [k for k in state if vars(est)[k] is not state[k]]
            assert not changed, (name, warm, what, changed)
            _assert_same(before, case.queries(est))
            if not warm:  # and it fits again as it did
                _assert_same(before, case.queries(est.fit(*case.fit_args)))


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", list(CASES))
def test_failed_first_fit_leaves_it_unfitted(name, monkeypatch):
    case = CASES[name]
    for what, fail, error in _failures(case, monkeypatch):
        est = case.make(callback=Interrupt())
        params = dict(vars(est))
        with pytest.raises(error):
            fail(est)
        assert vars(est) == params, (name, what)
        with pytest.raises(NotFittedError):
            check_is_fitted(est)
        with pytest.raises(NotFittedError):
            case.queries(est)


@pytest.mark.filterwarnings("ignore")
def test_failed_warm_refit_keeps_the_fit_it_would_continue(monkeypatch):
    """A warm refit interrupted at its end (its new parameters computed), then run whole,
    continues from the first fit: it ends where a warm refit never interrupted ends."""
    plain = emkit.GaussianMixture(2, random_state=0, warm_start=True, max_iter=3, tol=0)
    plain.fit(X3).fit(X3)
    est = emkit.GaussianMixture(2, random_state=0, warm_start=True, max_iter=3, tol=0).fit(X3)
    with monkeypatch.context() as patch:
        patch.setattr(gaussian_module, "warn_unless_converged", _interrupt)
        with pytest.raises(KeyboardInterrupt):
            est.fit(X3)
    est.fit(X3)
    np.testing.assert_array_equal(est.means_, plain.means_)
    np.testing.assert_array_equal(est.history_, plain.history_)


def test_qa_sequence_gaussian_mixture():
    """The sequence of the report: predict on the first rows after a refit refused for NaN."""
    g = emkit.GaussianMixture(2, random_state=0).fit(X3)
    labels = g.predict(X3)
    with pytest.raises(ValueError, match="NaN"):
        g.fit(Z2_NAN)
    assert g.n_features_in_ == 3
    np.testing.assert_array_equal(g.predict(X3), labels)
