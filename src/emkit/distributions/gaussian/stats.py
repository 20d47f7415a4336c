"""Weighted, centred Gaussian statistics of K components that merge exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianStats:
    """Per-component weight, weighted mean and centred scatter.

    Attributes
    ----------
    weight : array of shape (k,), sum of responsibilities (times sample weights).
    mean : array of shape (k, d), weighted mean (0 where the weight is 0).
    scatter : array of shape (k, d, d) (full) or (k, d) (diagonal only),
        sum_n r_nk (x_n - mean_k)(x_n - mean_k)^T.
    """

    weight: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def zero(cls, k: int, d: int, diagonal: bool) -> GaussianStats:
        shape = (k, d) if diagonal else (k, d, d)
        return cls(np.zeros(k), np.zeros((k, d)), np.zeros(shape))

    @classmethod
    def from_data(cls, x: np.ndarray, resp: np.ndarray, diagonal: bool) -> GaussianStats:
        """Statistics of a chunk ``x`` (n, d) with responsibilities ``resp`` (n, k)."""
        weight = resp.sum(axis=0, dtype=np.float64)  # (k,)
        sums = resp.T @ x  # (k, d)
        mean = np.divide(sums, weight[:, None], out=np.zeros_like(sums), where=weight[:, None] > 0)
        # Centre on the chunk mean first so the scatter is a difference of small numbers.
        shift = x.mean(axis=0)
        xc = x - shift  # (n, d)
        offset = mean - shift  # (k, d)
        if diagonal:
            scatter = resp.T @ (xc * xc) - weight[:, None] * offset**2
            np.maximum(scatter, 0.0, out=scatter)
        else:
            k, d = mean.shape
            scatter = np.empty((k, d, d))
            for j in range(k):
                scatter[j] = (xc * resp[:, j : j + 1]).T @ xc
            scatter -= weight[:, None, None] * offset[:, :, None] * offset[:, None, :]
        return cls(weight, mean, scatter)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        # Chan, Golub and LeVeque (1979): merge centred moments without cancellation.
        weight = self.weight + other.weight
        frac = np.divide(other.weight, weight, out=np.zeros_like(weight), where=weight > 0)
        delta = other.mean - self.mean  # (k, d)
        mean = self.mean + frac[:, None] * delta
        coef = self.weight * frac  # n_a n_b / n
        if self.scatter.ndim == 2:
            correction = coef[:, None] * delta**2
        else:
            correction = coef[:, None, None] * delta[:, :, None] * delta[:, None, :]
        return GaussianStats(weight, mean, self.scatter + other.scatter + correction)

    def covariance(self) -> np.ndarray:
        """Maximum-likelihood covariance (or variances) per component; 0 for empty components."""
        shape = (-1,) + (1,) * (self.scatter.ndim - 1)
        w = self.weight.reshape(shape)
        return np.divide(self.scatter, w, out=np.zeros_like(self.scatter), where=w > 0)
