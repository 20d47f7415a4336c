r"""What keeps Gaussian covariances from collapsing: one value for the M-step, the degeneracy
test and the start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np


class CovariancePrior(Protocol):
    """A conjugate prior on batched Gaussian components (the normal-inverse-Wishart).

    Members
    -------
    mode(structure, stats, reg_covar, empty_means, previous=None) -> components
        The posterior mode, components of class ``structure``, from ``GaussianStats`` with
        weight (k,), mean (k, d) and scatter (k, d, d) or (k, d); ``reg_covar`` adds
        :math:`cI` to the prior's scale. An emptied component takes its mean from
        ``empty_means`` (k, d) where the prior leaves the means flat, and its covariance from
        ``previous`` (the covariances replaced, in the layout of ``structure``) where the
        prior leaves it without a mode.
    log_density(components, reg_covar) -> float
        The log prior density of ``components`` up to a constant.
    """

    def mode(
        self,
        structure: Any,
        stats: Any,
        reg_covar: float,
        empty_means: np.ndarray,
        previous: np.ndarray | None = None,
    ) -> Any: ...

    def log_density(self, components: Any, reg_covar: float) -> float: ...


@dataclass(frozen=True)
class Regularization:
    r"""The regularisation of a Gaussian fit: a ridge ``reg_covar`` and an optional prior.

    The ridge :math:`c` is the improper prior
    :math:`\log p(\Sigma_k) = -\tfrac{c}{2}\operatorname{tr}\Sigma_k^{-1}` on every covariance,
    whose MAP update is

    .. math:: \hat\Sigma_k = (S_k + cI) / N_k,

    with :math:`S_k` the component's centred scatter and :math:`N_k` its weight. emkit keeps this
    MAP ridge rather than scikit-learn's :math:`S_k/N_k + cI` because it is the mode of a fixed
    prior: EM then climbs one bounded objective (log-likelihood plus this log prior), which it
    reports in ``history_`` and checks for ascent, and the ridge's pull fades as a component
    gathers data. scikit-learn's form adds :math:`c` whatever :math:`N_k` is, which is no prior's
    mode, so its iterations climb no objective one can write down. The M-step, the start
    (:func:`~emkit.init.components_from_responsibilities`, the imputer's start) and
    ``log_prior`` all read :math:`c` this way.

    Degeneracy is a separate question, judged against the data's scales and never against the
    ridge: a component is degenerate where its unregularised covariance, in units of each
    feature's variance over all the rows, has an eigenvalue at or below ``TOLERANCE``, or where
    it holds no weight. The verdict is unchanged when the data are rescaled (column by column
    where the structure allows), and a large ridge on well separated clusters does not make
    them degenerate.

    Attributes
    ----------
    reg_covar : float >= 0, the ridge :math:`c`.
    prior : a :class:`CovariancePrior` (a normal-inverse-Wishart) or None. With a prior the
        M-step is its posterior mode and the ridge adds :math:`cI` to its scale; the prior keeps
        covariances non-singular, so only emptied components count as degenerate.
    """

    # An eigenvalue at or below this, in units of the data's variances, is a collapse: a
    # spread a millionth of the data's standard deviation. Normal and LinearGaussian components
    # use the same share. The references draw the line in absolute terms: mclust's 1-D models
    # call a fit singular where a variance reaches emControl's eps (2.2e-16; clean data scaled
    # by 1e-9 are then singular), mixtools restarts where a sigma falls below 1e-8 (a variance
    # of 1e-16); on data of unit variance both are about 1e-16 of it. scikit-learn's reg_covar
    # (1e-6, on data it expects standardised) keeps every variance above 1e-6 of the data's
    # and reports no collapse. 1e-12 lies between: far above the rounding of a variance of
    # centred values (1e-16 relative), far below the spread of any real cluster.
    TOLERANCE: ClassVar[float] = 1e-12

    reg_covar: float = 0.0
    prior: CovariancePrior | None = None

    def covariance(self, scatter: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """MAP covariances :math:`(S + cI)/N` (0 where the weight is 0).

        Parameters
        ----------
        scatter : array of shape (k, d, d), or (k, d) for per-feature spreads.
        weight : array of shape (k,), or (k, d) per feature (the imputer's observed weights).
        """
        ridged = scatter + (
            self.reg_covar if scatter.ndim == 2 else self.reg_covar * np.eye(scatter.shape[-1])
        )
        w = weight.reshape(weight.shape + (1,) * (scatter.ndim - weight.ndim))
        return np.divide(ridged, w, out=np.zeros_like(ridged), where=w > 0)

    def log_density(self, trace_precision: float) -> float:
        r"""The ridge's log prior :math:`-\tfrac c2\sum_k\operatorname{tr}\Sigma_k^{-1}`."""
        return -0.5 * self.reg_covar * trace_precision if self.reg_covar else 0.0

    def singular(self, spectra: np.ndarray) -> np.ndarray:
        """Rows of eigenvalues (k, d), in units of the data's variances, whose smallest is 0
        but for rounding; bool (k,)."""
        return spectra.min(axis=1) <= self.TOLERANCE
