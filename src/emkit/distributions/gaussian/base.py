"""What every covariance structure of the Gaussian family shares."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from emkit.backend import kernels
from emkit.backend.namespace import namespace_of
from emkit.distributions.base import LOG_2PI
from emkit.distributions.gaussian.stats import FusedGaussianStats, GaussianStats
from emkit.distributions.regularization import Regularization

MAX_RIDGE_RISES = 40
# An eigenvalue of a component's own covariance, in units of the data's variances, below
# which EM reads the degenerate test (GaussianComponents.collapse_screen): 1e4 times that test's
# tolerance, so that the screen passes every collapse the test can see in the component's own
# rows; a structure's shared shape or volume can still make a covariance singular where no
# component's own is this near (the screen then lets the fit run on, as before).
COLLAPSE_SCREEN = 1e-8
EMPTY_SHARE = 1e-10  # a component's share of the weight at or below which it has emptied


@dataclass(frozen=True, eq=False)
class GaussianComponents:
    """K Gaussian components with one covariance structure; an immutable value.

    Subclasses fix the shape of ``covariances`` and ``precisions_cholesky`` (scikit-learn's
    layouts) and implement the structure-specific parts; log densities, sampling and the
    empty-component rule live here.

    Attributes
    ----------
    means : array of shape (k, d).
    covariances : full (k, d, d), tied (d, d), diag (k, d), spherical (k,).
    precisions_cholesky : same layout; U with Sigma^{-1} = U U^T (diagonal forms store 1/sigma).
    ridge : the ridge the M-step that made these components used (see ``m_step``).
    """

    name: ClassVar[str]
    alias: ClassVar[str]
    diagonal_stats: ClassVar[bool]
    per_component: ClassVar[bool] = True  # False where one covariance is shared (tied)
    # What a normal-inverse-Wishart scale must be for these covariances' draws to be proper.
    scale_requirement: ClassVar[str] = "positive definite"

    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    ridge: float = 0.0

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    def take(self, keep: np.ndarray) -> GaussianComponents:
        """The components at indices ``keep`` (pruning); a shared covariance stays shared."""
        if not self.per_component:
            return replace(self, means=self.means[keep])
        return replace(
            self,
            means=self.means[keep],
            covariances=self.covariances[keep],
            precisions_cholesky=self.precisions_cholesky[keep],
        )

    # --- structure-specific -------------------------------------------------------------
    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        raise NotImplementedError

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> GaussianComponents:
        raise NotImplementedError

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        """Shape of ``covariances`` (and of precisions) in scikit-learn's layout."""
        raise NotImplementedError

    @classmethod
    def from_precisions(cls, means: np.ndarray, precisions: np.ndarray) -> GaussianComponents:
        """Components from precision matrices (or precisions) in scikit-learn's layout."""
        raise NotImplementedError

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        raise NotImplementedError

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row to each component, shape (n, k), in the
        namespace of ``x`` (rows of shape (n, d))."""
        raise NotImplementedError

    def log_det_precision_cholesky(self) -> np.ndarray:
        """sum_i log U_ii per component, shape (k,): equals -log|Sigma_k| / 2."""
        raise NotImplementedError

    def full_covariances(self) -> np.ndarray:
        """Covariances as (k, d, d) matrices, for sampling and plotting."""
        raise NotImplementedError

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        r"""Eigenvalues of each component's covariance in units of the data's per-feature
        ``variances`` (d,), that is of :math:`V^{-1/2}\Sigma_k V^{-1/2}`; shape (k, d).

        Structures whose covariances cannot be rescaled feature by feature (spherical) divide by
        the largest variance instead.
        """
        raise NotImplementedError

    def trace_precision(self) -> float:
        """Sum over components of tr(Sigma_k^{-1}) (counted once when shared)."""
        raise NotImplementedError

    # --- the normal-inverse-Wishart prior in this structure (see priors.NormalInverseWishart)
    # Each structure reads the prior as mclust's EM does for its model (Fraley and Raftery, 2007):
    #     log p = -1/2 sum_k [a_k log|Sigma_k| + tr(Lambda_k Sigma_k^{-1})] + the means' prior,
    # with powers a_k (niw_power) and scales Lambda_k = w_k Lambda (niw_scale_weights).
    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        r"""The powers :math:`a_k` of :math:`|\Sigma_k|` in the log prior, shape (k,).

        ``mean_term`` is 1 where the prior shrinks the means (:math:`\kappa > 0`, their normal
        prior's normalising power :math:`|\Sigma_k|^{-1/2}`), else 0. Where the components
        share a volume only the sum of the powers matters, spread evenly here.
        """
        raise NotImplementedError

    @classmethod
    def niw_scale_weights(cls, k: int) -> np.ndarray:
        r"""The weights :math:`w_k` of the prior scale in each component, shape (k,):
        :math:`\Lambda_k = w_k\Lambda` (1 each, or :math:`1/K` where the scale counts once)."""
        return np.ones(k)

    @classmethod
    def mclust_scale(cls, cov: np.ndarray, k: int) -> np.ndarray:
        r"""mclust's default prior scale :math:`\Lambda` (d, d) for K components, from the data
        covariance ``cov`` (d, d): ``cov`` over :math:`K^{2/d}` (mclust's ``defaultPrior``)."""
        return cov / k ** (2.0 / cov.shape[0])

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        r"""The covariances in this structure's layout that minimise
        :math:`\sum_k m_k \log|\Sigma_k| + \operatorname{tr}(B_k \Sigma_k^{-1})`: the
        posterior mode given the means.

        Parameters
        ----------
        numerators : array of shape (k, d, d), or (k, d) for diagonal statistics,
            :math:`B_k = \Lambda_k + S_k + \frac{\kappa N_k}{\kappa + N_k}(\bar x_k - \mu_0)
            (\bar x_k - \mu_0)^\top` (its diagonal).
        m : array of shape (k,), :math:`N_k + a_k`.
        """
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row under each component, shape (n, k)."""
        d = self.n_features
        log_det = namespace_of(x).asarray(self.log_det_precision_cholesky(), like=x)  # (k,)
        out = self.mahalanobis(x)  # in place: the same numbers, no temporaries of n x k
        out += d * LOG_2PI
        out *= -0.5
        out += log_det
        return out

    def discriminant(self, x: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
        r""":math:`\log \pi_k + \log p_k(x_n)` up to a term that each row shares among the
        components, shape (n, k), in the namespace of ``x`` (rows of shape (n, d)): all that
        the posterior over the components and the most probable one read. Here the log joint
        itself; a covariance shared by the components leaves out the rows' own quadratic
        term (:class:`~emkit.distributions.gaussian.tied.TiedGaussian`)."""
        out = self.mahalanobis(x)  # (n, k), a fresh array
        out *= -0.5
        out += namespace_of(out).asarray(self._discriminant_offset(log_weights), like=out)
        return out

    def _discriminant_offset(self, log_weights: np.ndarray) -> np.ndarray:
        """The constants of :meth:`log_prob` and the log weights in one vector (k,), so that
        a discriminant takes two passes over (n, k), not four."""
        return log_weights + self.log_det_precision_cholesky() - 0.5 * self.n_features * LOG_2PI

    def log_prior(self, prior: Regularization) -> float:
        r"""Log-density (up to a constant) of the prior the M-step maximises.

        The ridge :math:`c` is the improper prior
        :math:`\log p(\Sigma) = -\tfrac{c}{2}\operatorname{tr}\Sigma^{-1}` on each covariance,
        whose MAP update is :math:`(S_k + cI)/N_k` (see :class:`Regularization`). It bounds the
        likelihood away from singular covariances, so EM climbs a bounded objective and never
        decreases it.
        """
        if prior.prior is not None:
            return prior.prior.log_density(self, prior.reg_covar)
        return prior.log_density(self.trace_precision())

    def suff_stats(self, x: np.ndarray, resp: np.ndarray) -> GaussianStats:
        return GaussianStats.from_data(x, resp, self.diagonal_stats)

    def precisions(self) -> np.ndarray:
        """Precision matrices (k, d, d), or per-feature precisions (k, d) for diagonal forms."""
        raise NotImplementedError

    def expected_log_prob(self, stats: GaussianStats) -> np.ndarray:
        r""":math:`\sum_n r_{nk} \log p_k(x_n)` for each component, shape (k,), from the
        statistics of the rows alone (no pass over them):

        .. math:: N_k \log|P_k|^{1/2} - \tfrac{d}{2} N_k \log 2\pi
                  - \tfrac12 \operatorname{tr} P_k \left(S_k + N_k (m_k - \mu_k)
                  (m_k - \mu_k)^\top\right),

        with :math:`N_k, m_k, S_k` the statistics' weight, mean and centred scatter. Added to
        :math:`\sum_k N_k \log\pi_k` it is EM's :math:`Q`, whose gap to the log-likelihood is
        the entropy of the responsibilities (soft ICL).
        """
        d = self.n_features
        weight = stats.weight  # (k,)
        gap = stats.mean - self.means  # (k, d)
        precisions = self.precisions()
        if precisions.ndim == 2:  # per-feature precisions (k, d)
            spread = stats.scatter
            if spread.ndim == 3:
                spread = np.diagonal(spread, axis1=1, axis2=2)
            quad = np.sum(precisions * (spread + weight[:, None] * gap**2), axis=1)
        else:
            scatter = stats.scatter
            if scatter.ndim == 2:
                scatter = np.einsum("kd,de->kde", scatter, np.eye(d))
            quad = np.einsum("kij,kij->k", precisions, scatter)
            quad = quad + weight * np.einsum("ki,kij,kj->k", gap, precisions, gap)
        log_norm = self.log_det_precision_cholesky() - 0.5 * d * LOG_2PI
        return weight * log_norm - 0.5 * quad

    def fused_e_step(
        self,
        x: np.ndarray,
        log_weights: np.ndarray,
        sample_weight: np.ndarray | None = None,
        shift: np.ndarray | None = None,
    ) -> tuple[GaussianStats, float] | None:
        """Statistics and log-likelihood of chunk ``x`` in one fused pass (see backend.kernels).

        Returns None where a narrow component far from the others makes the fused expansion
        inexact; the caller then computes ``log_prob`` and ``suff_stats`` directly.
        """
        form = self.quadratic_form(log_weights, shift)
        if form is None:
            return None
        with _empty_rows_exact(log_weights):
            weight, mean, scatter, loglik, log_max, residual = kernels.gaussian_e_step(
                x, [form], sample_weight
            )[0]
        stats = FusedGaussianStats(weight, mean, scatter, log_max, residual)
        return None if self.fused_stats_fall_short(stats) else (stats, loglik)

    @staticmethod
    def fused_e_step_many(
        components: list[GaussianComponents],
        log_weights: list[np.ndarray],
        x: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> list[tuple[GaussianStats, float]] | None:
        """``fused_e_step`` of several mixtures of one structure, sharing the features of x."""
        weights = np.exp(log_weights[0])
        shift = weights @ components[0].means / max(weights.sum(), np.finfo(float).tiny)
        forms = []
        for c, lw in zip(components, log_weights, strict=True):
            form = c.quadratic_form(lw, shift)
            if form is None:  # the group falls back to each mixture's own E-step: no more forms
                return None
            forms.append(form)
        with _empty_rows_exact(*log_weights):
            out = kernels.gaussian_e_step(x, forms, sample_weight)
        fused: list[tuple[GaussianStats, float]] = [
            (FusedGaussianStats(w, m, s, lm, r), ll) for w, m, s, ll, lm, r in out
        ]
        if any(components[0].fused_stats_fall_short(stats) for stats, _ in fused):
            return None
        return fused

    @classmethod
    def fused_stats_fall_short(cls, stats: GaussianStats) -> bool:
        """Whether the M-step reads more of ``stats`` than the fused pass keeps: its
        scatter is a difference of second moments about the shift, exact to rounding of
        those (eps :math:`\\sum_n r_{nk} |x_n - c|^2`), where the direct pass centres each
        component on its own mean. False: every structure but EEV (see its override)."""
        return False

    def quadratic_form(
        self, log_weights: np.ndarray, shift: np.ndarray | None = None
    ) -> kernels.QuadraticForm | None:
        """Log joints as a quadratic form centred at ``shift`` (default: the weighted mean).

        The last form made is kept with these components: a pass over a chunked source asks
        for the same one on every chunk.
        """
        if shift is None:
            weights = np.exp(log_weights)
            shift = weights @ self.means / max(weights.sum(), np.finfo(float).tiny)
        key = (np.asarray(log_weights, dtype=float).tobytes(), np.asarray(shift).tobytes())
        last = self.__dict__.get("_last_form")
        if last is not None and last[0] == key:
            return last[1]
        log_norm = self.log_det_precision_cholesky() - 0.5 * self.n_features * LOG_2PI
        form = kernels.quadratic_form(self.means, self.precisions(), log_norm, log_weights, shift)
        # Frozen: the cache goes into the instance's dict, not through __setattr__.
        self.__dict__["_last_form"] = (key, form)
        return form

    def to_vector(self) -> np.ndarray:
        """Unconstrained parameters: means, then the covariances' log-Cholesky parametrisation."""
        return np.concatenate([self.means.ravel(), self._covariance_vector()])

    def from_vector(self, vector: np.ndarray) -> GaussianComponents:
        """Components of the same structure and size from ``to_vector``'s layout.

        Raises LinAlgError where the covariances are not numerically positive definite.
        """
        k, d = self.means.shape
        means = vector[: k * d].reshape(k, d)
        covariances = self._covariances_from_vector(vector[k * d :], k, d)
        return replace(type(self).from_covariances(means, covariances), ridge=self.ridge)

    def _covariance_vector(self) -> np.ndarray:
        raise NotImplementedError

    @classmethod
    def _covariances_from_vector(cls, vector: np.ndarray, k: int, d: int) -> np.ndarray:
        raise NotImplementedError

    def m_step(self, stats: GaussianStats, prior: Regularization) -> GaussianComponents:
        """MAP update under ``prior`` (see :meth:`from_stats`).

        A component whose weight has vanished keeps its previous mean and covariance: it then
        contributes nothing and stays inert rather than becoming 0/0.
        """
        if prior.prior is not None:
            return prior.prior.mode(
                type(self), stats, prior.reg_covar, self.means, self.covariances
            )
        empty = self.empty(stats)
        if not empty.any():
            return self._ridge_map(stats, prior.reg_covar)
        stats = _fill_empty(stats, empty, self.means)
        return self._ridge_map(stats, prior.reg_covar, keep=empty, previous=self)

    @classmethod
    def from_stats(
        cls, stats: GaussianStats, prior: Regularization | None = None
    ) -> GaussianComponents:
        """Components from statistics: the MAP estimate under ``prior`` (the ridge, or its
        normal-inverse-Wishart), or maximum likelihood without one.

        Where a covariance is singular at this ridge (reg_covar = 0 on collapsed data), the
        ridge rises tenfold from 1e-12 of the data's scale until every covariance is positive
        definite; the components record the ridge they used, and the objective EM climbs
        changes with it.
        """
        prior = Regularization() if prior is None else prior
        if prior.prior is not None:
            return prior.prior.mode(cls, stats, prior.reg_covar, stats.mean)
        return cls._ridge_map(stats, prior.reg_covar)

    @classmethod
    def _ridge_map(
        cls,
        stats: GaussianStats,
        reg_covar: float,
        keep: np.ndarray | None = None,
        previous: GaussianComponents | None = None,
    ) -> GaussianComponents:
        """``from_stats`` under the ridge, with ``previous`` covariances where ``keep``."""
        ridge = reg_covar
        scale = None  # found on the first rise only: every M-step of a fit would pay for it
        for _ in range(MAX_RIDGE_RISES):
            covariances = cls._covariances_from_stats(stats, ridge)
            if keep is not None and previous is not None and cls.per_component:
                covariances[keep] = previous.covariances[keep]
            try:
                components = cls.from_covariances(stats.mean, covariances)
            except np.linalg.LinAlgError:
                if scale is None:
                    scale = cls._ridge_scale(stats)
                    if not scale > 0:
                        # Every component on one point (a row each, or copies of one): no
                        # covariance entry to scale by, and a ridge of float64's smallest
                        # number gives any other row log-density -inf in every component
                        # (NaN posteriors). The data's spread between the points instead.
                        scale = float(stats.feature_variances().max())
                ridge = max(10.0 * ridge, 1e-12 * scale, np.finfo(float).tiny)
                continue
            return replace(components, ridge=ridge)
        raise np.linalg.LinAlgError(
            f"covariances stay singular with a ridge of {ridge:.3g}: the data may hold "
            "non-finite values or a column of enormous scale"
        )

    @classmethod
    def _ridge_scale(cls, stats: GaussianStats) -> float:
        """The scale a raised ridge starts from (1e-12 of it): the largest covariance entry
        (where that is 0, :meth:`_ridge_map` takes the data's largest variance)."""
        return float(np.abs(cls._covariances_from_stats(stats, 0.0)).max())

    @staticmethod
    def empty(stats: GaussianStats) -> np.ndarray:
        """Components holding at most 1e-10 of the total weight, bool (k,)."""
        total = stats.weight.sum()
        return stats.weight <= EMPTY_SHARE * max(total, np.finfo(float).tiny)

    def collapse_screen(self, stats: GaussianStats) -> Callable[[GaussianStats], bool] | None:
        """A cheap test of later statistics of the same rows: True where a component has
        emptied, or where one's own covariance :math:`S_k/N_k`, in units of the data's
        variances (read once, from ``stats``), has an eigenvalue below
        :data:`COLLAPSE_SCREEN`, far above the degenerate test's
        :attr:`Regularization.TOLERANCE`: a collapse onto fewer rows than dimensions, or onto
        a line, shows there whatever the structure. One Cholesky factorisation of those
        covariances less :data:`COLLAPSE_SCREEN` times the identity (NaN fails it too), no
        M-step solve, so that EM can read it at every step before :meth:`degenerate`
        (:func:`emkit.em.collapse_stops`). None for statistics other than NumPy ones of
        complete rows: their fits are not screened."""
        if type(stats) not in (GaussianStats, FusedGaussianStats) or not isinstance(
            stats.scatter, np.ndarray
        ):
            return None
        variances = stats.feature_variances()  # (d,)
        empty = EMPTY_SHARE

        if stats.scatter.ndim == 2:  # per-feature spreads (k, d)
            floor = COLLAPSE_SCREEN * variances

            def screen(later: GaussianStats) -> bool:
                weight = later.weight
                if not weight.min() > empty * weight.sum():
                    return True
                return bool((later.scatter <= floor * weight[:, None]).any())

            return screen
        unit = 1.0 / np.sqrt(np.outer(variances, variances))  # (d, d)
        shift = COLLAPSE_SCREEN * np.eye(len(variances))

        def screen_full(later: GaussianStats) -> bool:
            weight = later.weight
            if not weight.min() > empty * weight.sum():
                return True
            try:
                np.linalg.cholesky(later.scatter * unit / weight[:, None, None] - shift)
            except np.linalg.LinAlgError:
                return True
            return False

        return screen_full

    def degenerate(self, stats: GaussianStats, prior: Regularization | None = None) -> np.ndarray:
        """Components that are singular but for regularisation, or emptied; bool (k,).

        A component is degenerate when its unregularised covariance, in units of the data's
        per-feature variances (:meth:`GaussianStats.feature_variances`), has an eigenvalue at or
        below :attr:`Regularization.TOLERANCE`: it has collapsed onto a point or a
        lower-dimensional set, as mclust's singular fits (where the components share one
        volume and each has its own shape, EVV, EVE, EVI, relative to the covariance's largest
        eigenvalue where that exceeds the data's variance: :func:`shape_spectra`). Where the
        unregularised covariances do not exist (an iterative solver's are not finite, see
        :meth:`Constrained._covariances_from_stats`: a collapsed component makes the
        likelihood of VEE, VVE, VEV unbounded, and the solve fails for all K), each component
        is judged by its own scatter :math:`S_k/N_k` instead, so that only the collapsed ones
        are flagged; all K are where none of the scatters is singular (the solve found no
        covariances, for no component's sake). The ridge plays no part, so rescaling the data,
        as a whole or column by column, leaves the verdict unchanged. Under a
        normal-inverse-Wishart ``prior`` no covariance can collapse: only emptied components
        count.
        """
        prior = Regularization() if prior is None else prior
        if prior.prior is not None:
            return self.empty(stats)
        variances = stats.feature_variances()
        covariances = self._covariances_from_stats(stats, 0.0)
        singular = prior.singular(self.spectra(covariances, self.n_components, variances))
        if not np.isfinite(covariances).all():
            own = prior.singular(own_spectra(stats.covariance(0.0), variances))
            singular = own if own.any() else singular
        return singular | self.empty(stats)

    def n_parameters(self, n_features: int) -> int:
        """Free parameters of the K means and covariances (the weights not included)."""
        k = self.n_components
        return k * n_features + self.n_covariance_parameters(k, n_features)

    @classmethod
    def scale_faults(cls, scale: np.ndarray) -> np.ndarray | None:
        """The features (indices) where a normal-inverse-Wishart ``scale`` (d, d) falls short
        of ``scale_requirement``, or None where it meets it; judged on the correlation form
        D^-1/2 S D^-1/2 (D = diag S), so that features on scales 1e8 apart are not taken for a
        singular scale."""
        diagonal = np.diag(scale)
        if not np.all(diagonal > 0):
            return np.flatnonzero(~(diagonal > 0))
        root = np.sqrt(diagonal)
        eigenvalues, vectors = np.linalg.eigh(scale / root[:, None] / root[None, :])
        null = eigenvalues <= scale.shape[0] * np.finfo(float).eps
        if not null.any():
            return None
        return np.flatnonzero(np.abs(vectors[:, null]).max(axis=1) > 1e-8)

    def sample(
        self, counts: np.ndarray, rng: np.random.Generator, n_features: int | None = None
    ) -> np.ndarray:
        """Draw ``counts[k]`` rows from component k, stacked in component order.

        ``n_features`` is the components' own (the :class:`Components` signature). Each
        component's rows are ``rng.multivariate_normal``'s, as scikit-learn draws full and
        tied components, so that the same generator gives scikit-learn's rows.
        """
        covariances = self.full_covariances()
        blocks = [
            rng.multivariate_normal(self.means[k], covariances[k], int(n))
            for k, n in enumerate(counts)
        ]
        return np.vstack(blocks) if blocks else np.empty((0, self.n_features))


def shape_spectra(spectra: np.ndarray) -> np.ndarray:
    """``spectra`` (k, d) of a structure whose components share one volume but each has its
    own shape (EVV, EVE, EVI), each row divided by its largest eigenvalue where that exceeds
    1 (the data's variance): singular where the covariance is, or where its shape is.

    There a component collapsing onto fewer rows than dimensions cannot shrink: the shared
    volume holds its determinant, and its shape stretches instead, its null directions
    falling only as a root of the scatter's null eigenvalues (:math:`\\epsilon^{r/d}`
    for a scatter of rank r) while its other axes grow past the data's spread. Three of
    wine's rows (13 features; the others' responsibilities below 1e-14) give EVV a
    covariance whose smallest eigenvalue is 2e-5 of the data's variance and its largest 4e9
    times it: the likelihood's supremum there is approached as the shape degenerates, never
    reached (mclust's ``meevv`` reports NA where a shape entry falls below sqrt(eps))."""
    return spectra / np.maximum(spectra.max(axis=1, keepdims=True), 1.0)


def own_spectra(covariances: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """Eigenvalues (k, d) of each component's own unconstrained covariance :math:`S_k/N_k`
    ((k, d, d), or (k, d) per-feature spreads) in units of the data's per-feature
    ``variances`` (d,), as :meth:`GaussianComponents.spectra` reads a structure's."""
    if covariances.ndim == 2:
        return covariances / variances
    root = np.sqrt(variances)
    return np.linalg.eigvalsh(covariances / np.outer(root, root))


@functools.lru_cache(maxsize=64)
def _lower_triangle(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.tril_indices(d)`` and which of its entries are on the diagonal, made once per
    dimension (SQUAREM reads a model's vector several times per cycle); read-only."""
    rows, cols = np.tril_indices(d)
    on_diagonal = rows == cols
    for index in (rows, cols, on_diagonal):
        index.setflags(write=False)
    return rows, cols, on_diagonal


def log_cholesky_vector(chol: np.ndarray) -> np.ndarray:
    """Lower triangles of Cholesky factors (k, d, d), row-major, with log diagonals."""
    rows, cols, on_diagonal = _lower_triangle(chol.shape[-1])
    entries = chol[:, rows, cols]
    entries[:, on_diagonal] = np.log(entries[:, on_diagonal])
    return entries.ravel()


def cholesky_from_log_vector(vector: np.ndarray, k: int, d: int) -> np.ndarray:
    """Inverse of :func:`log_cholesky_vector`: lower Cholesky factors of shape (k, d, d)."""
    rows, cols, on_diagonal = _lower_triangle(d)
    entries = vector.reshape(k, rows.shape[0]).copy()
    entries[:, on_diagonal] = np.exp(entries[:, on_diagonal])
    chol = np.zeros((k, d, d))
    chol[:, rows, cols] = entries
    return chol


def _empty_rows_exact(*log_weights: np.ndarray) -> Any:
    """Where a component has emptied (log weight -inf), its log joints in the fused pass are
    -inf by design (exp gives an exact 0); BLAS's matrix product raises the invalid flag on
    -inf times the zeros it pads blocks with, though every product it returns is exact, so
    the flag is not passed on as a RuntimeWarning. Nothing is silenced otherwise."""
    if any(np.any(np.isneginf(w)) for w in log_weights):
        return np.errstate(invalid="ignore")
    return contextlib.nullcontext()


def _fill_empty(stats: GaussianStats, empty: np.ndarray, means: np.ndarray) -> GaussianStats:
    mean = stats.mean.copy()
    mean[empty] = means[empty]
    return GaussianStats(stats.weight, mean, stats.scatter)
