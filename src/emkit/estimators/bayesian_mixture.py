r"""``BayesianMixture``: the posterior of a finite mixture, supervised, unsupervised or both."""

from __future__ import annotations

import dataclasses
from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from emkit.bayes.conditionals import (
    GIBBS_COVARIANCES,
    Conditional,
    GaussianConditional,
    conditional_for,
)
from emkit.bayes.gibbs import Constraints, Trace, sample_gibbs, sample_supervised
from emkit.bayes.priors import SAMPLING_PRIORS, SemiConjugateNormal, UniformSDNormal
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical, refuse_category_columns
from emkit.distributions.gaussian import ALIASES, COVARIANCES, covariance_structure
from emkit.distributions.normal import Normal
from emkit.distributions.poisson import Poisson
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    NormalInverseGamma,
    NormalInverseWishart,
    prior_from_dict,
)
from emkit.distributions.registry import family_from_dict
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    check_rows,
    check_weights,
    paired_rows,
    refuse_rows,
    weighted_total,
)
from emkit.estimators.model_check import SIMPLEX_TOL, check_positive_definite
from emkit.estimators.persist import ModelFileMixin, plain_value
from emkit.exceptions import warn_user
from emkit.models.mixture import UNLABELLED

# Draws per batch when averaging over the posterior (bounds memory to ~ n * batch * K floats).
PREDICT_BATCH = 256
# log_likelihood="auto" puts the pointwise log-likelihood in posterior_ up to this many values
# (chains x draws x observations; 80 MB of float64).
POINTWISE_AUTO_LIMIT = 10_000_000
# The largest total of frequency weights the sampler counts exactly: 2**53, the largest
# whole number below which every float64 integer is exact (its label counts are int64).
MAX_COUNT = float(2**53)
# A chain whose mean log-likelihood is more than this many within-chain standard deviations
# of the log-likelihood, and this many nats, below the best chain's sits in another mode
# (a labelled component stuck on a far cluster): the fit warns, naming it.
STUCK_SPREADS = 10.0
STUCK_NATS = 2.0
# Draws per chain whose log-likelihood that check reads, at most (evenly spaced).
STUCK_DRAWS = 200
# Passes of Stephens' relabelling at most (it stops once no draw's permutation changes).
RELABEL_PASSES = 10
# Classification probabilities Stephens' relabelling keeps for all its passes, at most (draws x
# unlabelled rows x K; 200 MB of float64): 4 chains of 1000 draws of 3 components on 1500 rows
# take 18e6 (144 MB). The draws beyond are classified again on each pass.
RELABEL_KEPT = 25_000_000
# covariance_type names (emkit's and mclust's) whose structure has a Gibbs update.
SAMPLED_COVARIANCES = tuple(
    name for name in (*COVARIANCES, *ALIASES) if ALIASES.get(name, name) in GIBBS_COVARIANCES
)


def _arviz():
    try:
        import arviz
    except ImportError:
        raise ImportError(
            "BayesianMixture.posterior_ is an arviz.InferenceData and needs arviz: "
            "pip install 'emkit[bayes]' (or pip install arviz); the draws themselves are in "
            "samples_ without it"
        ) from None
    return arviz


