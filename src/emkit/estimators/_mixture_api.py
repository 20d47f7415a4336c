"""What every fitted mixture estimator answers: posteriors, densities and criteria."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from emkit.backend.namespace import namespace_of
from emkit.estimators._inputs import per_row


class MixtureQueries:
    """predict_proba, predict, score_samples, score, bic, aic and icl of a fitted mixture.

    The estimator provides the three methods below.
    """

    def _checked_rows(self, X) -> np.ndarray:
        """Validated rows of ``X`` (NotFittedError before a fit)."""
        raise NotImplementedError

    def _mixture(self) -> Any:
        """The fitted model; ``log_resp(x)`` gives log responsibilities (n, k) and log p(x) (n,)."""
        raise NotImplementedError

    def n_parameters(self) -> int:
        """Number of free parameters of the fitted model."""
        raise NotImplementedError

    @per_row(width=lambda self: self.weights_.shape[0])
    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each component for each row, shape (n, k)."""
        x = self._checked_rows(X)  # first: raises NotFittedError before the model is built
        log_resp, _ = self._mixture().log_resp(x)
        return namespace_of(log_resp).exp(log_resp)  # a tensor answers a tensor

    def predict(self, X) -> np.ndarray:
        """Most probable component of each row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    @per_row()
    def score_samples(self, X) -> np.ndarray:
        """Log density (or probability) log p(x_n) of each row, shape (n,)."""
        x = self._checked_rows(X)
        return self._mixture().log_resp(x)[1]

    def score(self, X, y=None) -> float:
        """Mean log-likelihood per row (scikit-learn's convention)."""
        return float(self.score_samples(X).mean())

    def bic(self, X) -> float:
        """Bayesian information criterion, -2 log L + p log n (lower is better)."""
        log_density = self.score_samples(X)
        n = log_density.shape[0]
        return float(-2.0 * log_density.sum()) + self.n_parameters() * float(np.log(n))

    def aic(self, X) -> float:
        """Akaike information criterion, -2 log L + 2 p (lower is better)."""
        return float(-2.0 * self.score_samples(X).sum()) + 2.0 * self.n_parameters()

    def icl(self, X) -> float:
        """Integrated completed likelihood, BIC + 2 x entropy of the responsibilities.

        The soft-entropy form of the criterion (as in McLachlan and Peel, 2000); mclust's
        ``icl`` uses the hard (MAP) assignments instead, BIC - 2 sum_n log max_k r_nk, which is
        never larger, so the two are not interchangeable.
        """
        proba = self.predict_proba(X)
        resp = np.asarray(namespace_of(proba).to_numpy(proba))
        entropy = -np.sum(resp * np.log(np.clip(resp, np.finfo(float).tiny, None)))
        return float(self.bic(X) + 2.0 * entropy)


def warn_unless_converged(estimator) -> None:
    """ConvergenceWarning (scikit-learn's) when the kept fit stopped at ``max_iter``."""
    if not estimator.converged_ and estimator.max_iter > 0:
        warnings.warn(
            f"{type(estimator).__name__} stopped after max_iter={estimator.max_iter} iterations "
            f"before the gain per iteration fell below tol={estimator.tol}: raise max_iter, or "
            "check the data scale. The result is the best point EM reached.",
            ConvergenceWarning,
            stacklevel=3,
        )
