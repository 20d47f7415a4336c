"""``MixtureModel``: EM for a mixture of any list of component families, kinds mixed freely."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from emkit.backend.family_pass import distinct_rows, rows_kept
from emkit.backend.idle_rows import without_idle
from emkit.backend.sources import ArrayChunks
from emkit.checkpoint import Checkpoint
from emkit.distributions.base import DOMAINS
from emkit.distributions.categorical import refuse_category_columns
from emkit.distributions.exponential import Exponential
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.linear_gaussian import LinearGaussian
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.priors import GammaPrior, NormalInverseGamma, prior_from_dict
from emkit.distributions.registry import family_from_dict
from emkit.em import fit_starts
from emkit.estimators._fingerprint import DataFingerprint, check_same_rows, fingerprint
from emkit.estimators._inputs import fit_rows, per_row
from emkit.estimators._mixture_api import (
    MixtureQueries,
    observed_fit,
    sample_count,
    warn_if_pruned,
    warn_if_ridge_outweighs,
    warn_unless_converged,
)
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    check_rows,
    check_weights,
    paired_rows,
    refuse_rows,
    refuse_warm_start,
    warm_features,
    warm_fit,
)
from emkit.estimators.persist import ModelFileMixin, plain_value
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.init import kmeans_plusplus, squared_distances
from emkit.models.component_list import ComponentList
from emkit.models.mixture import Mixture

# Share of each row's starting responsibility spread evenly over all components, so that every
# component starts from every row (a Poisson fitted to only zeros would give log 0 elsewhere).
INIT_SPREAD = 0.2
# Mixed families: the distinct arrangements of clusters over families tried at each start
# (and the permutations scanned to find them) at most.
MAX_ARRANGEMENTS = 24
MAX_PERMUTATIONS = 40320
# The ridge reg_covar > 0 adds to an Exponential's sum of values, as a share of the column's
# mean magnitude: a component holding only zeros then has a rate of about 1e6 / mean per unit
# weight, finite; any other component's rate moves by 1e-6 / (its weight) relative at most.
EXPONENTIAL_RIDGE = 1e-6
# Families whose M-step forms no variance (no square of the values): values all below 1e-150
# are refused for a mixture of these alone too, as the start and the fit's record of its rows
# square them; check_magnitude's message then gives that reason, not the variances.
NO_VARIANCES = frozenset({"exponential", "poisson", "bernoulli", "categorical", "point_mass"})


def _fit_fingerprint(result, data) -> DataFingerprint:
    """The fingerprint of the rows of ``data`` behind a fit's kept run ``result``, read from
    its final E-step's statistics (a row's responsibilities add up to its weight); one pass
    over ``data`` only where a family cannot say what its statistics hold of the rows."""
    parts = getattr(getattr(result.stats, "components", None), "parts", None)
    fitted = None
    if parts is not None:
        families = result.model.components.families
        fitted = DataFingerprint.of_components(families, parts, data.n_features)
    return fitted if fitted is not None else fingerprint(data.map_reduce)


class FamilyMixtureBase(MixtureQueries, ModelFileMixin, DensityMixin, BaseEstimator):
    """Fitting and prediction shared by mixtures of single families (ComponentList)."""

    _fitted_attributes: tuple[str, ...] = (
        "weights_",
        "component_params_",
        "converged_",
        "n_iter_",
        "log_likelihood_",
        "history_",
        "structure_changes_",
        "degenerate_",
        "degenerate_components_",
        "n_features_in_",
    )

    # --- what a subclass says ----------------------------------------------------------
    def _families(self) -> list:
        raise NotImplementedError

    def _priors(self) -> list | None:
        return None

    def _with_ridges(self, families: list, priors: list | None, x: np.ndarray, w) -> list | None:
        """``priors`` with the ridges the estimator adds where the user gave none, set from
        the rows ``x`` (n, d) and weights ``w`` the fit starts from."""
        return priors

    def _mixture_options(self) -> dict:
        return {}

    def _warn_if_ridge_outweighs(self, components: ComponentList, stats) -> None:
        """A ScaleWarning where the fit's ridges set its estimates (``components`` and the
        final E-step's ``stats``); none by default."""

    def _warn_if_empty(self) -> None:
        """A DegenerateFitWarning where the fit holds components of weight 0; none by
        default: ZeroInflatedPoisson says it in its own words (its zero-inflation on the
        boundary)."""

    # --- fitting ------------------------------------------------------------------------
    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y=None, sample_weight=None, checkpoint=None):
        """Fit by EM from ``n_init`` starts; keep the best non-degenerate one.

        Parameters
        ----------
        X : array-like of shape (n, d), finite, each row in the support of some component; or a dask
            Array or DataFrame, fitted on its workers (started from a sample of at most
            100 000 rows drawn there; a Categorical's number of categories, where not given,
            is read from that sample).
        y : ignored.
        sample_weight : array-like of shape (n,), non-negative; a weight of m counts a row m times.
        checkpoint : path of a checkpoint file, or None: the fit's state is saved there every
            few EM steps and a killed fit resumes from it (see ``GaussianMixture.fit``).
        """
        self._validate_params()
        families = [family_from_dict(f) for f in self._families()]
        _check_comparable(families)
        _check_starts(families)
        refuse_category_columns(X, families, type(self).__name__)
        priors = self._priors()
        warm = self.warm_start and hasattr(self, "weights_")
        if warm:
            self._check_warm_start(X, families)
        rng = check_random_state(self.random_state)
        with warm_fit(warm):
            data, x, w = fit_rows(
                self,
                X,
                sample_weight,
                rng=rng,
                min_rows=len(families),
                check=partial(_check_supports, families),
                reset=not warm,
            )
        _check_widths(families, x.shape[1])
        # Families tied by the user to their positions (a prior or starting parameters of
        # theirs): _set_fitted keeps their components in the listed order.
        tied = {
            f.name
            for j, f in enumerate(families)
            if f.fitted or (priors is not None and priors[j] is not None)
        }
        priors = self._with_ridges(families, priors, x, w)
        families = [f.for_data(x) for f in families]
        _check_supports(families, x)
        # Validates the priors against the families before any fitting.
        ComponentList(families, priors)
        if warm:
            starts = [self._warm_mixture(families, priors, x)]
        else:
            starts = [
                self._initial_mixture(x, w, families, priors, rng, start)
                for start in range(self.n_init)
            ]
        kept: contextlib.AbstractContextManager = contextlib.nullcontext()
        # A warm start continues from the fitted model: that model is part of the fit's key.
        checkpoint = Checkpoint.for_fit(checkpoint, self, data, warm=starts if warm else None)
        total_weight = data.total_weight
        if (
            isinstance(data, ArrayChunks)
            and not isinstance(data.x, np.memmap)
            and data.x.dtype == data.dtype
        ):
            distinct = distinct_rows(data.x, data.sample_weight) if data.labels is None else None
            if distinct is not None:
                # Repeated rows (counts): EM on the distinct rows weighted by their totals has
                # the same iterates, at a cost per iteration of the distinct rows.
                data = ArrayChunks(distinct[0], distinct[1], data.chunk_rows, dtype=data.dtype)
            # Rows in memory: their statistics are computed once for the whole fit, and a
            # soft E-step (blocked in the family pass, its memory bounded) reads them whole.
            kept = rows_kept(data.x)
            if all(start.assignment.posterior for start in starts):
                data = dataclasses.replace(data, chunk_rows=max(data.n_rows, 1))
        with kept:
            fit = fit_starts(
                starts,
                data,
                tol=self.tol,
                max_iter=self.max_iter,
                callback=self.callback,
                accelerate=self.accelerate,
                total_weight=total_weight,
                checkpoint=checkpoint,
            )
            fit = observed_fit(fit, data)
        result, degenerate = fit.best, fit.degenerate
        # A component whose prior pins what collapses is not degenerate, whatever its rows.
        components = result.model.components
        pairs = zip(components.families, components.priors, strict=True)
        degenerate = degenerate & ~np.array([_holds_off_collapse(f, p) for f, p in pairs], bool)
        # A component of weight exactly 0 has no row with positive weight in its support (a
        # PointMass whose value no row takes): the MLE of its weight, on the boundary 0. Not
        # degenerate (its likelihood is bounded; a bootstrap keeps such replicates), but the
        # fit says so (_warn_if_empty) and estimate() gives NaN for its weight.
        empty = ~(np.asarray(result.model.weights) > 0)
        collapsed = int((degenerate & ~empty).sum())
        if result.log_likelihood == -np.inf:
            raise ValueError(
                "every start reached a log-likelihood of -inf: some rows have zero probability "
                "under every component; check that the components' supports cover the data"
            )
        if not np.isfinite(result.log_likelihood):
            raise ValueError(
                "every start ended with an unbounded log-likelihood: a component collapsed "
                "onto a single value (a Normal's variance or an Exponential's sum reached 0) "
                "with no ridge; keep reg_covar > 0, give the components priors, or use fewer "
                "components"
            )
        self._set_fitted(result, degenerate, tied)
        # What estimate() checks its rows against, from the final E-step's statistics.
        self._fit_data = _fit_fingerprint(result, data)
        warn_unless_converged(self)
        hard = getattr(self, "assignment", "soft") == "hard"
        warn_if_pruned(self, len(families), hard_empties=hard)
        self._warn_if_empty()
        if collapsed:
            warn_user(
                f"{collapsed} components collapsed onto (nearly) a single value; "
                "use fewer components, more data, or priors on the components",
                DegenerateFitWarning,
            )
        self._warn_if_ridge_outweighs(
            result.model.components, getattr(result.stats, "components", None)
        )
        return self

    @restores_on_error
    @paired_rows("sample_weight")
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most probable component of each row of ``X``."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def _check_warm_start(self, X, families: list) -> None:
        """Refuse to continue a stored fit whose components or features are not those asked
        for (another list of families, or another number of features)."""
        listed = tuple(f.name for f in families)
        # The families listed for the stored fit. A model loaded from a file has no record:
        # its fitted components tell them (a pruned fit: fewer than it started from).
        fitted = getattr(
            self, "_fitted_setting", tuple(spec["family"] for spec in self.component_params_)
        )
        differs = []
        if fitted != listed:
            differs.append(
                f"the components are [{', '.join(listed)}] where the stored fit's are "
                f"[{', '.join(fitted)}]"
            )
        differs += warm_features(self, X)
        if differs:
            refuse_warm_start("; ".join(differs))

    def _warm_mixture(self, families: list, priors: list | None, x: np.ndarray) -> Mixture:
        """The stored fit as the start of a warm fit, each component under its listed prior
        (``priors``, ridges included) and the current options, ``families`` as listed."""
        fitted = self.components_
        _check_supports(fitted, x)
        if priors is not None and len(fitted) < len(families):
            # Pruning dropped components: a component's prior is its family's, where every
            # listed component of that family has the same one.
            by_name: dict[str, Any] = {}
            for family, prior in zip(families, priors, strict=True):
                if family.name in by_name and not _same_prior(by_name[family.name], prior):
                    refuse_warm_start(
                        f"the stored fit dropped components of family {family.name!r}, "
                        "whose listed priors differ, so which prior each kept component "
                        "has is not known"
                    )
                by_name[family.name] = prior
            priors = [by_name[f.name] for f in fitted]
        # Else the stored components are in the listed positions: _canonical_order only
        # reorders components of one family that no prior ties, whose priors are alike.
        return Mixture(
            np.asarray(self.weights_, dtype=np.float64),
            ComponentList(tuple(fitted), priors),
            **self._mixture_options(),
        )

    def _initial_mixture(self, x, w, families, priors, rng, start) -> Mixture:
        k = len(families)
        options = self._mixture_options()
        given = [start == 0 and f.fitted for f in families]
        if all(given):
            return Mixture(np.full(k, 1.0 / k), ComponentList(families, priors), **options)
        mean = np.average(x, axis=0, weights=w)
        scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
        z = (x - mean) / np.where(scale > 0, scale, 1.0)
        labels = squared_distances(z, kmeans_plusplus(z, k, rng, w)).argmin(axis=1)
        support = np.column_stack([f.in_support(x) for f in families])  # (n, k)
        # A family with parameters to fit and no row in its support cannot start; one with
        # none to fit (a point mass) starts, and ends, with weight 0 (the fit warns).
        empty = ~(support if w is None else support & (w[:, None] > 0)).any(axis=0)
        empty &= np.array([not f.fitted for f in families])
        if empty.any():
            j = int(np.flatnonzero(empty)[0])
            raise ValueError(
                f"component {j} ({type(families[j]).__name__}) has no row with positive weight "
                "in its support, so it cannot be fitted; remove it or check the data"
            )
        if len({repr(f.to_dict()) for f in families}) == 1:
            # Families alike: each starts from every row, its own cluster's weighted up.
            resp = (1.0 - INIT_SPREAD) * np.eye(k)[labels] + INIT_SPREAD / k  # (n, k)
            if w is not None:
                resp = resp * w[:, None]
            resp = resp * support
            # Each family's M-step under its prior (the ridge included), as EM's own.
            started = [
                f.from_stats(f.suff_stats(x, resp[:, j]), None if priors is None else priors[j])
                if resp[:, j].sum() > 0
                else f
                for j, f in enumerate(families)
            ]
            weights = resp.sum(axis=0) / resp.sum()
            return Mixture(weights, ComponentList(tuple(started), priors), **options)
        # Families of different kinds: the clusters go to the families in the arrangement
        # whose start has the highest log-likelihood (a Normal handed the exponential bulk
        # would otherwise settle there). Each family starts from its own cluster's rows alone:
        # spread over all rows, a Poisson handed the counts near 2 of data that also holds
        # counts near 1000 would start at a rate near 100, and the wrong arrangement win.
        orders = _arrangements(families)
        fitted: dict[tuple[int, int], tuple[Any, np.ndarray]] = {}
        scored: list[tuple[float, Mixture]] = []
        for order in orders:
            for j, cluster in enumerate(order):
                if (j, cluster) not in fitted:
                    prior = None if priors is None else priors[j]
                    fitted[j, cluster] = self._cluster_start(
                        families[j], prior, x, w, labels == cluster, support[:, j], k, given[j]
                    )
            pairs = [fitted[j, cluster] for j, cluster in enumerate(order)]
            weights = np.array([col.sum() for _, col in pairs])
            model = Mixture(
                weights / weights.sum(),
                ComponentList(tuple(f for f, _ in pairs), priors),
                **options,
            )
            if len(orders) == 1:
                return model
            log_norm = model.log_density(x)
            loglik = float(log_norm.sum() if w is None else w @ without_idle(log_norm, w))
            scored.append((loglik, model))
        return max(scored, key=lambda s: s[0])[1]

    @staticmethod
    def _cluster_start(
        family, prior, x, w, cluster, support, k, given=False
    ) -> tuple[Any, np.ndarray]:
        """``family`` fitted (its M-step under ``prior``) to the rows of ``cluster`` (n,) bool
        within its ``support`` (n,), and its starting responsibilities (n,); ``given``: the
        family as given, with those responsibilities (the spread ones where the cluster has
        no row in its support, so that its starting weight is not 0). Where that start
        rules out a row of its support, or gives one an infinite density (a Poisson of zeros
        only, a Normal of one value with no ridge: EM could not move it), or the cluster has no
        row there, or the start is degenerate (a Normal of one value held up by the ridge,
        whose density there would outscore every fair arrangement), it starts as a family
        alike: ``INIT_SPREAD`` of every row beside its cluster's (its M-step under ``prior``
        then, as EM's own)."""
        held = support if w is None else support & (w > 0)
        hard = (cluster & support).astype(np.float64)
        spread = ((1.0 - INIT_SPREAD) * cluster + INIT_SPREAD / k) * support
        if w is not None:
            hard, spread = hard * w, spread * w
        if given:
            return family, hard if hard.sum() > 0 else spread
        if hard.sum() > 0:
            try:
                start = family.from_stats(family.suff_stats(x, hard), prior)
            except ValueError:
                # a prior's mode the cluster's rows alone do not reach (a gamma shape below
                # 1 on a Poisson of zeros); every row's share may, else the M-step below says
                start = None
            if start is not None:
                with np.errstate(all="ignore"):
                    covered = np.isfinite(start.log_prob(x[held])).all()
                pooled = family.suff_stats(x, support if w is None else support * w)
                stats = family.suff_stats(x, hard)
                if covered and not start.degenerate(stats, prior, pooled):
                    return start, hard
        if spread.sum() == 0:
            return family, spread
        return family.from_stats(family.suff_stats(x, spread), prior), spread

    def _set_fitted(self, result, degenerate, tied: set[str]) -> None:
        model = result.model
        order = _canonical_order(model.components.families, tied)
        self.weights_ = model.weights[order]
        self.component_params_ = [model.components.families[i].to_dict() for i in order]
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.log_likelihood_ = result.log_likelihood
        self.history_ = result.history
        self.structure_changes_ = np.asarray(result.structure_changes, dtype=int)
        self.degenerate_ = bool(degenerate.any())
        self.degenerate_components_ = degenerate[order]
        # the families a warm start must list (_check_warm_start)
        self._fitted_setting = tuple(family_from_dict(f).name for f in self._families())

    @property
    def components_(self) -> list:
        """The fitted families, one per component that survived."""
        check_is_fitted(self)
        return [family_from_dict(spec) for spec in self.component_params_]

    def _mixture(self) -> Mixture:
        return Mixture(self.weights_, ComponentList(tuple(self.components_)))

    # --- using a fit --------------------------------------------------------------------
    def _checked_rows(self, X) -> np.ndarray:
        check_is_fitted(self)
        refuse_category_columns(X, self.components_, type(self).__name__)
        return check_rows(self, X, reset=False)

    @per_row(width=lambda self: self.weights_.shape[0])
    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each component for each row, shape (n, k).

        A row of probability 0 under every fitted component has no posterior: a ValueError
        naming it, as in ``fit`` (``score_samples`` gives such a row log density -inf). That is
        a row outside every component's support, or one the fitted parameters rule out (a
        count above 0 where every Poisson rate is 0, a category of probability 0).
        """
        x = self._checked_rows(X)
        self._refuse_outside_support(x)
        # From the checked rows: checked again as a plain array, they would draw
        # scikit-learn's warning that the fit had feature names.
        log_resp, log_density = self._mixture().log_resp(x)
        self._refuse_impossible(x, log_density > -np.inf)
        return np.exp(log_resp)

    def _labels_of(self, x: np.ndarray) -> np.ndarray:
        """:meth:`predict` of checked rows, refusing those :meth:`predict_proba` refuses."""
        self._refuse_outside_support(x)
        log_joint = self._mixture().log_joint(x)
        labels = log_joint.argmax(axis=1)
        self._refuse_impossible(x, log_joint[np.arange(x.shape[0]), labels] > -np.inf)
        return labels

    def _refuse_outside_support(self, x: np.ndarray) -> None:
        inside = np.column_stack([c.in_support(x) for c in self.components_]).any(axis=1)
        refuse_rows(x, inside, "lie outside the support of every component", self.components_)

    def _refuse_impossible(self, x: np.ndarray, possible: np.ndarray) -> None:
        refuse_rows(
            x,
            possible,
            "have probability 0 under every fitted component",
            self.components_,
            " (score_samples gives them log density -inf)",
        )

    def sample(self, n_samples=1):
        """Draw ``n_samples`` rows; returns (X of shape (n, d), component labels of shape (n,))."""
        check_is_fitted(self)
        n_samples = sample_count(n_samples)
        seed = check_random_state(self.random_state).randint(2**31 - 1)
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n_samples, self.weights_)
        x = self._mixture().components.sample(counts, rng, self.n_features_in_)
        labels = np.repeat(np.arange(self.weights_.shape[0]), counts)
        return x, labels

    # --- model selection ----------------------------------------------------------------
    def n_parameters(self) -> int:
        """Free parameters: (k - 1) weights plus every component's own."""
        check_is_fitted(self)
        k = self.weights_.shape[0]
        return (k - 1) + ComponentList(tuple(self.components_)).n_parameters(self.n_features_in_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        families = [family_from_dict(f) for f in self._families()]
        negative = np.array([[-1.0]])
        tags.input_tags.positive_only = not any(f.in_support(negative)[0] for f in families)
        # Counts only (every family refuses 0.5): scikit-learn's checks then send integers.
        half = np.array([[0.5]])
        tags.input_tags.categorical = not any(f.in_support(half)[0] for f in families)
        return tags

    @classmethod
    def _params_to_file(cls, params: dict) -> dict:
        """The components and priors as their dict forms (``to_dict``)."""
        out = dict(params)
        for name in ("components", "priors"):
            if out.get(name) is not None:
                out[name] = plain_value(list(out[name]))
        return out

    @classmethod
    def _params_from_file(cls, params: dict) -> dict:
        """The components and priors ``save`` wrote as dicts as families and priors again, so
        that a loaded model's ``get_params`` equals the saved one's."""
        out = dict(params)
        if out.get("components") is not None:
            out["components"] = [family_from_dict(spec) for spec in out["components"]]
        if out.get("priors") is not None:
            out["priors"] = [prior_from_dict(spec) for spec in out["priors"]]
        return out


def _check_starts(families) -> None:
    """A ValueError where a component's given parameters are not those of a model: infinite
    (a Gamma's rate of inf, the edge a collapsed M-step may reach) or outside the family's
    ``model_domains`` (a Normal's variance of 0). EM's first E-step scored every row NaN or
    -inf there, and the fit failed inside an M-step ("rate must be positive; got [nan]"),
    blamed a collapse, or kept the component with weight 0."""
    for j, family in enumerate(families):
        kind = type(family).__name__
        domains = getattr(family, "model_domains", {})
        for attr, given in family.to_dict().items():
            if given is None or isinstance(given, (bool, str)):  # unset; a flag; the name
                continue
            value = np.asarray(given, dtype=float)
            if not np.isfinite(value).all():
                why = "not finite"
            elif attr in domains and not DOMAINS[domains[attr]][0](value).all():
                why = f"must be {DOMAINS[domains[attr]][1]} in a model"
            else:
                continue
            raise ValueError(
                f"component {j} ({kind}) starts from {attr} {value.tolist()}, which is {why}: "
                f"give a starting value a fitted model could hold, or leave it unset ({kind}()) "
                "to start from the data"
            )


def _check_widths(families, n_features: int) -> None:
    """A ValueError where a component's given parameters are for another number of columns
    than the data's ``n_features``: a mean of shape (2,) on one column would broadcast over
    it, counting each row twice."""
    for j, family in enumerate(families):
        for attr, width in family.parameter_widths().items():
            if width != n_features:
                features = "feature" if width == 1 else "features"
                columns = "column" if n_features == 1 else "columns"
                raise ValueError(
                    f"component {j} ({type(family).__name__}) has {width} {features} (its "
                    f"{attr}), X has {n_features} {columns}: give parameters of X's width, "
                    f"or leave them unset ({type(family).__name__}()) to start from the data"
                )


def _check_supports(families, x) -> None:
    """Each row must lie in some component's support; a family may still refuse a kind of data.

    A mixture of a Normal and an Exponential holds negative values (the Normal takes them), and
    one of a Poisson and a Gamma holds 0 (the Poisson's) beside 21.8 (the Gamma's): a row
    outside a component's support has log density -inf there, and responsibility 0. Only rows
    in no component's support are refused, the message naming the first and each family's
    reason; a mixture of one family refuses with that family's own message. A family that
    refuses data whose every row lies in its support (a LinearGaussian on one column) refuses
    a kind of data, and that stands. Families whose support does not depend on their
    parameters (``fixed_support``) are checked once per kind, and one that accepts the data
    covers it.
    """
    kinds: dict = {}
    for family in families:
        key = type(family) if getattr(family, "fixed_support", False) else id(family)
        kinds.setdefault(key, family)
    refusals = []
    for family in kinds.values():
        try:
            family.check_support(x)
        except ValueError as exc:
            refusals.append((family, exc))
            continue
        if getattr(family, "fixed_support", False):
            return  # every row lies in this family's support
    inside = {id(family): family.in_support(x) for family in kinds.values()}  # (n,) each
    for family, refusal in refusals:
        if inside[id(family)].all():
            raise refusal
    covered = np.logical_or.reduce(list(inside.values()))
    if covered.all():
        return
    if len(refusals) == len(kinds) and len({type(f) for f in kinds.values()}) == 1:
        raise refusals[0][1]  # one family: its own words
    row = int(np.flatnonzero(~covered)[0])
    reasons = "; ".join(
        dict.fromkeys(
            f"{_family_label(family)}: {_refusal(family, x[row : row + 1])}"
            for family in kinds.values()
        )
    )
    raise ValueError(
        f"row {row} ({x[row].tolist()}) lies outside the support of every component ({reasons}); "
        "add a component that can produce it (e.g. a Normal) or remove the row"
    )


def _family_label(family) -> str:
    """``Poisson``, or ``PointMass(0.0)`` for a family whose support is one of its parameters."""
    if isinstance(family, PointMass):
        return f"PointMass({family.value})"
    return type(family).__name__


def _refusal(family, row: np.ndarray) -> str:
    """Why ``family`` refuses ``row`` (1, d): its own message, or that the row is outside."""
    if isinstance(family, PointMass):  # its check speaks of the data, not of a row
        return f"the row is not {family.value}"
    try:
        family.check_support(row)
    except ValueError as exc:
        return str(exc)
    return "outside its support"


def _check_comparable(families) -> None:
    """A ValueError where a conditional density (``LinearGaussian``, p(y | x)) is mixed with
    joint ones (p(x, y)), or a ``PointMass`` (a probability) with a continuous family (a
    density): EM would weigh the two against each other, and their ratio changes with the
    units of x (p(x, y) = p(y | x) p(x); a density scales with 1 / units), so the fit would
    too."""
    conditional = [isinstance(f, LinearGaussian) for f in families]
    if any(conditional) and not all(conditional):
        joint = sorted(
            {type(f).__name__ for f, c in zip(families, conditional, strict=True) if not c}
        )
        raise ValueError(
            f"LinearGaussian cannot be mixed with {', '.join(joint)}: a LinearGaussian is the "
            "conditional density p(y | x) of the last column given the others, the others are "
            "joint densities p(x, y) of every column, and the two are not comparable (their "
            "ratio depends on the units of x). Use MixtureOfRegressions, or make every "
            "component a LinearGaussian"
        )
    # A family that holds 0.5 has a density on a continuum; a PointMass has a probability.
    half = np.array([[0.5]])
    continuous = sorted(
        {
            type(f).__name__
            for f in families
            if not isinstance(f, PointMass) and f.in_support(half)[0]
        }
    )
    if continuous and any(isinstance(f, PointMass) for f in families):
        raise ValueError(
            f"PointMass cannot be mixed with {', '.join(continuous)}: a PointMass puts a "
            "probability on one value, a continuous family a density, and EM would weigh one "
            "against the other, whose ratio changes with the units of x (the fit would too: "
            "rescaled data moved the exact values from one component to the other). For a "
            "continuous variable with exact zeros (a hurdle model) the maximum likelihood "
            "separates: the zero share is the weight of the zero rows, and the continuous "
            "components are fitted to the other rows alone. Pair PointMass with discrete "
            "families (Poisson, Bernoulli, Categorical)"
        )


def _arrangements(families) -> list[tuple[int, ...]]:
    """Distinct ways to hand k clusters to the families: permutations, one per arrangement of
    the family kinds over the clusters (one in all when every family is alike).

    Beyond ``MAX_ARRANGEMENTS`` distinct arrangements only the listed order is tried.
    """
    k = len(families)
    keys = [repr(f.to_dict()) for f in families]
    if len(set(keys)) == 1 or math.factorial(k) > MAX_PERMUTATIONS:
        return [tuple(range(k))]
    seen: dict[tuple, tuple[int, ...]] = {}
    for order in itertools.permutations(range(k)):
        # Which family kind each cluster gets: permutations agreeing on it start the same.
        kinds = [""] * k
        for j, cluster in enumerate(order):
            kinds[cluster] = keys[j]
        seen.setdefault(tuple(kinds), order)
        if len(seen) > MAX_ARRANGEMENTS:
            return [tuple(range(k))]
    return list(seen.values())


def _canonical_order(families, tied: set[str]) -> np.ndarray:
    """Indices that sort components of the same family by their parameters, in place.

    Components of different families keep the positions they were listed in; among those of
    one family the order is lexicographic in the parameters, so a fit does not depend on which
    start happened to label them first. Families named in ``tied`` keep the listed order: the
    user tied component j to ``priors[j]`` or to its starting parameters, as
    ``GaussianMixture(means_init=...)`` keeps the order of its means.
    """
    order = np.arange(len(families))
    names = [f.name for f in families]
    for name in dict.fromkeys(names):
        if name in tied:
            continue
        slots = [i for i, n in enumerate(names) if n == name]
        keys = [_parameter_key(families[i]) for i in slots]
        order[slots] = [slots[j] for j in sorted(range(len(slots)), key=keys.__getitem__)]
    return order


def _parameter_key(family) -> tuple:
    values = [
        np.ravel(np.asarray(v, dtype=float))
        for k, v in family.to_dict().items()
        if k != "family" and v is not None and not isinstance(v, bool)
    ]
    return tuple(np.concatenate(values).tolist()) if values else ()


def _interior_variance_mode(prior) -> bool:
    # IG(a, b) on a variance has its mode b / (a + 1) in (0, inf) where b > 0 and a > -1; the
    # ridge (a = -1, b = reg_covar / 2) has none: it only stops the variance at 0.
    return bool(np.all(np.asarray(prior.scale) > 0) and prior.shape > -1)


def _interior_rate_mode(prior) -> bool:
    # Gamma(a, b) on a rate has its mode (a - 1) / b in (0, inf) where a > 1 and b > 0; the
    # Exponential's ridge (a = 1) has its mode at 0 and only keeps the rate finite.
    return bool(prior.shape > 1 and np.all(np.asarray(prior.rate) > 0))


def _interior_probs_mode(prior) -> bool:
    values = [getattr(prior, name) for name in ("a", "b", "concentration") if hasattr(prior, name)]
    return bool(all(np.all(np.asarray(v) > 1) for v in values))


# Per family, whether a prior keeps the quantity its degeneracy test watches (a variance, a
# rate, or the estimate of an empty component) off the collapse: it does where the prior's mode
# lies inside the parameter space, so that the posterior mode is a proper value for any rows.
# Gamma is absent: its test watches the shape, which its prior (on the rate) cannot hold.
HOLDS_OFF_COLLAPSE = {
    "normal": _interior_variance_mode,
    "linear_gaussian": _interior_variance_mode,
    "exponential": _interior_rate_mode,
    "poisson": _interior_rate_mode,
    "bernoulli": _interior_probs_mode,
    "categorical": _interior_probs_mode,
}


def _holds_off_collapse(family, prior) -> bool:
    """True where ``prior`` keeps ``family``'s estimate from collapsing (see
    ``HOLDS_OFF_COLLAPSE``); the ridges of ``reg_covar`` never do."""
    test = HOLDS_OFF_COLLAPSE.get(family.name)
    return prior is not None and test is not None and test(prior)


def _same_prior(a, b) -> bool:
    """Whether two priors (or None) hold the same values, field by field."""
    if a is None or b is None:
        return a is b
    if type(a) is not type(b):
        return False
    pairs = zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True)
    return all(np.array_equal(u, v) for u, v in pairs)


