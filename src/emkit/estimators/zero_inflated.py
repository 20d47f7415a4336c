r"""``ZeroInflatedPoisson``: the intercept-only zero-inflated Poisson, fitted by EM.

The model is a two-component mixture of a point mass at 0 (the structural zeros, probability
:math:`\pi`) and a Poisson with rate :math:`\lambda`:

.. math:: P(0) = \pi + (1 - \pi)e^{-\lambda}, \qquad
          P(y) = (1 - \pi)\,\frac{e^{-\lambda}\lambda^y}{y!}\quad (y > 0).

EM's steps are closed form (the M-step is a weighted mean), so it cannot fail to converge the
way a direct quasi-Newton maximisation can. With d columns the Poisson part has one rate per
column and a structural zero is a row of zeros.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.sources import array_source
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson
from emkit.estimators._inputs import dask_fit_source, per_row
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import check_rows, check_weights, paired_rows, warm_fit
from emkit.estimators.mixture_model import FamilyMixtureBase
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.models.component_list import ComponentList
from emkit.models.mixture import Mixture


class ZeroInflatedPoisson(FamilyMixtureBase):
    """Zero-inflated Poisson counts, fitted by EM on the mixture engine.

    Parameters
    ----------
    tol : float, convergence threshold on the log-likelihood per sample. Plain EM
        (``accelerate=None``) stops at the first step that gains less than ``tol`` times the
        rows, which on a slow fit leaves up to some 30 times that to gain; SQUAREM stops where
        the gain still to come, projected from EM's rate of convergence, is below it. ``tol``
        bounds the log-likelihood, not the estimates: near the maximum these are off by about
        the square root of what is left over the information, 1e-4 relative for a zero
        inflation of 0.02 at the default 1e-10; with SQUAREM, ``tol=1e-14`` puts them within
        1e-7 of it.
    max_iter : int, EM iterations at most.
    callback : callable receiving an :class:`emkit.em.EMProgress` after every iteration.
    accelerate : "squarem" (default) or None, as in :class:`emkit.GaussianMixture`.
    random_state : int, RandomState instance or None, the seed of :meth:`sample` (as in
        :class:`emkit.MixtureModel`); the fit itself has one deterministic start.
    warm_start : bool, once fitted, ``fit`` starts from the stored fit's parameters instead
        (as :class:`emkit.MixtureModel`'s); data with another number of columns is refused.

    Attributes
    ----------
    zero_inflation_ : float, probability :math:`\\pi` that a row is a structural zero.
    rate_ : array of shape (d,), Poisson rates.
    log_likelihood_ : float.
    covariance_ : array of shape (1 + d, 1 + d), inverse observed information of
        (``zero_inflation_``, ``rate_``...). When the maximum lies on the boundary
        :math:`\\pi = 0` (no more zeros than the Poisson alone expects) the Wald standard error
        of :math:`\\pi` is not valid: its row and column are NaN (with a warning) and the rates'
        block is that of the Poisson fitted alone. A column with no positive count has the
        rate 0, also on the boundary: its row and column are NaN (with a warning) and the
        others are those of the fit without that column.
    stderr_ : array of shape (1 + d,), standard errors of (``zero_inflation_``, ``rate_``...).
    weights_ : array of shape (2,), (``zero_inflation_``, ``1 - zero_inflation_``).
    components_ : ``[PointMass(0), Poisson(rate_)]``.
    component_params_, structure_changes_, degenerate_, degenerate_components_ : as for
        :class:`emkit.MixtureModel`.
    history_, n_iter_, converged_, n_features_in_, feature_names_in_ : as for every EM
        estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import ZeroInflatedPoisson
    >>> rng = np.random.default_rng(0)
    >>> counts = np.where(rng.uniform(size=500) < 0.3, 0, rng.poisson(2.5, size=500))
    >>> zip_fit = ZeroInflatedPoisson().fit(counts.reshape(-1, 1))
    >>> round(zip_fit.zero_inflation_, 3), zip_fit.rate_.round(3)
    (0.262, array([2.381]))
    >>> zip_fit.stderr_.round(3)
    array([0.024, 0.092])
    """

    _parameter_constraints: dict = {
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "callback": [callable, None],
        "accelerate": [StrOptions({"squarem"}), None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
    }
    _fitted_attributes = FamilyMixtureBase._fitted_attributes + (
        "zero_inflation_",
        "rate_",
        "covariance_",
        "stderr_",
    )
    # One deterministic start: the intercept-only likelihood has a single maximum.
    n_init = 1

    def __init__(
        self,
        *,
        tol=1e-10,
        max_iter=10000,
        callback=None,
        accelerate="squarem",
        random_state=None,
        warm_start=False,
    ):
        self.tol = tol
        self.max_iter = max_iter
        self.callback = callback
        self.accelerate = accelerate
        self.random_state = random_state
        self.warm_start = warm_start

    def _families(self) -> list:
        return [PointMass(0.0), Poisson()]

    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y=None, sample_weight=None):
        """Fit to counts ``X`` of shape (n, d) (non-negative; a column vector for one count).

        Parameters
        ----------
        X : array-like of shape (n, d), non-negative counts.
        y : ignored.
        sample_weight : array-like of shape (n,), non-negative.
        """
        self._validate_params()
        warm = self.warm_start and hasattr(self, "weights_")
        if warm:
            self._check_warm_start(X, self._families())
        if is_dask_collection(X):
            with warm_fit(warm):
                data = dask_fit_source(
                    self, X, sample_weight, check=Poisson().check_support, reset=not warm
                )
        else:
            with warm_fit(warm):
                x = check_rows(self, X, reset=not warm)
            Poisson().check_support(x)
            data = array_source(x, check_weights(sample_weight, x))
        if data.n_rows < 2:  # before the mixture's own check, whose advice is for components
            raise ValueError(
                f"ZeroInflatedPoisson needs at least 2 rows (samples) of counts; got n_samples "
                f"= {data.n_rows}. It estimates the share of structural zeros and the rate "
                "from them: fit it to more rows"
            )
        n0, n_pos, sums = data.map_reduce(_zero_sums)
        if n_pos <= 0:
            weighted = "" if sample_weight is None else " (of the rows with positive weight)"
            raise ValueError(
                f"every count{weighted} is 0: the zero-inflation and the rate are not "
                "identified (a rate of 0 fits with any zero-inflation); fit data with some "
                "positive counts"
            )
        super().fit(X, sample_weight=sample_weight)
        self.zero_inflation_ = float(self.weights_[0])
        self.rate_ = np.asarray(self.components_[1].rate)
        # The score in pi at pi = 0 (rates at the Poisson MLE) is n0 exp(sum rate) - n: when it
        # is <= 0 the maximum lies on the boundary pi = 0. Compared in logs: exp overflows
        # past a total rate of 709.
        n = n0 + n_pos
        poisson_rate = sums / n
        d = sums.shape[0]
        # A column with no positive count has the rate estimate 0, on the boundary, where no
        # Wald standard error holds; it changes no other row's likelihood (e^-0 = 1), so the
        # others' information is that of the model without it.
        kept = np.flatnonzero(sums > 0)
        at = np.ix_(kept + 1, kept + 1)
        self.covariance_ = np.full((1 + d, 1 + d), np.nan)
        if n0 <= 0 or np.log(n0) + poisson_rate.sum() <= np.log(n):
            self.covariance_[at] = np.diag(self.rate_[kept] / n)
            warn_user(
                f"the zero-inflation estimate lies on the boundary 0 ({n0:g} zeros, no more "
                "than a Poisson alone expects), where its Wald standard error is not valid: "
                "stderr_[0] is NaN; use a likelihood-ratio test against a Poisson instead",
                DegenerateFitWarning,
            )
        else:
            keep = np.r_[0, kept + 1]
            self.covariance_[np.ix_(keep, keep)] = _inverse_information(
                n0, n_pos, sums[kept], self.zero_inflation_, self.rate_[kept]
            )
        if kept.shape[0] < d:
            empty = np.flatnonzero(sums <= 0).tolist()
            warn_user(
                f"columns {empty} hold no positive count: their rates are 0, on the boundary, "
                "where a Wald standard error is not valid (their stderr_ entries are NaN); "
                "drop those columns",
                DegenerateFitWarning,
            )
        self.stderr_ = np.sqrt(np.diag(self.covariance_))
        return self

    def _initial_mixture(self, x, w, families, priors, rng, start) -> Mixture:
        weight = np.ones(x.shape[0]) if w is None else w
        zero = np.all(x == 0, axis=1)
        # Start from the Poisson of the non-zero rows and half the zeros as structural.
        positive = weight * ~zero
        rate = (positive @ x) / max(positive.sum(), np.finfo(float).tiny)
        rate = np.where(rate > 0, rate, 1.0)
        pi = 0.5 * (weight @ zero) / weight.sum()
        pi = min(max(pi, 1e-3), 0.5)
        return Mixture(np.array([pi, 1.0 - pi]), ComponentList((PointMass(0.0), Poisson(rate))))

    @per_row(width=lambda self: 2)
    def predict_proba(self, X) -> np.ndarray:
        """Posterior (structural zero, Poisson) for each row, shape (n, 2); 0 in column 0
        for any row that is not all zeros."""
        return super().predict_proba(X)


def _zero_sums(x: np.ndarray, w: np.ndarray | None) -> _Totals:
    """Weight of the all-zero rows, of the others, and the weighted column sums (d,)."""
    weight = np.ones(x.shape[0]) if w is None else w
    zero = np.all(x == 0, axis=1)
    return _Totals((float(weight @ zero), float(weight @ ~zero), weight @ x))


class _Totals(tuple):
    """A tuple of partial sums that adds element by element."""

    def __add__(self, other):
        return _Totals(a + b for a, b in zip(self, other, strict=True))


def _inverse_information(
    n0: float, n_pos: float, sums: np.ndarray, pi: float, rate: np.ndarray
) -> np.ndarray:
    r"""Inverse of the observed information (minus the Hessian of the log-likelihood), from
    the weight ``n0`` of the all-zero rows, ``n_pos`` of the others and the column sums.

    Zero rows contribute :math:`f = \log g`, :math:`g = \pi + (1 - \pi)e^{-\Lambda}` with
    :math:`\Lambda = \sum_j \lambda_j`; other rows
    :math:`\log(1-\pi) + \sum_j x_j\log\lambda_j - \lambda_j`. Returns shape (1 + d, 1 + d).
    """
    e = float(np.exp(-rate.sum()))
    g = pi + (1.0 - pi) * e
    g_pi, g_lam = 1.0 - e, -(1.0 - pi) * e
    g_pi_lam, g_lam_lam = e, (1.0 - pi) * e
    f_pi_pi = -(g_pi**2) / g**2
    f_pi_lam = g_pi_lam / g - g_pi * g_lam / g**2
    f_lam_lam = g_lam_lam / g - g_lam**2 / g**2
    d = rate.shape[0]
    hess = np.empty((1 + d, 1 + d))
    hess[0, 0] = n0 * f_pi_pi - n_pos / (1.0 - pi) ** 2
    hess[0, 1:] = hess[1:, 0] = n0 * f_pi_lam
    hess[1:, 1:] = n0 * f_lam_lam - np.diag(sums / rate**2)
    return np.linalg.inv(-hess)
