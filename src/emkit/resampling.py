"""The bootstrap of a fitted estimator (:func:`bootstrap`), as mclust's ``MclustBootstrap``."""

from __future__ import annotations

import copy
import inspect
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.inputs import as_source
from emkit.backend.sources import IterableChunks
from emkit.checks import check_level
from emkit.estimators._validation import chunk_iterable, rows_from_file
from emkit.estimators.selection import MixtureSelection
from emkit.exceptions import DegenerateFitWarning
from emkit.mle.estimate import flatten, row_labels

KINDS = ("nonparametric", "parametric", "weighted")
# Fitted attributes a bootstrap records by default, where the estimator has them.
DEFAULT_PARAMETERS = (
    "weights_",
    "means_",
    "covariances_",
    "cluster_centers_",
    "coef_",
    "intercept_",
    "sigmas_",
    "zero_inflation_",
    "rate_",
    "priors_",
)
# Attributes whose first axis runs over components, in the order they are matched.
_LOCATIONS = ("means_", "cluster_centers_", "coef_")


class _LeftOut(Exception):
    """A replicate that fitted but cannot be kept: a degenerate fit, or one with another
    number of components than the original."""


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Replicates of a bootstrap and what they say about the fitted parameters.

    Attributes
    ----------
    estimates : dict, each parameter of the original fit.
    replicates : dict, each parameter's replicates stacked on a first axis (n_ok, ...).
    kind : "nonparametric", "parametric" or "weighted".
    n_failed : replicates left out: their fit raised an error, was degenerate (a component
        collapsed, as mclust's singular fits, or a fit fell back to a simpler model and
        warned :class:`~emkit.DegenerateFitWarning`) or lost a component
        (``prune_weight``).
    padding : dict, for a parameter some of whose entries are no parameters (a
        Categorical's ``probs`` at the codes a feature with fewer categories than the widest
        lacks, 0 always), a bool array of its shape, True there; :meth:`summary` leaves
        those entries out.

    Examples
    --------
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(2.0, 1.0, (200, 1))
    >>> gm = emkit.GaussianMixture(1).fit(X)
    >>> boot = emkit.bootstrap(gm, X, n_boot=100, random_state=0)
    >>> boot.n_boot, boot.kind, boot.n_failed
    (100, 'nonparametric', 0)
    >>> # the standard error of a mean is about sd / sqrt(n)
    >>> round(float(boot.standard_errors["means"][0, 0]), 3), round(float(X.std() / 200**0.5), 3)
    (0.063, 0.065)
    >>> low, high = boot.conf_int(0.9)["means"]
    >>> bool(low[0, 0] < gm.means_[0, 0] < high[0, 0])
    True
    >>> boot.summary().loc["means[0,0]", ["estimate", "std_err"]].round(3).tolist()
    [1.926, 0.063]
    """

    estimates: dict[str, np.ndarray]
    replicates: dict[str, np.ndarray]
    kind: str
    n_failed: int = 0
    padding: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_boot(self) -> int:
        """Number of replicates kept."""
        return next(iter(self.replicates.values())).shape[0] if self.replicates else 0

    @property
    def standard_errors(self) -> dict[str, np.ndarray]:
        """Standard deviation of each parameter over the replicates (ddof 1)."""
        return {k: np.std(v, axis=0, ddof=1) for k, v in self.replicates.items()}

    def conf_int(self, level: float = 0.95) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Percentile intervals: the (1 - level)/2 and (1 + level)/2 quantiles of the replicates."""
        check_level(level)
        q = [(1 - level) / 2, (1 + level) / 2]
        return {
            k: tuple(np.quantile(v, q, axis=0))  # type: ignore[misc]
            for k, v in self.replicates.items()
        }

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per scalar entry, labelled as :meth:`emkit.mle.Estimate.summary` labels
        them (``weights[0]``, ``means[0,1]``): the original ``estimate``, the replicates'
        ``mean``, ``std_err`` and percentile ``ci_low``, ``ci_high`` (:meth:`conf_int`)."""
        ci = self.conf_int(level)
        names = list(self.replicates)
        frame = pd.DataFrame(
            {
                "estimate": flatten({k: self.estimates[k] for k in names}),
                "mean": flatten({k: v.mean(axis=0) for k, v in self.replicates.items()}),
                "std_err": flatten(self.standard_errors),
                "ci_low": flatten({k: ci[k][0] for k in names}),
                "ci_high": flatten({k: ci[k][1] for k in names}),
            },
            index=pd.Index(row_labels({k: self.estimates[k] for k in names}), name="parameter"),
        )
        if self.padding:
            padded = [
                np.ravel(self.padding.get(k, np.zeros(np.shape(self.estimates[k]), bool)))
                for k in names
            ]
            frame = frame[~np.concatenate(padded)]
        frame.attrs.update(kind=self.kind, n_boot=self.n_boot, n_failed=self.n_failed, level=level)
        return frame


def bootstrap(
    model,
    X,
    y=None,
    *,
    kind: str = "nonparametric",
    n_boot: int = 999,
    parameters: Sequence[str] | Mapping[str, Callable] | None = None,
    params: Mapping | None = None,
    sample_weight=None,
    random_state=None,
    n_jobs: int | None = None,
) -> BootstrapResult:
    """Bootstrap a fitted estimator: refit it to resampled data, starting from its own fit.

    As R mclust's ``MclustBootstrap``: each replicate is fitted by the estimator's own ``fit``,
    warm-started from the fitted parameters (``warm_start=True`` where the estimator has that
    parameter; otherwise it starts as the original fit did), and its components are matched
    to the original fit's so that label switching cannot inflate the spread: the Hungarian
    assignment that maximises the rows the two fits put in the same component (the sum over
    the original data of the products of their component probabilities), so that components
    with equal means (a scale mixture) or equal slopes (parallel regression lines) are told
    apart by the rows they hold. A classifier's classes are labelled and never matched.
    Replicates whose fit raises an error, is degenerate (``degenerate_``: a collapsed
    component, which mclust reports as a singular fit), warns a
    :class:`~emkit.DegenerateFitWarning` (say a :class:`emkit.MixtureOfRegressions` fallen
    back to one shared variance) where a refit to the data themselves does not, or holds
    another number of components are left out and counted in ``n_failed``.

    Parameters
    ----------
    model : a fitted estimator (e.g. :class:`emkit.GaussianMixture`), or what
        :func:`emkit.select_mixture` returns, whose chosen model (``best_``) is bootstrapped
        (as ``MclustBootstrap`` takes what ``Mclust`` returns).
    X : array-like of shape (n, d), the data it was fitted to; a path to a ``.npy`` or
        Parquet file or folder, a list of chunks or a re-iterable of chunks (an object whose
        ``__iter__`` starts over, as :meth:`emkit.GaussianMixture.fit` reads it) is read into
        memory, its chunks stacked in order.
    y : array-like of shape (n,), the targets of a supervised fit (e.g.
        :class:`emkit.MixtureOfRegressions`), resampled with the rows; None otherwise.
    kind : "nonparametric" (rows drawn with replacement), "parametric" (n rows drawn from the
        fitted model, which needs ``sample``; where X has missing values, each drawn row
        takes the missing entries of a row of X drawn at random, so that the replicates
        hold as little as the data do), or "weighted" (the weighted likelihood
        bootstrap of Newton and Raftery, 1994: each row weighted by n times a flat Dirichlet
        draw, which needs ``fit(X, sample_weight=...)``).
    n_boot : number of replicates.
    parameters : fitted attribute names to record (``"weights_"``, ...; one name may be given
        as a string), or a dict mapping a
        name to a function of the refitted estimator returning an array. Default: those of
        ``weights_``, ``means_``, ``covariances_``, ``cluster_centers_``, ``coef_``,
        ``intercept_`` (unless fitted without intercepts), ``sigmas_``, ``zero_inflation_``,
        ``rate_`` the model has, and a
        mixture's component parameters: stacked over the components under the family's
        names (``"rate"``, (k, d)) where they are all of one family, else named by component
        as ``estimate()`` names them (``"mean_0"``, ``"rate_1"``).
        Outputs whose first axis runs over the components are put in the original order;
        components of different families are never matched to one another.
    params : estimator parameters to set on every replicate (e.g. a looser ``tol``; a
        ``random_state`` here is every replicate's, in place of their own).
    sample_weight : array-like of shape (n,), or None; the weights the model was fitted
        with, frequency weights as the fit reads them (a weight of m stands for m rows):
        each replicate draws round(sum of the weights) rows, with replacement from the rows
        the weights stand for (nonparametric: multinomial counts, proportional to the
        weights) or from the model (parametric); the weighted bootstrap gives the m rows
        of a weight m each a flat Dirichlet share (together the row's Dirichlet(w) share of
        the total weight). So a fit to distinct rows with their counts has the replicates of
        the fit to the rows written out. Nonparametric and weighted replicates refit with
        ``sample_weight``, which the estimator's ``fit`` must take.
    random_state : int, numpy Generator or None; fixes the replicates: the data each draws
        and, where the estimator has a ``random_state`` parameter, its fit's, an integer
        drawn for each replicate (whatever the model's own ``random_state``, unless
        ``params`` sets one), so that two calls with one seed give the same replicates,
        with any ``n_jobs``.
    n_jobs : replicates fitted in parallel by joblib (None: one at a time, -1: every core).

    Returns
    -------
    :class:`BootstrapResult` with ``replicates``, ``standard_errors``, ``conf_int(level)`` and
    ``summary(level)`` (a DataFrame, one row per scalar entry).

    Examples
    --------
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (100, 2))])
    >>> gm = emkit.GaussianMixture(2, covariance_type="spherical", random_state=0).fit(X)
    >>> boot = emkit.bootstrap(gm, X, n_boot=100, random_state=0)
    >>> boot.replicates["means"].shape
    (100, 2, 2)
    >>> boot.standard_errors["weights"].round(2), gm.standard_errors(X)["weights"].round(2)
    (array([0.03, 0.03]), array([0.03, 0.03]))
    """
    if isinstance(model, MixtureSelection):
        model = model.best_
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if y is not None and np.ndim(y) == 0:
        raise ValueError(
            f"y must be an array of the n rows' targets, or None for an unsupervised model; "
            f"got {y!r}. The third argument is y: pass the number of replicates by name, "
            f"bootstrap(model, X, n_boot={y!r})"
        )
    if y is not None and kind == "parametric":
        raise ValueError(
            "the parametric bootstrap draws X from the model and cannot draw y; use "
            "kind='nonparametric' or 'weighted' for a supervised fit"
        )
    if y is None and _needs_targets(model):
        raise ValueError(
            f"{type(model).__name__} is fitted to targets: pass them as "
            "bootstrap(model, X, y, ...), to be resampled with the rows"
        )
    if kind == "parametric" and not callable(getattr(model, "sample", None)):
        raise ValueError(
            f"kind='parametric' draws data from the fitted model, and {type(model).__name__} "
            "has no sample method (it is not a generative model); use kind='nonparametric' "
            "or 'weighted'"
        )
    if kind == "weighted" and not _takes_weights(model):
        raise ValueError(
            f"kind='weighted' refits with sample_weight, which {type(model).__name__}.fit "
            "does not take; use kind='nonparametric'"
        )
    if kind == "nonparametric" and sample_weight is not None and not _takes_weights(model):
        raise ValueError(
            "the nonparametric bootstrap with sample_weight refits with the counts of the "
            f"rows drawn as sample_weight, which {type(model).__name__}.fit does not take; "
            "write the rows out (np.repeat(X, counts, axis=0)) and bootstrap without weights"
            + (", or use kind='parametric'" if callable(getattr(model, "sample", None)) else "")
        )
    if not isinstance(n_boot, Integral) or isinstance(n_boot, bool) or n_boot < 2:
        raise ValueError(f"n_boot must be an integer of at least 2; got {n_boot!r}")
    if n_jobs is not None and (
        not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0
    ):
        raise ValueError(
            f"n_jobs must be None (one at a time), a positive number of workers or -1 (every "
            f"core); got {n_jobs!r}"
        )
    if getattr(model, "degenerate_", False):
        raise ValueError(
            f"the {type(model).__name__} fit is degenerate (degenerate_ is True: a component "
            "collapsed), and so would its replicates be; refit it with fewer components, a "
            "simpler covariance_type or a larger reg_covar before bootstrapping it"
        )
    extract = _extractors(model, parameters)
    positional = _positional_parameters(model) if parameters is None else {}
    families = _component_families(model)
    estimates = {name: np.asarray(f(model), dtype=np.float64) for name, f in extract.items()}
    for name, (j, entry) in positional.items():
        estimates[name] = np.asarray(model.component_params_[j][entry], dtype=np.float64)
    X = _in_memory(X, model)
    x = _rows(X)
    weight = _checked_weights(sample_weight, x.shape[0])
    fitted = getattr(model, "n_features_in_", None)
    if fitted is not None and x.ndim == 2 and x.shape[1] != fitted:
        # else every refit fails on it, and the failures read as a model too complex
        raise ValueError(
            f"X has {x.shape[1]} features, but the model was fitted on {fitted}; bootstrap "
            "the model with the data it was fitted to"
        )
    n = x.shape[0]
    if y is not None and len(y) != n:
        raise ValueError(
            f"y must be an array of the n rows' targets, or None for an unsupervised model; "
            f"got {len(y)} values for {n} rows of X"
        )
    drawn = n if weight is None else int(round(weight.sum()))
    if kind != "weighted" and drawn < 1:
        raise ValueError(
            f"the sample weights add up to under one row ({drawn}) for the {kind} "
            "bootstrap to draw; weights count rows (a weight of m stands for m rows)"
        )
    if kind == "weighted" and weight is not None and not weight.sum() > 0:
        raise ValueError(
            "the sample weights are all 0: no row for the weighted bootstrap to share the "
            "weight among; weights count rows (a weight of m stands for m rows)"
        )
    scale = np.nanstd(np.asarray(x, dtype=np.float64), axis=0) if x.ndim == 2 else None
    key = _match_key(model)
    # A component's own parameters (mean_0: (d,)) are taken from the component matched to
    # it, whatever their first axis (d = k read them as stacked over the components).
    per_component = [n for n in _per_component(model, estimates) if n not in positional]
    original = _memberships(model, X, y, weight)
    missing = _missing(x) if kind == "parametric" else None
    # one seed per replicate, and one for the refit to the data themselves (below)
    *seeds, own_seed = np.random.SeedSequence(_entropy(random_state)).spawn(int(n_boot) + 1)
    settings = dict(params or {})
    # Each fit's own starts are drawn from the replicate's seed, not the model's random_state
    # (None would draw them from the OS, an integer would give every replicate one start).
    reseed = "random_state" in model.get_params() and "random_state" not in settings
    if "warm_start" in model.get_params():
        settings.setdefault("warm_start", True)
    if "callback" in model.get_params():
        settings.setdefault("callback", None)

    def one(seed: np.random.SeedSequence):
        rng = np.random.default_rng(seed)
        fit = copy.deepcopy(model).set_params(**settings)
        weights, target = weight, y
        if kind == "nonparametric":
            if weight is None:
                rows = rng.integers(0, n, n)
            else:
                # Frequency weights (a row of weight m is m rows): draw the rows they stand
                # for, round(sum w) with replacement, as counts of each distinct row.
                counts = rng.multinomial(drawn, weight / weight.sum())
                rows = np.flatnonzero(counts)
                weights = counts[rows].astype(np.float64)
            data = _take(X, rows)
            target = None if y is None else _take(y, rows)
        elif kind == "parametric":
            sampler = copy.deepcopy(model)
            if "random_state" in sampler.get_params():
                sampler.set_params(random_state=int(rng.integers(2**31 - 1)))
            data, weights = sampler.sample(drawn)[0], None
            if missing is not None:
                data = np.where(missing[rng.integers(0, n, drawn)], np.nan, data)
        elif weight is None:
            data, weights = X, n * rng.dirichlet(np.ones(n))
        else:
            # The m copies a weight m stands for each get a flat Dirichlet share: together
            # a Gamma(m) share, so the row's weight is total * Dirichlet(w).
            random = rng.standard_gamma(weight)
            data, weights = X, weight.sum() * random / random.sum()
        if reseed:
            fit.set_params(random_state=int(rng.integers(2**31 - 1)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                args = (data,) if target is None else (data, target)
                fit.fit(*args) if weights is None else fit.fit(*args, sample_weight=weights)
                if getattr(fit, "degenerate_", False):
                    raise _LeftOut("a component collapsed (a degenerate fit)")
                if _n_components(fit) != _n_components(model):
                    raise _LeftOut(f"{_n_components(fit)} components were left")
                replicate = _memberships(fit, X, y, None)  # the weights count once
            except (ValueError, np.linalg.LinAlgError, _LeftOut) as exc:
                return exc
        values = {name: np.asarray(f(fit), dtype=np.float64) for name, f in extract.items()}
        if hasattr(model, "classes_"):
            order = None  # a classifier's classes are labelled
        elif original is not None and replicate is not None:
            order = _overlap_matching(original, replicate, families)
        else:
            order = _matching(model, fit, key, scale, families)
        if order is not None:
            for name in per_component:
                values[name] = values[name][order]
        for name, (j, entry) in positional.items():
            at = j if order is None else int(order[j])
            values[name] = np.asarray(fit.component_params_[at][entry], dtype=np.float64)
        return values, _degenerate_warning(caught)

    if n_jobs is None or n_jobs == 1:
        results = [one(seed) for seed in seeds]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(one)(seed) for seed in seeds)
    if any(not isinstance(r, Exception) and r[1] is not None for r in results):
        # A DegenerateFitWarning (a collapsed component, a fit fallen back to a simpler
        # model) marks a degenerate replicate, unless the fit to the data themselves warns
        # it as well (then it says something of the data, as columns never seen together).
        own = copy.deepcopy(model).set_params(**settings)
        if reseed:
            own.set_params(random_state=int(np.random.default_rng(own_seed).integers(2**31 - 1)))
        if not _warns_degenerate(own, X, y, weight):
            results = [
                _LeftOut(f"the fit warned: {r[1]}")
                if not isinstance(r, Exception) and r[1] is not None
                else r
                for r in results
            ]
    kept = [r[0] for r in results if not isinstance(r, Exception)]
    if len(kept) < 2:
        first = next(r for r in results if isinstance(r, Exception))
        reason = str(first) if isinstance(first, _LeftOut) else f"{type(first).__name__}: {first}"
        # Collapsed or singular replicates point at the model; other errors speak for themselves.
        advice = (
            "; the model may be too complex for the data (fewer components, or a simpler model "
            "of each)"
            if isinstance(first, _LeftOut | np.linalg.LinAlgError)
            else ""
        )
        raise ValueError(
            f"only {len(kept)} of {n_boot} bootstrap fits succeeded{advice}. The first "
            f"failure: {reason}"
        )
    replicates = {name: np.stack([r[name] for r in kept]) for name in estimates}
    padding = _padding(model, estimates, positional)
    return BootstrapResult(estimates, replicates, kind, len(results) - len(kept), padding)


def _degenerate_warning(caught: list[warnings.WarningMessage]) -> str | None:
    """The text of the first DegenerateFitWarning among ``caught``, or None."""
    return next(
        (str(w.message) for w in caught if issubclass(w.category, DegenerateFitWarning)), None
    )


def _warns_degenerate(model, X, y, weight) -> bool:
    """Whether fitting ``model`` (a copy, with its settings) to the data themselves warns a
    DegenerateFitWarning; a fit that fails does not count as one."""
    args = (X,) if y is None else (X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if weight is None or not _takes_weights(model):
                model.fit(*args)
            else:
                model.fit(*args, sample_weight=weight)
        except (ValueError, TypeError, np.linalg.LinAlgError):
            return False
    return _degenerate_warning(caught) is not None


def _checked_weights(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(
            f"sample_weight has shape {weight.shape}; it needs one weight per row of X, ({n},)"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("sample_weight must be finite and non-negative, as the fit's were")
    return weight


def _missing(x: np.ndarray) -> np.ndarray | None:
    """(n, d) where X holds NaN, or None where it holds none (or is not numeric)."""
    if x.dtype.kind != "f":
        return None
    missing = np.isnan(x)
    return missing if missing.any() else None


def _memberships(fitted, X, y, weight) -> np.ndarray | None:
    """(n, k): each row's probability of each component under ``fitted``, times its weight; the
    one-hot clusters of a hard clusterer (``predict`` alone). None for a classifier (its
    classes are labelled) and for an estimator with neither method."""
    if hasattr(fitted, "classes_"):
        return None
    k = _n_components(fitted)
    proba = getattr(fitted, "predict_proba", None)
    if callable(proba):
        z = proba(X, y) if y is not None and _takes(proba, "y") else proba(X)
    elif callable(getattr(fitted, "predict", None)) and k is not None:
        z = np.eye(k)[np.asarray(fitted.predict(X), dtype=int)]
    else:
        return None
    z = np.asarray(z, dtype=np.float64)
    return z if weight is None else z * weight[:, None]


def _overlap_matching(
    original: np.ndarray, replicate: np.ndarray, families: list[str] | None = None
) -> np.ndarray:
    """order[j]: the replicate's component that shares the most rows with the original's j
    (``original`` (n, k) weighted by the rows' weights, ``replicate`` (n, k) not), among
    those of its family (``families``, one name per component, or None: all one)."""
    overlap = original.T @ replicate  # (k, k)
    cost = -overlap
    if families is not None:
        cost = np.where(_same_family(families), cost, np.inf)
    _, order = linear_sum_assignment(cost)
    return order


def _same_family(families: list[str]) -> np.ndarray:
    """(k, k): whether two components are of one family (only those may trade labels)."""
    names = np.asarray(families, dtype=object)
    return names[:, None] == names[None, :]


def _component_families(model) -> list[str] | None:
    """Each component's family where a mixture lists several (components of different
    families are told apart by their families, never matched to one another), else None."""
    specs = getattr(model, "component_params_", None)
    if not isinstance(specs, list):
        return None
    families = [str(spec.get("family")) for spec in specs]
    return families if len(set(families)) > 1 else None


def _positional_parameters(model) -> dict[str, tuple[int, str]]:
    """Each float parameter of a mixture of several families, named by its component as
    ``estimate()`` names them (``mean_0``, ``rate_1``): {name: (component, entry)}."""
    if _component_families(model) is None or hasattr(model, "zero_inflation_"):
        return {}  # a zero-inflated model records its own zero_inflation_ and rate_
    from emkit.distributions.registry import family_from_dict

    d = getattr(model, "n_features_in_", 1)
    return {
        f"{entry}_{j}": (j, entry)
        for j, spec in enumerate(model.component_params_)
        if family_from_dict(spec).n_parameters(d) > 0  # a point mass has none
        for entry, value in spec.items()
        if entry != "family"
        and value is not None
        and not isinstance(value, bool)
        and np.asarray(value).dtype.kind == "f"
    }


def _padding(
    model, estimates: dict[str, np.ndarray], positional: dict[str, tuple[int, str]]
) -> dict[str, np.ndarray]:
    """The entries of component parameters that are no parameters, True in a bool array of
    each one's shape: a Categorical's ``probs`` (d, C) at codes at or above its feature's
    ``n_categories`` (padding to the widest feature, 0 always)."""
    specs = getattr(model, "component_params_", None)
    if not isinstance(specs, list):
        return {}

    def padded(spec: dict) -> np.ndarray | None:
        counts, probs = spec.get("n_categories"), spec.get("probs")
        if counts is None or probs is None:
            return None
        width = np.shape(probs)[-1]
        return np.arange(width) >= np.asarray(counts, dtype=int)[:, None]  # (d, C)

    out = {}
    for name, (j, entry) in positional.items():
        mask = padded(specs[j]) if entry == "probs" else None
        if mask is not None and mask.shape == np.shape(estimates[name]):
            out[name] = mask
    if "probs" in estimates and "probs" not in positional:
        masks = [padded(spec) for spec in specs]
        if all(m is not None for m in masks):
            stacked = np.array(masks)
            if stacked.shape == np.shape(estimates["probs"]) and stacked.any():
                out["probs"] = stacked
    return {name: mask for name, mask in out.items() if mask.any()}


def _needs_targets(model) -> bool:
    """Whether ``model.fit`` has a ``y`` without a default (a supervised fit)."""
    try:
        y = inspect.signature(model.fit).parameters.get("y")
    except (TypeError, ValueError):
        return False
    return y is not None and y.default is inspect.Parameter.empty


def _takes(method, name: str) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def _takes_weights(model) -> bool:
    """Whether ``model.fit`` takes ``sample_weight`` (or any keyword)."""
    try:
        parameters = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return True  # no signature to read: let the refits say
    return "sample_weight" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _entropy(random_state) -> int | None:
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if random_state is None:
        return None
    if not isinstance(random_state, Integral) or isinstance(random_state, bool) or random_state < 0:
        raise ValueError(
            "random_state must be None, a non-negative integer, a numpy Generator or a "
            f"RandomState; got {random_state!r}"
        )
    return int(random_state)


def _extractors(model, parameters) -> dict[str, Callable]:
    if isinstance(parameters, Mapping):
        return dict(parameters)
    if isinstance(parameters, str):
        parameters = [parameters]
    names = (
        [a for a in DEFAULT_PARAMETERS if hasattr(model, a) and not _left_out(model, a)]
        if parameters is None
        else parameters
    )
    missing = [a for a in names if not hasattr(model, a)]
    if missing or not names:
        fitted = [a for a in DEFAULT_PARAMETERS if hasattr(model, a)]
        has = f"it has {fitted}" if fitted else "fit it first"
        raise ValueError(
            f"{type(model).__name__} has no fitted attribute(s) "
            f"{missing or list(DEFAULT_PARAMETERS)} ({has}): name fitted attributes with "
            "parameters=[...] (their names end in '_') or give {name: function}"
        )
    extract = {a.rstrip("_"): (lambda m, a=a: getattr(m, a)) for a in names}
    if parameters is None:
        extract.update(_family_parameters(model))
    return extract


def _left_out(model, name: str) -> bool:
    """Whether a default parameter is no estimate: the intercepts (all 0) of a fit without
    them, which ``estimate()`` leaves out as well."""
    if name != "intercept_":
        return False
    fitted = getattr(model, "_fitted_intercept", getattr(model, "fit_intercept", True))
    return fitted is not None and not fitted


def _family_parameters(model) -> dict[str, Callable]:
    """Each float parameter of a mixture whose components are all of one family, stacked over
    the components: (k, ...) under the family's own name for it."""
    specs = getattr(model, "component_params_", None)
    if not isinstance(specs, list) or len({spec.get("family") for spec in specs}) != 1:
        return {}
    names = [
        name
        for name, value in specs[0].items()
        if name != "family"
        and value is not None
        and not isinstance(value, bool)
        and np.asarray(value).dtype.kind == "f"
    ]
    return {
        name: (lambda m, name=name: np.array([spec[name] for spec in m.component_params_]))
        for name in names
    }