def _float_entry(entry: str, value) -> bool:
    """Whether ``to_dict()[entry]`` is a fitted float parameter (not a family name, a flag, a
    count or an unset value)."""
    if entry == "family" or value is None or isinstance(value, bool):
        return False
    return np.asarray(value).dtype.kind == "f"


class MixtureModel(FamilyMixtureBase):
    r"""Finite mixture of any component families, fitted by EM (or MAP, or hard EM).

    .. math:: p(x) = \sum_k \pi_k\, p_k(x \mid \theta_k)

    where each :math:`p_k` is a family of its own kind: ``[Poisson(), PointMass(0)]`` is a
    zero-inflated Poisson, ``[Normal(), Exponential()]`` a normal with an exponential tail,
    ``[Bernoulli()] * 3`` a latent class model. EM climbs the log-likelihood (plus the log prior
    when priors are given; the classification log-likelihood with ``assignment="hard"``), and
    ``history_`` records every value.

    Parameters
    ----------
    components : list of families (or their ``to_dict`` forms), one per component. None: two
        ``Normal`` components. ``LinearGaussian`` (a conditional density) mixes only with
        ``LinearGaussian``. Given parameters must be for X's number of columns (one value
        per column; a ValueError otherwise). A family with all its parameters set
        (``fitted``) is kept as given in the first start; one with only some set starts from
        the data, as an unset one. Where every family is set, the first start is them with
        equal weights. Where only some are, the unset ones start from the data as in any
        start (k-means++ clusters on standardised data, each unset family fitted to its
        cluster's rows), each set family takes a cluster too, whose rows give its starting
        weight, and the clusters go to the components in the arrangement whose start has the
        highest log-likelihood (the listed order beyond 24 arrangements). The other
        ``n_init - 1`` starts are from the data alone.
    priors : list of conjugate priors (or None entries), one per component; None: no priors.
    weight_concentration : float > 0, Dirichlet :math:`\alpha` on the weights (1: flat;
        below 1 removes components whose expected count falls to :math:`1 - \alpha` or below).
    assignment : {"soft", "hard"}, EM or classification EM (which drops the components it
        empties).
    prune_weight : float in [0, 1), drop components whose weight falls below it during EM;
        where every component falls below it at once, only the heaviest is kept. A fit that
        ends with fewer components than listed (``len(weights_)`` of them), by any of these
        three, warns (UserWarning) how many EM removed and why.
    reg_covar : float >= 0, ridge on the variances of ``Normal`` components without a prior:
        the prior :math:`-c/(2v)` per variance, whose MAP is :math:`(S + c)/W` (as
        ``GaussianMixture``'s ``reg_covar``); it keeps a variance from collapsing to 0.
        Above 0 it also adds a ridge to ``Exponential`` components without a prior:
        ``EXPONENTIAL_RIDGE`` (1e-6) times each column's mean magnitude, :math:`c`, added to
        their sums of values (the prior :math:`-c\lambda` per rate, whose MAP is
        :math:`W/(\sum x + c)`), so that a component holding only zeros keeps a finite rate
        where the MLE's is infinite (the fit then warns that it collapsed). 0 leaves both out.
    tol : float, convergence threshold on the gain in objective per sample.
    max_iter : int, EM iterations per start at most.
    n_init : int, number of starts (k-means++ on standardised data, the clusters handed to
        families of different kinds in the arrangement that fits best, then each family's
        M-step); the best non-degenerate objective is kept.
    random_state : int, RandomState or None.
    warm_start : bool, as scikit-learn's ``GaussianMixture``: once fitted, ``fit`` starts from
        the stored fit's parameters (``n_init`` is then ignored), under the current options.
        With ``accelerate=None`` a fit continued for m more iterations takes the steps of one
        fit run for all of them (``history_`` holds the continued fit's). Listing other
        families, or data with another number of features, is refused.
    callback : callable receiving an :class:`emkit.em.EMProgress` after every iteration.
    accelerate : "squarem" (default) or None, as in :class:`emkit.GaussianMixture`: SQUAREM
        extrapolates the EM map where every component has a vector form (all families but
        ``LinearGaussian``) and the assignment is soft; None runs plain EM.

    Attributes
    ----------
    weights_ : array of shape (k,).
    components_ : list of the fitted families, in the listed order; components of one family
        that no prior or starting parameters tie to their positions are sorted by their
        parameters (the same for any start).
    component_params_ : list of dicts, ``components_`` as plain values (each family's
        ``to_dict()``, with its ``"family"`` name), as the model file stores them.
    converged_ : bool.
    n_iter_ : int, accepted steps: M-steps of plain EM, SQUAREM cycles (about three M-steps
        each; ``max_iter`` bounds the M-steps either way).
    log_likelihood_ : float, log-likelihood at the returned parameters.
    history_ : array, the objective before the first and after every accepted step.
    structure_changes_ : array of int, iterations where pruning removed components.
    degenerate_ : bool, True if a component collapsed onto (nearly) a single value.
    degenerate_components_ : bool array of shape (k,).
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (d,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Exponential, MixtureModel, Normal
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(10, 1, 200), rng.exponential(2, 200)])[:, None]
    >>> mm = MixtureModel([Normal(), Exponential()], random_state=0).fit(x)
    >>> mm.weights_.round(3)
    array([0.486, 0.514])
    >>> mm.components_[0].mean.round(2), mm.components_[1].rate.round(2)
    (array([10.04]), array([0.42]))
    >>> mm.predict(np.array([[0.5], [10.0]]))
    array([1, 0])
    >>> mm.component_params_[1]["family"]
    'exponential'
    """

    _parameter_constraints: dict = {
        "components": [list, tuple, None],
        "priors": [list, tuple, None],
        "weight_concentration": [Interval(Real, 0.0, None, closed="neither")],
        "assignment": [StrOptions({"soft", "hard"})],
        "prune_weight": [Interval(Real, 0.0, 1.0, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "callback": [callable, None],
        "accelerate": [StrOptions({"squarem"}), None],
    }

    def __init__(
        self,
        components=None,
        *,
        priors=None,
        weight_concentration=1.0,
        assignment="soft",
        prune_weight=0.0,
        reg_covar=1e-6,
        tol=1e-8,
        max_iter=1000,
        n_init=1,
        random_state=None,
        warm_start=False,
        callback=None,
        accelerate="squarem",
    ):
        self.components = components
        self.priors = priors
        self.weight_concentration = weight_concentration
        self.assignment = assignment
        self.prune_weight = prune_weight
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.callback = callback
        self.accelerate = accelerate

    def _families(self) -> list:
        if self.components is None:
            return [Normal(), Normal()]
        if len(self.components) == 0:
            raise ValueError("components must list at least one family, e.g. [Normal(), Normal()]")
        return list(self.components)

    def _priors(self) -> list | None:
        families = [family_from_dict(f) for f in self._families()]
        priors = [None] * len(families) if self.priors is None else list(self.priors)
        if len(priors) != len(families):
            raise ValueError(
                f"priors must list one prior (or None) per component: got {len(priors)} "
                f"for {len(families)} components"
            )
        return [prior_from_dict(p) for p in priors]

    def _with_ridges(self, families: list, priors: list | None, x: np.ndarray, w) -> list | None:
        """``priors`` with the ridges of ``reg_covar`` in place of None (see the class's
        ``reg_covar``), the Exponential's from the rows ``x`` (n, d) the fit starts from."""
        if self.reg_covar <= 0 or priors is None:
            return priors
        ridges: dict[type, Any] = {Normal: self._normal_ridge()}
        if any(isinstance(f, Exponential) for f in families):
            # On an Exponential's rate, the gamma prior with shape 1 and rate c (per feature):
            # its MAP W / (sum x + c), c a share of the column's mean magnitude.
            weighted = w is not None and float(np.sum(w)) > 0
            scale = np.average(np.abs(x), axis=0, weights=w if weighted else None)
            c = EXPONENTIAL_RIDGE * np.where(scale > 0, scale, 1.0)
            ridges[Exponential] = GammaPrior(1.0, c)
        return [
            ridges.get(type(f)) if p is None else p for f, p in zip(families, priors, strict=True)
        ]

    def _fits_variances(self) -> bool:
        """Whether a component's M-step forms a variance from the values (a Normal's, or a
        family not known to form none: see ``NO_VARIANCES``), for the magnitude check."""
        return not all(family_from_dict(f).name in NO_VARIANCES for f in self._families())

    def _normal_ridge(self) -> NormalInverseGamma:
        """The ridge on a Normal's variance: the inverse-gamma prior with shape -1, scale c/2."""
        return NormalInverseGamma(0.0, 0.0, -1.0, self.reg_covar / 2.0)

    def _warn_if_ridge_outweighs(self, components: ComponentList, stats) -> None:
        """GaussianMixture's ScaleWarning where ``reg_covar`` outweighs the scatter of the rows
        the Normal components under its ridge hold: it adds c / W to a variance S / W, so past
        ``RIDGE_SHARE`` of their total scatter it, not the data, sets the narrow ones."""
        if self.reg_covar <= 0 or stats is None:
            return
        ridge = dataclasses.astuple(self._normal_ridge())
        held = [
            part
            for f, p, part in zip(components.families, components.priors, stats.parts, strict=True)
            # field by field: a user's prior may hold arrays, which == cannot compare
            if isinstance(f, Normal)
            and isinstance(p, NormalInverseGamma)
            and all(
                np.array_equal(a, b) for a, b in zip(dataclasses.astuple(p), ridge, strict=True)
            )
        ]
        if held:
            merged = GaussianStats(
                np.array([part.weight for part in held], dtype=float),  # (m,)
                np.stack([part.mean for part in held]),  # (m, d)
                np.stack([part.scatter for part in held]),  # (m, d)
            )
            warn_if_ridge_outweighs(self.reg_covar, merged)

    def _warn_if_empty(self) -> None:
        """One DegenerateFitWarning naming the components of weight 0: no row with positive
        weight lies in their support, so the MLE of their weight is the boundary 0 (as a
        zero-inflated Poisson's zero-inflation on data with no zeros)."""
        empty = np.flatnonzero(~(np.asarray(self.weights_) > 0))
        if not empty.size:
            return
        families = self.components_
        which = ", ".join(f"{j} ({_family_label(families[j])})" for j in empty)
        values = [
            f"equals {families[j].value:g}" for j in empty if isinstance(families[j], PointMass)
        ]
        rows = f"no row {' or '.join(values)}" if len(values) == empty.size else "none lies in it"
        one = empty.size == 1
        warn_user(
            f"{'component' if one else 'components'} {which} "
            f"{'holds' if one else 'hold'} no row with positive weight in "
            f"{'its' if one else 'their'} support ({rows}): "
            f"{'its weight is' if one else 'their weights are'} fitted at the boundary 0, where "
            "a Wald standard error is not valid (estimate() gives NaN for "
            f"{'it' if one else 'them'}); drop {'that component' if one else 'those components'}"
            ", or compare the fits with and without "
            f"{'it' if one else 'them'} by a likelihood-ratio test",
            DegenerateFitWarning,
        )

    # --- uncertainty of the fitted parameters -------------------------------------------
    @paired_rows("sample_weight")
    def estimate(self, X, sample_weight=None):
        """The fitted weights and component parameters with their asymptotic covariance: the
        inverse of the observed information at the fit by Louis' method
        (:func:`emkit.information.family_louis_estimate`). With ``reg_covar`` or priors the
        fit is a MAP estimate and the information is that of the likelihood at it.

        Parameters
        ----------
        X : array-like of shape (n, d), the data the model was fitted to; other rows are
            refused, as :meth:`GaussianMixture.estimate` says.
        sample_weight : array-like of shape (n,), the fit's weights, or None.

        Returns
        -------
        :class:`emkit.mle.Estimate` with ``weights`` (k,) and the families' parameters: for
        components of one family each parameter stacked over them (``rate`` of shape
        (k, d)), otherwise named by component (``mean_0``, ``rate_1``). A
        :class:`emkit.mle.HessianWarning` and NaN where the information is not positive
        definite; a ValueError for a family without free coordinates (``Categorical``).

        Examples
        --------
        >>> import numpy as np
        >>> from emkit import MixtureModel, Poisson
        >>> rng = np.random.default_rng(0)
        >>> x = np.r_[rng.poisson(2, 300), rng.poisson(9, 200)][:, None]
        >>> mm = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
        >>> mm.estimate(x).stderr["rate"].round(3)
        array([[0.115],
               [0.275]])
        """
        from emkit.information import family_louis_estimate

        check_is_fitted(self)
        if self.assignment != "soft":
            raise ValueError(
                "estimate() needs a soft-assignment fit (assignment='soft'); refit with it, or "
                "use emkit.bootstrap"
            )
        x = self._checked_rows(X)
        w = check_weights(sample_weight, x)
        x64 = np.asarray(x, dtype=np.float64)
        check_same_rows(self, DataFingerprint.of_chunk(x64, w))
        families = self.components_
        kinds = {f.name for f in families}
        names = []
        for j, family in enumerate(families):
            free = family.n_parameters(self.n_features_in_) > 0
            entries = [e for e, v in family.to_dict().items() if free and _float_entry(e, v)]
            names.append({e: e if len(kinds) == 1 else f"{e}_{j}" for e in entries})
        return family_louis_estimate(
            np.asarray(self.weights_, dtype=np.float64),
            families,
            names,
            len(kinds) == 1,
            x64,
            None if w is None else np.asarray(w, dtype=np.float64),
            f"Mixture of {len(families)} components ({', '.join(f.name for f in families)})",
        )

    @paired_rows("sample_weight")
    def standard_errors(self, X, sample_weight=None) -> dict:
        """Standard errors of ``weights`` and the component parameters from the observed
        information (:meth:`estimate`), as a dict of arrays."""
        return self.estimate(X, sample_weight).stderr

    @paired_rows("sample_weight")
    def conf_int(self, X, level: float = 0.95, sample_weight=None) -> dict:
        """Wald intervals of ``weights`` and the component parameters from :meth:`estimate`: a
        dict of (low, high) arrays shaped like its parameters. Weights, probabilities, rates,
        shapes and variances get the interval on the logit or log scale, mapped back, so that
        it stays in their domain (see :meth:`emkit.mle.Estimate.conf_int`); means are plain."""
        return self.estimate(X, sample_weight).conf_int(level)

    def _mixture_options(self) -> dict:
        prune_weight = self.prune_weight
        if self.assignment == "hard":
            # Hard EM empties components; an empty one (weight exactly 0) is dropped.
            prune_weight = max(prune_weight, np.finfo(float).tiny)
        return {
            "assignment": self.assignment,
            "weight_concentration": self.weight_concentration,
            "prune_weight": prune_weight,
        }