class BayesianMixture(ModelFileMixin, DensityMixin, BaseEstimator):
    r"""Posterior sampling of a finite mixture by blocked Gibbs on the EM engine's statistics.

    The model is :math:`\pi \sim \mathrm{Dir}(\alpha)`, :math:`\theta_k \sim p_k(\theta)` (each
    component's prior), :math:`z_n \sim \mathrm{Cat}(\pi)`, :math:`x_n \mid z_n \sim
    p(x \mid \theta_{z_n})`. :meth:`fit` draws from :math:`p(\pi, \theta \mid x, z_L)`,
    :math:`z_L` the component labels given as ``fit(X, labels=...)`` (never ``y``, which a
    density estimator ignores as scikit-learn's do, so that ``cross_val_score(model, X, y)``
    and ``GridSearchCV`` fit the unsupervised model; they pass labels on as
    ``params={"labels": labels}``):

    - supervised (every row labelled, conjugate priors, no constraints): independent draws from
      the conjugate posterior, no Markov chain;
    - unsupervised or semi-supervised (labels ``-1`` for unlabelled rows): ``chains`` blocked
      Gibbs chains, vectorised (one E-step for all chains): labels given the parameters from the
      E-step's responsibilities (labelled rows keep theirs), then the parameters given the
      complete-data statistics through the families' conjugate updates
      (:mod:`emkit.bayes.gibbs`, :mod:`emkit.bayes.conditionals`). Non-conjugate priors and
      constraints make the supervised fit a Gibbs chain on the parameters too.

    **Label switching.** The likelihood of a mixture is the same under any permutation of its
    components, so an unsupervised posterior has K! symmetric modes and chains may visit
    several. Either constrain the model (``constraints={"ordered": True}``: the first feature's
    means increase with the component index, a restriction of the prior, as in the PyMC model
    with an ordering potential), or, by default (``relabel=True``), the draws are relabelled
    after sampling by Stephens' (2000) algorithm: each draw's components are permuted (weights
    and parameters together, by ``scipy.optimize.linear_sum_assignment``) so that its
    classification probabilities of the rows, :math:`p_{nk} \propto \pi_k p_k(x_n)`, are
    closest in Kullback-Leibler divergence to a target, first those of the draw of highest
    likelihood (the pivot, near the mode EM finds), then their mean over the permuted draws,
    until no permutation changes (at most 10 passes over the draws, each a ``predict_proba``
    of the fitted rows; all chains to the one target). The components are then numbered by
    their posterior mean location (first feature's mean, Poisson rate, Bernoulli probability,
    first category's probability), which, where that feature separates them, is sorting each
    draw by it. Matching classifications, not one feature, relabels components that differ
    only in other features. ``relabel=False`` keeps the draws as sampled: one chain that
    stays in one mode is then consistent, but pooled chains may mix modes. Relabelling is
    sound only where the prior is symmetric in the components (one ``weight_prior`` value and
    one prior for all): otherwise component k would lose its own prior, so the draws are left
    as sampled, with a warning. Labelled rows identify the components they name: a
    semi-supervised fit is relabelled among the components with no labelled row only (those
    with one keep their draws), and a supervised one is not relabelled.

    **Model files.** ``save(path)`` writes the fitted posterior as JSON (no pickle) and
    :func:`emkit.load` reads it back: the draws, and the rows, labels and weights it was
    fitted on (the posterior's ``observed_data``, from which ``log_likelihood_`` and the
    pointwise log-likelihood are computed), so that the loaded model's predictions, scores,
    ``log_likelihood_`` and ``posterior_`` are the saved one's bit for bit. A file takes about
    22 bytes per number (4 chains of 1000 draws of 5 full 10 x 10 covariances: 55 MB); one
    above the 1 GiB ``load`` reads by default is written with a warning, and read with
    ``emkit.load(path, max_bytes=...)``.

    Parameters
    ----------
    components : int or list of families, default=2
        K Normal components (independent features) for an int, or the families (all of one
        kind: ``Normal``, ``Poisson``, ``Bernoulli``, ``Categorical``). With
        ``covariance_type``, an int: K multivariate normals.
    priors : prior or list of K priors, default=None
        Each component's prior: for ``Normal``, a
        :class:`~emkit.distributions.priors.NormalInverseGamma`,
        :class:`~emkit.bayes.priors.SemiConjugateNormal` or
        :class:`~emkit.bayes.priors.UniformSDNormal`; ``GammaPrior`` (Poisson), ``BetaPrior``
        (Bernoulli), ``DirichletPrior`` (Categorical); one
        :class:`~emkit.distributions.priors.NormalInverseWishart` for multivariate normals.
        None takes weakly informative priors from the data: mclust's
        (:meth:`NormalInverseWishart.mclust
        <emkit.distributions.priors.NormalInverseWishart.mclust>`: centred on the data mean,
        shrinkage 0.01, d + 2 degrees of freedom, scale the data covariance, divisor n - 1,
        over :math:`K^{2/d}`), Gamma(1, 1/mean), Beta(1, 1), Dirichlet(1). Normal components
        (independent features) and ``"diag"`` take the same prior, its diagonal: per feature
        :math:`\mathrm{NIG}(\bar x_j, 0.01, (d + 2)/2, s_j^2 / (2K^{2/d}))`, mclust's own in
        one dimension (dof 3, :math:`s^2/K^2`); for more, mclust's VVI and VII pool one
        variance over the features, which mixes unlike scales, and here each feature keeps
        its own (``"spherical"`` reads the trace).
    covariance_type : {"full", "tied", "diag", "spherical"}, default=None
        Multivariate normal components of this structure, also by mclust's names "VVV",
        "EEE", "VVI", "VII" (and "V" for one feature); None: the families of ``components``.
        mclust's other ten structures (EII, EEI, VEI, ...) have no conjugate Gibbs update here
        and are refused: :class:`~emkit.GaussianMixture` fits them by EM.
    weight_prior : float or array of shape (K,), default=1.0
        Dirichlet concentration :math:`\alpha > 0` of the weights (1: uniform on the simplex).
    constraints : dict, default=None
        ``{"ordered": bool, "min_weight": float}``: increasing first-feature means (Normal
        components), and every weight at least ``min_weight`` (< 1/K).
    relabel : bool, default=True
        Relabel the draws' components with no labelled row by Stephens' algorithm (see label
        switching above), where the prior is the same for those components; with priors or a
        ``weight_prior`` that differ between them the draws are left as sampled and a
        ``UserWarning`` says why. False: the draws as sampled.
    chains, draws, tune : int, default=4, 1000, 500
        Chains, kept draws per chain, and discarded sweeps per chain before them.
    overrelaxation : float in (-1, 0], default=-0.7
        Normal means drawn given the variances (semi-conjugate and uniform-sd priors, ordered
        means) move by Adler's overrelaxation with this :math:`\alpha`
        (:func:`~emkit.bayes.conditionals.overrelaxed_normal`): exact like the Gibbs draw
        (0), and on mixtures, where means and labels lag each other, their draws correlate
        less (on Old Faithful about 1.7 times the effective samples of the means, with no
        fewer for the sds and weights). Closer to -1 suppresses the means' autocorrelation
        more but correlates their spread (squared deviations) when the labels are nearly
        certain. Components that overlap much (a posterior with several near-equal modes)
        mix badly either way, and there overrelaxation can lower the effective sample size:
        compare with 0.
    random_state : int, RandomState instance or None, default=None
    log_likelihood : {"auto", True, False}, default="auto"
        Whether ``posterior_`` holds ArviZ's ``log_likelihood`` group, the pointwise
        log-likelihood that ``az.loo`` and ``az.waic`` read (PyMC's
        ``idata_kwargs={"log_likelihood": True}``). It is chains x draws x rows floats, so
        "auto" includes it where that is at most 10 million values (80 MB).

    Attributes
    ----------
    samples_ : dict of arrays
        Draws: ``weights`` (chains, draws, K) and each parameter (chains, draws, K, ...):
        ``mean`` and ``variance`` (and ``sd``) of Normal components (features last), ``rate``,
        ``probs`` (K, d, C: C the most categories of a feature, the codes a feature does not
        take at probability 0); ``mean`` and ``covariance`` of multivariate normals (a tied
        covariance has no K axis).
    log_likelihood_ : array of shape (chains, draws)
        Log-likelihood of each draw (labelled rows at their label).
    posterior_ : arviz.InferenceData
        ``posterior`` (the draws), ``sample_stats`` (``loglik``: ``log_likelihood_``),
        ``observed_data`` (``x``, and ``labels`` when given) and, as ``log_likelihood`` says,
        ``log_likelihood``: ``x`` (chain, draw, row), each row's log-likelihood under each
        draw, :math:`\log \sum_k \pi_k p_k(x_n)` (:math:`\log \pi_{z_n} p_{z_n}(x_n)` for a
        labelled row), summing to ``log_likelihood_``; with ``sample_weight`` its last dim is
        ``observation``, a row of weight m repeated m times, so that ``az.loo`` and
        ``az.waic`` score the rows the weights stand for. Dims: ``component``
        (0, ..., K - 1), ``feature`` (``feature_names_in_``, else x0, x1, ... as
        scikit-learn names columns), ``feature_bis`` (a covariance's columns), ``category``
        (codes 0, ..., C - 1) and ``row``; ``x`` is (row, feature). Categorical features
        with fewer categories than the widest are padded to its C: ``probs`` of the codes a
        feature does not take are NaN here (arviz's summaries report NaN for them, without
        dividing by their zero spread) and 0 in ``samples_``.
    weights_ : array of shape (K,)
        Posterior mean of the weights.
    fit_type_ : {"supervised", "unsupervised", "semi-supervised"}
    exact_ : bool
        True where the draws are independent (supervised, conjugate, unconstrained).
    n_features_in_ : int
    feature_names_in_ : array of str of shape (d,)
        The column names of ``X``; only where ``X`` was a DataFrame with string column names.

    References
    ----------
    Stephens, M. (2000). Dealing with label switching in mixture models. *Journal of the Royal
    Statistical Society B* 62(4), 795-809.

    Examples
    --------
    The issue's model on Old Faithful's waiting times: normal means, uniform standard
    deviations, ordered means and no weight below 0.1.

    >>> from importlib import resources
    >>> import pandas as pd
    >>> from emkit import BayesianMixture, Normal, UniformSDNormal
    >>> table = pd.read_csv(resources.files("emkit").joinpath("data/faithful.csv"))
    >>> waiting = table[["waiting"]].to_numpy()
    >>> priors = [UniformSDNormal(55, 10, 25), UniformSDNormal(80, 10, 25)]
    >>> model = BayesianMixture(
    ...     [Normal(), Normal()], priors=priors,
    ...     constraints={"ordered": True, "min_weight": 0.1},
    ...     chains=2, draws=300, tune=100, random_state=0,
    ... ).fit(waiting)
    >>> model.fit_type_, model.samples_["mean"].shape  # (chains, draws, K, features)
    ('unsupervised', (2, 300, 2, 1))
    >>> model.samples_["mean"].mean(axis=(0, 1))[:, 0].round(0)
    array([55., 80.])
    >>> model.weights_.round(2)
    array([0.36, 0.64])
    >>> model.predict_proba([[60.0]]).round(2)
    array([[0.99, 0.01]])
    """

    # The fit's rows, labels and weights (_observed) are part of the model as the posterior
    # holds them: its observed_data, log_likelihood_ and the pointwise log-likelihood.
    _fitted_attributes = (
        "samples_",
        "weights_",
        "fit_type_",
        "exact_",
        "n_features_in_",
        "_observed",
    )
    _log_likelihood: np.ndarray | None  # log_likelihood_, once computed
    _observed: Any  # the fitted rows (n, d), labels (n,) or None, weights (n,) or None

    _parameter_constraints: dict = {
        "components": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "priors": [None, list, tuple, object],
        "covariance_type": [None, StrOptions(set(SAMPLED_COVARIANCES))],
        "weight_prior": [Interval(Real, 0, None, closed="neither"), np.ndarray, list],
        "constraints": [None, dict],
        "relabel": ["boolean"],
        "chains": [Interval(Integral, 1, None, closed="left")],
        "draws": [Interval(Integral, 1, None, closed="left")],
        "tune": [Interval(Integral, 0, None, closed="left")],
        "overrelaxation": [Interval(Real, -1, 0, closed="right")],
        "random_state": ["random_state"],
        "log_likelihood": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        components=2,
        *,
        priors=None,
        covariance_type=None,
        weight_prior=1.0,
        constraints=None,
        relabel=True,
        chains=4,
        draws=1000,
        tune=500,
        overrelaxation=-0.7,
        random_state=None,
        log_likelihood="auto",
    ):
        self.components = components
        self.priors = priors
        self.covariance_type = covariance_type
        self.weight_prior = weight_prior
        self.constraints = constraints
        self.relabel = relabel
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.overrelaxation = overrelaxation
        self.random_state = random_state
        self.log_likelihood = log_likelihood

    # --- model files ----------------------------------------------------------------------
    @classmethod
    def _params_to_file(cls, params: dict) -> dict:
        """Families and priors as their dict forms (``to_dict``)."""
        return {**params, **{k: plain_value(params[k]) for k in ("components", "priors")}}

    @classmethod
    def _params_from_file(cls, params: dict) -> dict:
        """The families and priors ``save`` wrote as dicts as families and priors again."""
        out = dict(params)
        if isinstance(out.get("components"), list):
            out["components"] = [family_from_dict(spec) for spec in out["components"]]
        priors = out.get("priors")
        if isinstance(priors, list):
            out["priors"] = [prior_from_dict(spec, SAMPLING_PRIORS) for spec in priors]
        elif priors is not None:
            out["priors"] = prior_from_dict(priors, SAMPLING_PRIORS)
        return out

    def _restore_fitted(self) -> None:
        """After :func:`emkit.load`: the fitted rows checked, the components' conditional built
        from them as ``fit`` built it (default priors read the data), and the draws checked
        against it (names, shapes, domains)."""
        try:
            k = self._n_components()
        except ValueError as exc:
            raise ValueError(f"params.components: {exc}") from None
        x, labels, w = _observed_from_file(self._observed, self.n_features_in_, k)
        if self.weights_.shape != (k,):
            raise ValueError(f"weights_: {self.weights_.shape[0]} components where K is {k}")
        kind = (
            "unsupervised"
            if labels is None
            else "supervised"
            if np.all(labels != UNLABELLED)
            else "semi-supervised"
        )
        if self.fit_type_ != kind:
            raise ValueError(f"fit_type_: {self.fit_type_!r} where the fitted labels make {kind!r}")
        if not isinstance(self.exact_, bool):
            raise ValueError("exact_: must be true or false")
        try:
            conditional = self._conditional(x, k, w)
        except ValueError as exc:
            raise ValueError(f"params.priors: the model does not fit its rows ({exc})") from None
        _check_samples(self.samples_, conditional, (self.chains, self.draws), k, x.shape[1])
        if not np.array_equal(self.weights_, self.samples_["weights"].mean(axis=(0, 1))):
            raise ValueError("weights_: not the mean of the weights' draws (samples_)")
        self._conditional_ = conditional
        self._observed = (x, labels, w)
        self._idata = None
        self._log_likelihood = None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.covariance_type is None and isinstance(self.components, list | tuple):
            # As MixtureModel's: families that refuse -1 take positive data only, and those
            # that refuse 0.5 counts or codes (scikit-learn's checks then send integers).
            families = [family_from_dict(f) for f in self.components]
            negative, half = np.array([[-1.0]]), np.array([[0.5]])
            tags.input_tags.positive_only = not any(f.in_support(negative)[0] for f in families)
            tags.input_tags.categorical = not any(f.in_support(half)[0] for f in families)
        return tags

    # --- fitting ------------------------------------------------------------------------
    @restores_on_error
    @paired_rows("sample_weight", "labels")
    def fit(self, X, y=None, sample_weight=None, *, labels=None):
        """Sample the posterior.

        Parameters
        ----------
        X : array-like of shape (n, d).
        y : ignored, as by scikit-learn's density estimators (``GaussianMixture``): a
            meta-estimator's ``y`` (``cross_val_score(model, X, y)``, ``GridSearchCV``) never
            labels the components. Labels go in ``labels``.
        sample_weight : array-like of shape (n,) of whole numbers >= 0, default=None
            Frequency weights: a row of weight m is m equal rows (the labels of its m copies
            are one multinomial draw), 0 leaves it out.
        labels : array-like of shape (n,) of component indices 0, ..., K - 1, with -1 for an
            unlabelled row (scikit-learn's semi-supervised convention); None: no row
            labelled. Every row labelled: a supervised fit; some: semi-supervised. In
            ``cross_val_score`` or ``GridSearchCV`` pass ``params={"labels": labels}``
            (split with the rows).
        """
        self._check_covariance_type()
        self._validate_params()
        k = self._n_components()
        self._refuse_category_columns(X)
        # C order: a model file's rows are, and the default priors' moments depend on it
        x = np.ascontiguousarray(check_rows(self, X, reset=True, min_rows=1))
        w = check_weights(sample_weight, x)
        if w is not None and not np.all(w == np.round(w)):
            raise ValueError(
                "sample_weight must hold whole numbers for posterior sampling: a weight of m "
                "counts a row m times (frequency weights); a fractional weight has no such "
                "reading. Round them, or repeat rows"
            )
        if w is not None and not w.sum() <= MAX_COUNT:
            raise ValueError(
                f"sample_weight must count rows exactly for posterior sampling: its weights sum "
                f"to {w.sum():.6g} (largest {w.max():.6g}), above 2**53 = {MAX_COUNT:.0f}, the "
                "largest whole number a float64 holds exactly (and beyond which the sampler's "
                "label counts overflow). Rescale the weights (a weight of m counts a row m "
                "times), or fit fewer rows"
            )
        labels = self._labels(labels, x.shape[0], k)
        constraints = self._constraints(k)
        alpha = np.asarray(self.weight_prior, dtype=float)
        if alpha.shape not in ((), (k,)) or np.any(alpha <= 0) or not np.all(np.isfinite(alpha)):
            raise ValueError(
                f"weight_prior must be a positive float or {k} positive numbers (one per "
                f"component); got {self.weight_prior!r}"
            )
        alpha = np.broadcast_to(alpha, (k,)).copy()
        conditional = self._conditional(x, k, w)
        _refuse_improper(conditional, labels, w, k)
        if constraints.ordered and not conditional.orderable:
            raise ValueError(
                'constraints={"ordered": True} orders the means of Normal components '
                "(independent features); multivariate normal components (covariance_type) and "
                "other families take relabel=True (the default) against label switching"
            )
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))
        if labels is None or np.all(labels == UNLABELLED):
            self.fit_type_, labels = "unsupervised", None
        elif np.all(labels != UNLABELLED):
            self.fit_type_ = "supervised"
        else:
            self.fit_type_ = "semi-supervised"
        unconstrained = not constraints.ordered and constraints.min_weight == 0
        self.exact_ = self.fit_type_ == "supervised" and conditional.exact and unconstrained
        if self.exact_:
            assert labels is not None
            trace = sample_supervised(
                conditional, x, labels, alpha, self.chains, self.draws, rng, counts=w
            )
        else:
            trace = sample_gibbs(
                conditional,
                x,
                labels,
                alpha,
                constraints,
                self.chains,
                self.draws,
                self.tune,
                rng,
                resample_labels=self.fit_type_ != "supervised",
                counts=w,
            )
        _check_finite(trace)
        free = _unlabelled_components(labels, k)
        if self.relabel and free.size > 1 and not constraints.ordered:
            unlike = _unlike_priors(self.priors, alpha, free)
            if unlike is None:
                trace = _relabel(conditional, trace, x, labels, w)
            else:
                warn_user(
                    f"relabel=True left the draws as sampled: {unlike}, so the prior is not "
                    "symmetric in the components and relabelling the draws would give "
                    "component k another component's prior. Give every component the same "
                    "prior (and one weight_prior), constrain the order "
                    "(constraints={'ordered': True}), or pass relabel=False to silence this",
                    UserWarning,
                )
        self._conditional_ = conditional
        self._set_samples(trace, x, labels, w)
        if not self.exact_ and self.chains > 1:
            _warn_stuck_chains(_chain_log_likelihoods(conditional, trace, x, labels, w))
        return self

    def _check_covariance_type(self) -> None:
        """A Gaussian structure with no Gibbs update is refused, saying what fits it (other
        values are left to the parameter validation)."""
        name = self.covariance_type
        known = isinstance(name, str) and (name in COVARIANCES or name in ALIASES)
        if not known or name in SAMPLED_COVARIANCES:
            return
        sampled = ", ".join(
            f"{key!r} ({', '.join(a for a, to in ALIASES.items() if to == key)})"
            for key in GIBBS_COVARIANCES
        )
        raise ValueError(
            f"covariance_type {name!r} has no Gibbs update in BayesianMixture, which samples "
            f"{sampled} (mclust's names in brackets); {name!r} shares only part of the "
            "covariance (volume, shape or orientation) between components. "
            f"GaussianMixture(covariance_type={name!r}) fits it by EM (maximum likelihood, or "
            "MAP with covariance_prior='mclust')"
        )

    def _refuse_category_columns(self, X) -> None:
        """Categorical components refuse a pandas category column whose categories are not
        its codes (:func:`~emkit.distributions.categorical.refuse_category_columns`)."""
        if self.covariance_type is None and isinstance(self.components, list | tuple):
            families = [family_from_dict(f) for f in self.components]
            refuse_category_columns(X, families, type(self).__name__)

    def _n_components(self) -> int:
        if isinstance(self.components, Integral):
            return int(self.components)
        if self.covariance_type is not None:
            raise ValueError("with covariance_type, components is the number of components")
        if len(self.components) < 1:
            raise ValueError("components must name at least one family")
        return len(self.components)

    def _labels(self, given, n: int, k: int) -> np.ndarray | None:
        """``fit``'s ``labels`` as component indices (n,), UNLABELLED where -1; None for none."""
        if given is None:
            return None
        labels = np.asarray(given)
        if labels.shape != (n,):
            raise ValueError(
                f"labels must have one label per row of X ({n}); got shape {labels.shape}"
            )
        if labels.dtype.kind not in "biuf":
            raise ValueError(
                f"Unknown label type {labels.dtype}: labels must hold integer component indices "
                "(or -1 for unlabelled rows); encode class names first (sklearn LabelEncoder)"
            )
        if not np.all(np.isfinite(labels.astype(float))) or np.any(labels != np.round(labels)):
            raise ValueError(
                "labels must hold integer component indices (or -1 for unlabelled rows)"
            )
        labels = labels.astype(np.intp)
        bad = (labels < UNLABELLED) | (labels >= k)
        if bad.any():
            raise ValueError(
                f"labels must hold component indices 0, ..., {k - 1} or -1 (unlabelled); got "
                f"{labels[bad][0]}. Encode class names first (sklearn LabelEncoder)."
            )
        return labels

    def _constraints(self, k: int) -> Constraints:
        spec = dict(self.constraints or {})
        unknown = set(spec) - {"ordered", "min_weight"}
        if unknown:
            raise ValueError(
                f"constraints takes the keys 'ordered' and 'min_weight'; got {sorted(unknown)}"
            )
        min_weight = float(spec.get("min_weight", 0.0))
        if not 0 <= min_weight < 1.0 / k:
            raise ValueError(
                f"min_weight must lie in [0, 1/K) = [0, {1.0 / k:.3g}); got {min_weight}"
            )
        return Constraints(bool(spec.get("ordered", False)), min_weight)

    def _conditional(self, x: np.ndarray, k: int, w: np.ndarray | None) -> Conditional:
        d = x.shape[1]
        if self.covariance_type is not None:
            structure = covariance_structure(self.covariance_type, d)
            prior = self.priors
            if isinstance(prior, list | tuple):
                raise ValueError("multivariate normal components take one NormalInverseWishart")
            if prior is None:
                # The data covariance over K^(2/d) for every structure (diag reads its diagonal),
                # not mclust's one variance for diag and spherical, which pools unlike scales.
                prior = NormalInverseWishart.mclust(x, k, sample_weight=w)
                _check_scale(prior.scale, structure, from_data=True)
            if not isinstance(prior, NormalInverseWishart) or prior.n_features != d:
                raise ValueError(
                    f"priors must be a NormalInverseWishart of {d} features for multivariate "
                    f"normal components; got {prior!r}"
                )
            _check_scale(prior.scale, structure, from_data=False)
            return GaussianConditional(prior, structure.name)
        families = (
            [Normal()] * k
            if isinstance(self.components, Integral)
            else [family_from_dict(f) for f in self.components]
        )
        kinds = {type(f) for f in families}
        if len(kinds) != 1:
            raise ValueError("every component must be of one family for posterior sampling")
        family = families[0].for_data(x)
        family.check_support(x)
        priors = self.priors
        if priors is None:
            priors = [_default_prior(family, x, k, w)] * k
        elif not isinstance(priors, list | tuple):
            priors = [priors] * k
        if len(priors) != k:
            raise ValueError(f"priors must list one prior per component ({k}); got {len(priors)}")
        return conditional_for(family, list(priors), d, self.overrelaxation)

    def _set_samples(self, trace: Trace, x: np.ndarray, y, w) -> None:
        # In C order, as a model file reads arrays back: a sum over an axis (weights_)
        # depends on the layout, and then is the same after load.
        samples = {"weights": trace.weights, **trace.params}
        samples = {name: np.ascontiguousarray(value) for name, value in samples.items()}
        if "variance" in samples:
            samples["sd"] = np.sqrt(samples["variance"])
        self.samples_ = samples
        self.weights_ = samples["weights"].mean(axis=(0, 1))
        self._observed = (x, y, w)
        self._idata = None
        self._log_likelihood = None

    @property
    def log_likelihood_(self) -> np.ndarray:
        r"""Log-likelihood of each draw, shape (chains, draws): :math:`\log p(x_n)` summed over
        unlabelled rows, :math:`\log \pi_{z_n} p_{z_n}(x_n)` over labelled ones. Computed from
        the draws when first asked for (a pass over the data per draw, which the sampler itself
        does not need)."""
        check_is_fitted(self, "samples_")
        if self._log_likelihood is None:
            w = self._observed[2]
            parts = [p.sum(axis=0) if w is None else w @ p for p in self._pointwise()]
            shape = self.samples_["weights"].shape[:2]
            self._log_likelihood = np.concatenate(parts).reshape(shape)
        return self._log_likelihood

    def _pointwise(self):
        """Each fitted row's log-likelihood under each draw, in batches of draws: (n, b)
        each, labelled rows at their label."""
        x, y, _ = self._observed
        labels = np.full(x.shape[0], UNLABELLED) if y is None else y
        labelled = labels != UNLABELLED
        for log_joint in self._log_joints(x):  # (n, b, K); the rows fit() checked
            per_row = logsumexp(log_joint, axis=2)  # (n, b)
            if labelled.any():
                at = labels[labelled, None, None]
                per_row[labelled] = np.take_along_axis(log_joint[labelled], at, 2)[..., 0]
            yield per_row

    def _with_pointwise(self) -> bool:
        """Whether ``posterior_`` holds the ``log_likelihood`` group (see ``log_likelihood``)."""
        if self.log_likelihood != "auto":
            return bool(self.log_likelihood)
        x, _, w = self._observed
        observations = x.shape[0] if w is None else int(w.sum())
        return self.samples_["weights"][..., 0].size * observations <= POINTWISE_AUTO_LIMIT

    # --- the posterior as arviz sees it ---------------------------------------------------
    @property
    def posterior_(self):
        """The draws as an ``arviz.InferenceData`` (needs arviz)."""
        check_is_fitted(self, "samples_")
        pointwise = self._with_pointwise()
        if self._idata is None or self._idata[0] != pointwise:  # log_likelihood may be reset
            self._idata = (pointwise, self._inference_data(pointwise))
        return self._idata[1]

    def _inference_data(self, pointwise: bool) -> Any:
        az = _arviz()
        conditional = self._conditional_
        names = getattr(self, "feature_names_in_", None)
        if names is None:  # scikit-learn's names for unnamed columns
            names = [f"x{j}" for j in range(self.n_features_in_)]
        features = [str(name) for name in names]
        coords: dict[str, Any] = {
            "component": np.arange(self.weights_.shape[0]),
            "feature": features,
        }
        dims = {"weights": ["component"]}
        for name, value in self.samples_.items():
            if name == "weights":
                continue
            axes = conditional.dims("variance" if name == "sd" else name)
            dims[name] = ([] if name in conditional.shared else ["component"]) + list(axes)
            if "feature_bis" in axes:
                coords["feature_bis"] = features
            if "category" in axes:
                coords["category"] = np.arange(value.shape[-1])
        x, y, w = self._observed
        observed = {"x": x}
        dims["x"] = ["row", "feature"]
        if y is not None:
            observed["labels"] = y
            dims["labels"] = ["row"]
        if w is not None:
            observed["sample_weight"] = w
            dims["sample_weight"] = ["row"]
        posterior = dict(self.samples_)
        family = getattr(conditional, "family", None)
        if isinstance(family, Categorical):
            # Codes at or above a feature's own categories (padding to the widest feature):
            # NaN, not the constant 0 whose R-hat and ESS arviz would divide by 0 to get.
            outside = ~family.category_mask()  # (d, C)
            if outside.any():
                posterior["probs"] = np.where(outside, np.nan, posterior["probs"])
        idata = az.from_dict(
            posterior=posterior,
            sample_stats={"loglik": self.log_likelihood_},
            observed_data=observed,
            dims=dims,
            coords=coords,
        )
        if pointwise:
            values = np.concatenate(list(self._pointwise()), axis=1)  # (n, chains * draws)
            if w is not None:  # frequency weights: a row of weight m is m observations
                values = np.repeat(values, w.astype(np.intp), axis=0)
            chains, draws = self.samples_["weights"].shape[:2]
            values = values.T.reshape(chains, draws, -1)
            along = "row" if w is None else "observation"
            group = az.dict_to_dataset({"x": values}, dims={"x": [along]}, library=None)
            idata.add_groups(log_likelihood=group)
        return idata

    # --- using the posterior --------------------------------------------------------------
    def _per_draw(self, X):
        """Log joints log pi_k + log p_k(x_n) for every draw, in batches: (n, b, K) each."""
        check_is_fitted(self, "samples_")
        self._refuse_category_columns(X)
        return self._log_joints(check_rows(self, X, reset=False))

    def _log_joints(self, x: np.ndarray):
        """:meth:`_per_draw` of checked rows ``x`` (n, d)."""
        params = {
            name: value.reshape((-1,) + value.shape[2:])
            for name, value in self.samples_.items()
            if name not in ("weights", "sd")
        }
        weights = self.samples_["weights"].reshape(-1, self.weights_.shape[0])
        total, k = weights.shape
        batch = max(1, min(PREDICT_BATCH, 4_000_000 // max(1, x.shape[0] * k)))
        for start in range(0, total, batch):
            part = slice(start, start + batch)
            sub = {name: value[part] for name, value in params.items()}
            b = sub["mean" if "mean" in sub else next(iter(sub))].shape[0]
            log_prob = self._conditional_.components(sub).log_prob(x).reshape(x.shape[0], b, k)
            with np.errstate(divide="ignore"):
                yield log_prob + np.log(weights[part])

    def predict_proba(self, X, return_std=False):
        """Posterior-averaged probability of each component for each row, shape (n, K).

        A row outside the components' support (a negative or fractional Poisson count, a
        category code the fit did not see) has none: a ValueError naming it, as in
        :class:`~emkit.MixtureModel`. With ``return_std``, also their posterior standard
        deviation over the draws (n, K).
        """
        check_is_fitted(self, "samples_")
        self._refuse_category_columns(X)
        x = check_rows(self, X, reset=False)
        self._refuse_outside_support(x)
        total, mean, square = 0, 0.0, 0.0
        for log_joint in self._log_joints(x):
            # Shifted by each row's maximum first (see log_posterior): far from the data
            # logsumexp rounds to the maximum and the tied components would each get 1.
            top = log_joint.max(axis=2, keepdims=True)
            shifted = log_joint - np.where(np.isfinite(top), top, 0.0)
            resp = np.exp(shifted - logsumexp(shifted, axis=2, keepdims=True))  # (n, b, K)
            total += resp.shape[1]
            mean = mean + resp.sum(axis=1)
            square = square + (resp**2).sum(axis=1)
        mean = mean / total
        if not return_std:
            return mean
        return mean, np.sqrt(np.maximum(square / total - mean**2, 0.0))

    def _refuse_outside_support(self, x: np.ndarray) -> None:
        """A ValueError naming the rows of ``x`` outside the components' support (a Poisson
        count below 0 or not whole, a category code the fit did not see), as
        :meth:`MixtureModel.predict_proba <emkit.MixtureModel.predict_proba>` words it: they
        have no component probabilities (``score_samples`` gives them log density -inf)."""
        family = getattr(self._conditional_, "family", None)  # one family for all K
        if family is None:
            return
        inside = np.asarray(family.in_support(x), dtype=bool)
        families = [family] * self.weights_.shape[0]
        refuse_rows(x, inside, "lie outside the support of every component", families)

    def predict(self, X):
        """Most probable component of each row under the posterior-averaged probabilities."""
        return self.predict_proba(X).argmax(axis=1)

    def score_samples(self, X):
        r"""Log posterior predictive density of each row,
        :math:`\log \frac1S \sum_s p(x_n \mid \theta_s, \pi_s)`, shape (n,)."""
        parts = [logsumexp(log_joint, axis=2) for log_joint in self._per_draw(X)]  # (n, b)
        per_draw = np.concatenate(parts, axis=1)
        return logsumexp(per_draw, axis=1) - np.log(per_draw.shape[1])

    @paired_rows("sample_weight")
    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean log posterior predictive density per row; with ``sample_weight`` (frequency
        weights, as in :meth:`fit`) the weighted mean: that of the rows repeated."""
        if sample_weight is None:
            return float(self.score_samples(X).mean())
        total, n = weighted_total(self.score_samples(X), sample_weight, X)
        return total / n


def _observed_from_file(observed: Any, d: int, k: int) -> tuple:
    """The fitted rows (n, d), labels (n,) or None and weights (n,) or None of a model file
    (``_observed``), checked as ``fit`` left them: finite rows, labels -1..K-1, whole
    non-negative weights."""
    if not isinstance(observed, list | tuple) or len(observed) != 3:
        raise ValueError("_observed: must list the fitted rows, their labels and their weights")
    x, labels, w = observed
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.ndim != 2 or x.shape[1] != d:
        raise ValueError(f"_observed: the fitted rows must be a float array of shape (n, {d})")
    if x.shape[0] < 1 or not np.isfinite(x).all():
        raise ValueError("_observed: the fitted rows must be at least one, all finite")
    n = x.shape[0]
    if labels is not None and not (
        isinstance(labels, np.ndarray)
        and labels.dtype.kind == "i"
        and labels.shape == (n,)
        and np.all((labels >= UNLABELLED) & (labels < k))
        and np.any(labels != UNLABELLED)
    ):
        raise ValueError(f"_observed: the labels must be {n} integers in -1..{k - 1}")
    if w is not None and not (
        isinstance(w, np.ndarray)
        and w.dtype.kind == "f"
        and w.shape == (n,)
        and np.all(np.isfinite(w) & (w >= 0) & (w == np.round(w)))
    ):
        raise ValueError(f"_observed: the sample weights must be {n} whole numbers >= 0")
    return np.ascontiguousarray(x), labels, w


def _check_samples(
    samples: Any, conditional: Conditional, runs: tuple[int, int], k: int, d: int
) -> None:
    """Draws (``samples_``) of the parameters ``conditional`` names, each (chains, draws, K,
    ...) in its axes (``dims``; no K axis where shared), inside their domains: weights on the
    simplex, variances and sds positive (sd the root of the variance), covariance matrices
    positive definite, rates non-negative, probabilities in [0, 1]."""
    names = {"weights", *conditional.names}
    if "variance" in names:
        names.add("sd")
    if not isinstance(samples, dict) or set(samples) != names:
        got = sorted(samples) if isinstance(samples, dict) else type(samples).__name__
        raise ValueError(f"samples_: must hold the draws of {sorted(names)}; got {got}")
    family = getattr(conditional, "family", None)
    sizes = {"feature": d, "feature_bis": d}
    if isinstance(family, Categorical):
        sizes["category"] = family.category_mask().shape[1]
    for name, value in samples.items():
        field = f"samples_.{name}"
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ValueError(f"{field}: must be a float array")
        expected: tuple[int, ...] = runs + (k,)
        if name != "weights":
            axes = conditional.dims("variance" if name == "sd" else name)
            own = () if name in conditional.shared else (k,)
            expected = runs + own + tuple(sizes[a] for a in axes)
        if value.shape != expected:
            raise ValueError(f"{field}: shape {value.shape} where {expected} was expected")
    weights = samples["weights"]
    if np.any(weights < 0) or np.any(np.abs(weights.sum(axis=2) - 1) > SIMPLEX_TOL):
        raise ValueError("samples_.weights: a draw's weights are not on the simplex")
    for name in ("variance", "sd", "rate", "probs"):
        value = samples.get(name)
        if value is None:
            continue
        low_ok = value > 0 if name in ("variance", "sd") else value >= 0
        if not np.all(low_ok) or (name == "probs" and np.any(value > 1)):
            raise ValueError(f"samples_.{name}: a draw lies outside the parameter's domain")
    if "sd" in samples and not np.array_equal(samples["sd"], np.sqrt(samples["variance"])):
        raise ValueError("samples_.sd: not the square root of samples_.variance")
    covariance = samples.get("covariance")
    if covariance is not None:
        if "feature_bis" in conditional.dims("covariance"):  # matrices: full and tied
            check_positive_definite("samples_.covariance", covariance)
        elif not np.all(covariance > 0):
            raise ValueError("samples_.covariance: a draw's variance is not positive")


def _default_prior(family, x: np.ndarray, k: int, w: np.ndarray | None):
    """Weakly informative priors on the data's scale (see ``priors`` in BayesianMixture),
    the rows weighted by ``w``."""
    mean: Any = np.average(x, axis=0, weights=w)  # (d,)
    if isinstance(family, Normal):
        spread: Any = np.average((x - mean) ** 2, axis=0, weights=w)
        if not np.all(spread > 0):
            n, held = x.shape[0], x.shape[0] if w is None else int(np.count_nonzero(w))
            if held == 1 and w is not None:
                why = (
                    f"only row {int(np.flatnonzero(w)[0])} has non-zero sample_weight; "
                    f"n_samples = {n}): give more rows a weight above 0, or give priors"
                )
            else:
                rows = "every row" if held == n else f"the {held} rows of non-zero sample_weight"
                why = (
                    f"one value in {rows}; n_samples = {n}): drop constant columns, or give priors"
                )
            raise ValueError(
                "the default prior of Normal components takes its variance scale from the "
                f"data's spread, which is 0 in feature(s) {np.flatnonzero(~(spread > 0)).tolist()} "
                f"({why} (e.g. NormalInverseGamma with a positive scale)"
            )
        # covariance_type="diag"'s prior, one feature at a time: IG(nu/2, Lambda_jj/2) is
        # the inverse-Wishart's diagonal (mclust's for d = 1: dof 3, var(x)/K^2).
        niw = NormalInverseWishart.mclust(x, k, sample_weight=w)
        scale: Any = np.diag(niw.scale) / 2  # (d,): the prior's fields broadcast per feature
        return NormalInverseGamma(niw.mean, niw.shrinkage, niw.dof / 2, scale)
    if isinstance(family, Poisson):
        return GammaPrior(1.0, 1.0 / np.maximum(mean, 1e-3))
    if isinstance(family, Bernoulli):
        return BetaPrior(1.0, 1.0)
    if isinstance(family, Categorical):
        return DirichletPrior(1.0)
    return None


def _improper_when_empty(prior) -> tuple[str, str] | None:
    """Why ``prior`` leaves the posterior of a component with no rows improper, and the fix;
    None where it is proper (then so is that component's posterior, with or without rows)."""
    if isinstance(prior, NormalInverseGamma):
        why = []
        if prior.shrinkage == 0:
            why.append("shrinkage=0 leaves the mean flat")
        if prior.shape <= 0 or np.any(np.asarray(prior.scale) <= 0):
            why.append("a shape or scale of 0 or below leaves the variance's prior improper")
        return ("; ".join(why), "shrinkage > 0, shape > 0 and scale > 0") if why else None
    if isinstance(prior, SemiConjugateNormal | UniformSDNormal):
        if np.all(np.isfinite(prior.mean_sd)):
            return None
        return "mean_sd=inf leaves the mean flat", "a finite mean_sd"
    if isinstance(prior, NormalInverseWishart):
        if prior.shrinkage > 0:
            return None
        return "shrinkage=0 leaves the means flat", "shrinkage > 0"
    if isinstance(prior, GammaPrior) and np.any(np.asarray(prior.rate) <= 0):
        return "rate=0 leaves the Poisson rate's prior improper", "rate > 0"
    return None


def _refuse_improper(conditional: Conditional, labels, w, k: int) -> None:
    """A ValueError where a component that may hold no rows (no labelled row: every component
    of an unsupervised fit) has an improper prior (a flat mean, NormalInverseGamma's default
    shrinkage=0 or SemiConjugateNormal's mean_sd=inf): the mixture's posterior is then
    improper (Diebolt and Robert 1994), as the allocations that leave that component empty
    give its parameters their prior as posterior. Checked before sampling, as Gibbs would
    otherwise return draws or fail mid-chain, by chance (seed, K, data). One component holds
    every row, and is never empty."""
    if k == 1:
        return
    held: np.ndarray = np.zeros(k)
    if labels is not None:
        labelled = labels != UNLABELLED
        weights = None if w is None else w[labelled]
        held = np.bincount(labels[labelled], weights=weights, minlength=k)
    single = getattr(conditional, "prior", None)
    priors = [single] * k if single is not None else list(getattr(conditional, "priors", ()))
    for j, prior in enumerate(priors):
        fault = None if held[j] > 0 else _improper_when_empty(prior)
        if fault is None:
            continue
        why, fix = fault
        empty = [i for i in range(k) if held[i] == 0]
        which = (
            "no row is labelled (an unsupervised fit)"
            if labels is None or not np.any(held > 0)
            else f"component(s) {empty} have no labelled row"
        )
        raise ValueError(
            f"the prior {prior!r} of component {j} is improper ({why}) and {which}: the "
            "mixture's posterior is then improper (Diebolt and Robert 1994; the allocations "
            "that leave a component empty give it its prior as posterior), and Gibbs sampling "
            "would return meaningless draws or fail mid-chain. Give a proper prior "
            f"({fix}; priors=None takes proper weakly informative ones from the data), or "
            "label at least one row of every component (fit(X, labels=...))"
        )


def _chain_log_likelihoods(
    conditional: Conditional,
    trace: Trace,
    x: np.ndarray,
    labels: np.ndarray | None,
    w: np.ndarray | None,
) -> np.ndarray:
    """Log-likelihoods (C, m) of up to :data:`STUCK_DRAWS` evenly spaced draws of each chain
    (labelled rows at their label), as ``log_likelihood_`` has them, on the sampler's E-step
    (a fraction of the cost of all of ``log_likelihood_``, which stays computed on demand)."""
    c, d, k = trace.weights.shape
    keep = np.unique(np.linspace(0, d - 1, min(d, STUCK_DRAWS)).astype(int))
    params = {
        name: value[:, keep].reshape((c * keep.size,) + value.shape[2:])
        for name, value in trace.params.items()
    }
    weights = trace.weights[:, keep].reshape(c * keep.size, k)
    counts = np.ones(x.shape[0]) if w is None else w
    labelled = np.flatnonzero(np.zeros(x.shape[0], bool) if labels is None else labels >= 0)
    out = np.empty(c * keep.size)
    for part, _, per_row, log_joint in _classify_draws(conditional, params, weights, x):
        if labelled.size:
            per_row[:, labelled] = log_joint[:, labels[labelled], labelled]  # type: ignore[index]
        out[part] = per_row @ counts
    return out.reshape(c, keep.size)


def _warn_stuck_chains(log_lik: np.ndarray) -> None:
    """A ``ConvergenceWarning`` naming the chains whose mean log-likelihood (``log_lik``
    (chains, draws)) is far below the best chain's: more than :data:`STUCK_SPREADS` times the
    log-likelihood's spread within a chain (the chains' median standard deviation) and more
    than :data:`STUCK_NATS`. Such chains sample another, far less likely mode, which the
    others never visit. The log-likelihood is the same under any permutation of the
    components, so label switching between chains is no alarm (a per-component R-hat would
    be)."""
    means = log_lik.mean(axis=1)  # (C,)
    spread = float(np.median(log_lik.std(axis=1)))
    best = int(np.argmax(means))
    gaps = means[best] - means
    stuck = np.flatnonzero(gaps > max(STUCK_SPREADS * spread, STUCK_NATS))
    if stuck.size == 0:
        return
    which = ", ".join(str(c) for c in stuck)
    below = ", ".join(f"{g:.3g}" for g in gaps[stuck])
    warn_user(
        f"chain(s) {which} of {means.size} sampled a far less likely mode: their mean "
        f"log-likelihood is {below} below the best chain's ({means[best]:.6g}, chain {best}; "
        f"the spread within a chain is {spread:.3g}), so their draws are not of the posterior "
        "the others sample and pooled summaries mix the modes. Raise tune, check the start "
        "(labels, priors), or drop those chains (log_likelihood_.mean(axis=1) ranks them)",
        ConvergenceWarning,
    )


def _check_finite(trace: Trace) -> None:
    """Draws that are all finite, or a ValueError naming the parameter that is not: a draw
    that overflowed or lost its precision is a defect of the sampler, never a draw to keep."""
    named = {"weights": trace.weights, **trace.params}
    for name, value in named.items():
        bad = ~np.isfinite(value)
        if bad.any():
            chain, draw = np.argwhere(bad)[0][:2]
            raise ValueError(
                f"posterior sampling drew non-finite values of {name!r} ({int(bad.sum())} of "
                f"{value.size}, the first in chain {chain}, draw {draw}): the sampler lost "
                "its precision (a prior or data on an extreme scale?); standardise the data "
                "or give priors on its scale, and report it if that does not help"
            )


def _unlike_priors(priors, alpha: np.ndarray, free: np.ndarray) -> str | None:
    """Why the prior is not exchangeable over the components ``free`` (what differs between
    two of them), or None where it is: one ``weight_prior`` for them and one component prior."""
    if np.any(alpha[free] != alpha[free[0]]):
        return f"weight_prior differs between components ({alpha.tolist()})"
    if not isinstance(priors, list | tuple):
        return None
    first = priors[free[0]]
    for k in free[1:]:
        prior = priors[k]
        same = prior is first or (
            type(prior) is type(first)
            and dataclasses.is_dataclass(first)
            and all(
                np.array_equal(np.asarray(getattr(prior, f.name)), getattr(first, f.name))
                for f in dataclasses.fields(first)
            )
        )
        if not same:
            return f"components {free[0]} and {k} have different priors ({first!r} and {prior!r})"
    return None


def _unlabelled_components(labels: np.ndarray | None, k: int) -> np.ndarray:
    """The components no labelled row names: those label switching can permute."""
    if labels is None:
        return np.arange(k)
    return np.setdiff1d(np.arange(k), labels[labels != UNLABELLED])


def _classify_draws(conditional: Conditional, params, weights: np.ndarray, x: np.ndarray):
    r"""Each draw's classification of rows ``x`` (n, d), in batches of draws: (slice of the
    draws, responsibilities (b, K, n), log-likelihoods :math:`\log \sum_k \pi_k p_k(x_n)`
    (b, n), log joints (b, K, n)). ``params`` fields (S, K, ...) (shared ones (S, ...)),
    ``weights`` (S, K); the sampler's E-step (one matrix product of the rows' features) where
    the family has one, else the components' ``log_prob``. The batches are of
    :func:`_classify_batch` draws, whatever S."""
    total, k = weights.shape
    expanded = conditional.features(x)  # (n, F) and their centre, or None
    batch = _classify_batch(x.shape[0], k)
    for start in range(0, total, batch):
        part = slice(start, min(start + batch, total))
        sub = {name: value[part] for name, value in params.items()}
        b = part.stop - part.start
        if expanded is None:
            log_joint = conditional.log_prob(sub, x)  # (b, K, n)
        else:
            natural = conditional.natural(sub, expanded[1]).reshape(b * k, -1)  # (b K, F)
            log_joint = (natural @ expanded[0].T).reshape(b, k, x.shape[0])
        with np.errstate(divide="ignore"):
            log_joint += np.log(weights[part])[..., None]
        top = log_joint.max(axis=1, keepdims=True)  # over K, with the rows contiguous
        resp = np.subtract(log_joint, top)
        np.exp(resp, out=resp)
        norm = resp.sum(axis=1, keepdims=True)
        resp /= norm
        yield part, resp, (top + np.log(norm))[:, 0], log_joint


def _classify_batch(n: int, k: int) -> int:
    """Draws per batch of :func:`_classify_draws` on n rows and K components (about 4e6
    responsibilities a batch)."""
    return max(1, min(PREDICT_BATCH, 4_000_000 // max(1, n * k)))


def _assign(cost: np.ndarray) -> np.ndarray:
    """Each row's column in the assignment of least total cost of each of B matrices ``cost``
    (B, F, F), shape (B, F): ``linear_sum_assignment``'s ``col_ind``. Where the rows' least
    costs fall in distinct columns, each below the row's next by more than rounding, those
    columns are the one optimum (no other assignment reaches the sum of the rows' minima),
    which the solver, exact to a few ulps of the costs, would find too; it is called for the
    other matrices only."""
    f = cost.shape[1]
    best = cost.argmin(axis=2)  # (B, F)
    two = np.partition(cost, 1, axis=2)[..., :2]  # each row's two least
    scale = np.abs(cost).max(axis=(1, 2))  # (B,)
    clear = np.all(two[..., 1] - two[..., 0] > 1e-9 * scale[:, None], axis=1)
    clear &= np.all(np.sort(best, axis=1) == np.arange(f), axis=1)
    for s in np.flatnonzero(~clear):
        best[s] = linear_sum_assignment(cost[s])[1]
    return best


def _relabel(
    conditional: Conditional,
    trace: Trace,
    x: np.ndarray,
    labels: np.ndarray | None,
    w: np.ndarray | None,
) -> Trace:
    """Each draw's unlabelled components permuted by Stephens' (2000) algorithm (label
    switching; see BayesianMixture): the permutations that bring the draws' classification
    probabilities of the unlabelled rows closest (Kullback-Leibler) to their mean, from the
    draw of highest likelihood as pivot; the components then numbered by location.

    The draws' classification probabilities are computed once and kept for every pass, up to
    :data:`RELABEL_KEPT` of them (the batches beyond are computed again each pass); without
    labelled rows, those of the pass that finds the pivot."""
    c, d, k = trace.weights.shape
    flat = {name: value.reshape((c * d,) + value.shape[2:]) for name, value in trace.params.items()}
    weights = trace.weights.reshape(c * d, k)
    free = _unlabelled_components(labels, k)
    counts = np.ones(x.shape[0]) if w is None else w
    labelled = np.flatnonzero(np.zeros(x.shape[0], bool) if labels is None else labels >= 0)
    batch = _classify_batch(x.shape[0] - labelled.size, k)
    kept_draws = min(c * d, RELABEL_KEPT // max(1, k * (x.shape[0] - labelled.size)))
    kept_draws -= kept_draws % batch if kept_draws < c * d else 0  # whole batches
    kept: list[np.ndarray] = []  # responsibilities (b, K, u) of the first kept_draws draws
    # The pivot: the draw of highest likelihood (labelled rows at their label), near the mode.
    log_lik = np.empty(c * d)
    for part, resp, per_row, log_joint in _classify_draws(conditional, flat, weights, x):
        if labelled.size:
            per_row[:, labelled] = log_joint[:, labels[labelled], labelled]  # type: ignore[index]
        elif part.stop <= kept_draws:
            kept.append(resp)
        log_lik[part] = per_row @ counts
    pivot = int(np.argmax(log_lik))
    unlabelled = np.setdiff1d(np.arange(x.shape[0]), labelled)
    x, counts = x[unlabelled], counts[unlabelled]
    if labelled.size and kept_draws:
        head = {name: value[:kept_draws] for name, value in flat.items()}
        kept = [r for _, r, _, _ in _classify_draws(conditional, head, weights[:kept_draws], x)]
    rest = {name: value[kept_draws:] for name, value in flat.items()}

    def classified():
        """(slice, responsibilities (b, K, u)) of every draw, in _classify_draws' batches."""
        for start, resp in zip(range(0, kept_draws, batch), kept, strict=True):
            yield slice(start, start + resp.shape[0]), resp
        if kept_draws == c * d:
            return
        for part, resp, _, _ in _classify_draws(conditional, rest, weights[kept_draws:], x):
            yield slice(kept_draws + part.start, kept_draws + part.stop), resp

    one = {name: value[pivot : pivot + 1] for name, value in flat.items()}
    target = next(_classify_draws(conditional, one, weights[[pivot]], x))[1][0]  # (K, u)
    order = np.tile(np.arange(k), (c * d, 1))  # draw s's component l is its sampled order[s, l]
    identity = np.arange(k)
    for _ in range(RELABEL_PASSES):
        # cost[s, l, j] = -sum_n p_sjn log q_ln: the KL divergence of draw s's classification
        # probabilities from the target q where its component j becomes l, up to a constant.
        tiny = np.finfo(float).tiny
        log_target = np.log(np.maximum(target[free], tiny)).T * counts[:, None]  # (u, F)
        new, total = order.copy(), np.zeros_like(target)
        for part, resp in classified():
            mine = resp if free.size == k else resp[:, free]  # as the copy resp[:, free]
            cost = -(mine @ log_target).transpose(0, 2, 1)  # (b, F, F): [l, j]
            new[part, free] = free[_assign(cost)]
            moved = new[part]  # the batch's draws summed in order, as take_along_axis's were
            if np.all(moved == identity):
                total += resp.sum(axis=0)
            else:
                total += resp[np.arange(moved.shape[0])[:, None], moved].sum(axis=0)
        target = total / (c * d)
        if np.array_equal(new, order):
            break
        order = new
    # Number the unlabelled components by their mean location over the draws, as sorting did.
    by_location = conditional.location(conditional.permute(flat, order)).mean(axis=0)  # (K,)
    ranked = np.arange(k)
    ranked[free] = free[np.argsort(by_location[free], kind="stable")]
    order = order[:, ranked]
    params = conditional.permute(flat, order)
    weights = np.take_along_axis(weights, order, axis=1)
    return Trace(
        {name: value.reshape((c, d) + value.shape[1:]) for name, value in params.items()},
        weights.reshape(c, d, k),
    )


def _check_scale(scale: np.ndarray, structure: Any, from_data: bool) -> None:
    """A normal-inverse-Wishart scale (d, d) that keeps every covariance draw of ``structure``
    (its class) proper (``scale_requirement``: positive definite for full and tied, a positive
    diagonal or trace for diag and spherical). Gibbs may empty a component at any sweep, and
    an empty component's covariance is drawn from the prior."""
    faults = structure.scale_faults(scale)
    if faults is None:
        return
    columns, need, name = faults, structure.scale_requirement, structure.name
    if from_data:
        raise ValueError(
            f"the default prior of covariance_type={name!r} takes its scale from the data "
            f"covariance, which must be {need}: feature(s) {columns.tolist()} are constant or "
            "linear combinations of others (or there are too few rows). Drop those columns, "
            "or give priors=NormalInverseWishart(...) with a positive definite scale"
        )
    raise ValueError(
        f"the NormalInverseWishart prior's scale must be {need} for "
        f"covariance_type={name!r} (feature(s) {columns.tolist()} have none): Gibbs may "
        "empty a component, whose covariance is then drawn from the prior, an improper "
        "inverse-Wishart with this scale"
    )