def _per_component(model, estimates: dict[str, np.ndarray]) -> list[str]:
    """Outputs whose first axis runs over the components (a shared covariance does not)."""
    k = _n_components(model)
    if k is None:
        return []
    shared = set()
    if hasattr(model, "zero_inflation_"):  # one rate per feature, not per component
        shared.add("rate")
    if hasattr(model, "covariance_type"):
        from emkit.distributions.gaussian import covariance_structure

        try:
            if not covariance_structure(model.covariance_type).per_component:
                shared.add("covariances")
        except ValueError:
            pass
    return [
        name
        for name, value in estimates.items()
        if value.ndim >= 1 and value.shape[0] == k and name not in shared
    ]


def _n_components(model) -> int | None:
    for attr in ("weights_", "cluster_centers_", "means_"):
        if hasattr(model, attr):
            return int(np.shape(getattr(model, attr))[0])
    return None


def _match_key(model) -> str | None:
    return next((a for a in _LOCATIONS if hasattr(model, a)), None)


def _matching(model, fit, key: str | None, scale, families=None) -> np.ndarray | None:
    """order[j]: the replicate's component matched to the original's component j (among
    those of its family, as :func:`_overlap_matching`)."""
    if key is None:
        return None
    ref = np.asarray(getattr(model, key), dtype=np.float64)
    new = np.asarray(getattr(fit, key), dtype=np.float64)
    if new.shape != ref.shape or ref.shape[0] < 2:
        return None
    ref, new = ref.reshape(ref.shape[0], -1), new.reshape(new.shape[0], -1)
    unit = scale if scale is not None and key != "coef_" and scale.shape[0] == ref.shape[1] else 1
    unit = np.where(np.asarray(unit) > 0, unit, 1.0)
    cost = (((new[:, None, :] - ref[None, :, :]) / unit) ** 2).sum(-1)
    if families is not None:
        cost = np.where(_same_family(families), cost, np.inf)
    _, order = linear_sum_assignment(cost.T)
    return order


def _in_memory(X, model):
    """``X`` itself, or the rows it names or holds in chunks: the rows of a ``.npy`` or Parquet
    file or folder (read as the model's ``predict`` reads them), or the chunks of a list or of
    a re-iterable (an object whose ``__iter__`` starts over, as ``GaussianMixture.fit`` reads
    it) stacked, each read as ``fit`` reads it (masked entries NaN), DataFrames into one
    DataFrame of their columns. Each replicate draws rows at random from all of them, so they
    are read into memory."""
    if isinstance(X, (str, os.PathLike)):
        return rows_from_file(X, getattr(model, "feature_names_in_", None))
    if is_dask_collection(X) or not (isinstance(X, (list, tuple)) or chunk_iterable(X)):
        return X
    if iter(X) is X:  # a generator: read once, here, as a list of its chunks
        X = list(X)
    source = as_source(X)
    if not isinstance(source, IterableChunks):  # a list of rows
        return X
    parts = [x for x, _ in source]
    if not parts:
        raise ValueError("X holds no chunks of rows: pass the data the model was fitted to")
    x = np.concatenate(parts)
    return x if source.columns is None else pd.DataFrame(x, columns=source.columns)


def _rows(X) -> np.ndarray:
    return np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X)


def _take(X, rows):
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    return np.asarray(X)[rows]
