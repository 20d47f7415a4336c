"""What a fit remembers of its rows, so that ``estimate()`` can tell that it is given them.

Louis' observed information is that of the fitted model at the maximum of the likelihood of
the rows it was fitted to: given other rows (a test set, a subset, transformed or differently
weighted rows) it is the information at a point that is not their maximum, and the standard
errors that come out are wrong without a sign. A fit keeps its rows' total weight and each
column's weighted mean and variance (:class:`DataFingerprint`); ``estimate`` takes the same of
the rows it is given and refuses rows that differ. The same rows in another order, in other
chunks, on another backend, as float32, or as integer weights spelled out as repeated rows,
agree.

A fit takes its fingerprint from its final E-step's statistics, with no pass of its own: a
row's responsibilities add up to its weight, so the components' statistics merged are those
of the rows. Where the families' statistics hold no squares (Poisson, Exponential, Gamma) the
fit knows its columns' means but not their variances, and only weights and means are
compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.backend.namespace import namespace_of
from emkit.distributions.base import merge_centred

# Agreement asked of the total weight (relative), each column's mean (in units of its
# standard deviation) and variance (relative): a different sample of n rows moves a mean by
# about a standard deviation / sqrt(n) and a variance by about sqrt(2 / n) of itself.
TOLERANCE = 1e-5
# Besides, what rounding the rows to float32 moves (a float32 fit reads them so, and so does
# its fingerprint): a mean by under float32's eps of the column's root mean square, a
# variance by under 1e-9 of its square (measured: 3e-9 and 3e-9 of those, at offsets of
# 0 to 1e7 standard deviations).
FLOAT32_MEAN = 1e-7
FLOAT32_VARIANCE = 1e-9


@dataclass(frozen=True)
class DataFingerprint:
    """Total weight, and each column's weighted mean and centred scatter, in float64.

    Attributes
    ----------
    weight : float, the rows' total weight (their number, unweighted).
    mean : array of shape (d,).
    scatter : array of shape (d,), sum_n w_n (x_n - mean)^2; NaN where not known (a fit
        whose statistics hold no squares).
    """

    weight: float
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def of_chunk(cls, x, w=None) -> DataFingerprint:
        """The fingerprint of a chunk ``x`` (n, d) with weights ``w`` (n,) or None: NumPy or
        a backend's array (summed where it lives, in float64)."""
        if isinstance(x, tuple):  # (rows, labels) of a labelled source
            x = x[0]
        xp = namespace_of(x)
        x = x.astype(np.float64, copy=False) if isinstance(x, np.ndarray) else x.to(xp.float64)
        if w is None:
            weight = float(x.shape[0])
            sums = xp.to_numpy(x.sum(axis=0))
        else:
            w = xp.asarray(np.asarray(w, dtype=np.float64), like=x)
            weight = float(xp.to_numpy(w.sum()))
            sums = xp.to_numpy(w @ x)
        mean = np.asarray(sums, dtype=np.float64) / weight if weight > 0 else np.zeros(x.shape[1])
        centred = x - xp.asarray(mean, like=x)
        squares = centred * centred
        scatter = squares.sum(axis=0) if w is None else w @ squares
        return cls(weight, mean, np.asarray(xp.to_numpy(scatter), dtype=np.float64))

    @classmethod
    def of_gaussian_stats(cls, stats) -> DataFingerprint:
        """The fingerprint of the rows behind a Gaussian mixture's statistics
        (:class:`~emkit.distributions.gaussian.stats.GaussianStats`): a row's
        responsibilities add up to its weight, so the components' merged are the rows'."""
        spread = stats.scatter if stats.scatter.ndim == 2 else np.diagonal(stats.scatter, 0, 1, 2)
        return cls.of_moments(zip(stats.weight, stats.mean, spread, strict=True))

    @classmethod
    def of_centred_sums(
        cls, weight: np.ndarray, centres: np.ndarray, first: np.ndarray, second: np.ndarray
    ) -> DataFingerprint:
        """The fingerprint of the rows behind sums about each component's centre: ``weight``
        (k,) sum_n w_n z_nk, ``first`` (k, d) sum_n w_n z_nk (x_n - c_k) and ``second`` (k, d,
        d) its outer products, ``centres`` (k, d) the c_k (Louis' pass's sums about the fitted
        means)."""
        weight = np.asarray(weight, np.float64)
        first = np.asarray(first, np.float64)
        squares = np.diagonal(np.asarray(second, np.float64), 0, 1, 2)
        held = np.where(weight > 0, weight, 1.0)[:, None]
        shift = first / held
        spread = np.maximum(squares - first * shift, 0.0)  # about each part's own mean
        return cls.of_moments(zip(weight, np.asarray(centres) + shift, spread, strict=True))

    @classmethod
    def of_components(cls, families, parts, n_features: int) -> DataFingerprint | None:
        """The fingerprint of the rows behind the statistics ``parts`` of a mixture's
        components ``families`` (each family's ``row_moments``); None where a family has no
        ``row_moments`` (the fit then takes a pass of :func:`fingerprint`)."""
        if not all(hasattr(f, "row_moments") for f in families):
            return None
        moments = [f.row_moments(s, n_features) for f, s in zip(families, parts, strict=True)]
        return cls.of_moments(moments)

    @classmethod
    def of_moments(cls, parts) -> DataFingerprint:
        """The fingerprint of the rows behind (weight, mean (d,), scatter (d,) or None)
        triples, merged with Chan's update; parts of no weight are left out, and the
        scatter is NaN where some part's is None."""
        parts = [(float(w), np.asarray(m, np.float64), s) for w, m, s in parts]
        held = [part for part in parts if part[0] > 0] or parts[:1]
        known = all(s is not None for _, _, s in held)
        weight, mean, scatter = 0.0, np.zeros_like(held[0][1]), np.zeros_like(held[0][1])
        for w, m, s in held:
            spread = np.asarray(s, np.float64) if known else np.zeros_like(m)
            weight, mean, scatter = merge_centred((weight, mean, scatter), (w, m, spread))
        return cls(float(weight), mean, scatter if known else np.full_like(mean, np.nan))

    def __add__(self, other: DataFingerprint) -> DataFingerprint:
        weight, mean, scatter = merge_centred(
            (self.weight, self.mean, self.scatter), (other.weight, other.mean, other.scatter)
        )
        return DataFingerprint(float(weight), mean, scatter)

    def difference(self, given: DataFingerprint) -> str | None:
        """What differs between the rows fitted (``self``) and ``given``, or None where they
        agree (:data:`TOLERANCE`, with room for rounding to float32)."""
        if self.mean.shape != given.mean.shape:
            return f"{given.mean.shape[0]} columns where the fit had {self.mean.shape[0]}"
        if not np.isclose(given.weight, self.weight, rtol=TOLERANCE, atol=0):
            return f"a total weight of {given.weight:.10g} where the fit's was {self.weight:.10g}"
        # A constant column's scatter, merged over components or chunks, can round to a
        # tiny negative number (-1e-42): it is 0.
        variance = np.maximum(self.scatter / self.weight if self.weight > 0 else self.scatter, 0)
        other = np.maximum(given.scatter / given.weight if given.weight > 0 else given.scatter, 0)
        known = np.isfinite(variance)  # (d,) False where the fit's statistics held no squares
        # A column whose variance the fit does not know: its mean is judged in units of the
        # given rows' spread (theirs, where they are the fit's rows).
        variance = np.where(known, variance, other)
        square = variance + self.mean**2  # (d,) the mean square
        for j in range(self.mean.shape[0]):
            room = TOLERANCE * np.sqrt(variance[j]) + FLOAT32_MEAN * np.sqrt(square[j])
            if not abs(given.mean[j] - self.mean[j]) <= room:
                return (
                    f"column {j} has mean {given.mean[j]:.10g} where the fit's rows had "
                    f"{self.mean[j]:.10g} (apart by {abs(given.mean[j] - self.mean[j]):.3g}, "
                    f"more than the {room:.3g} rounding allows)"
                )
            room = TOLERANCE * variance[j] + FLOAT32_VARIANCE * square[j]
            if known[j] and not abs(other[j] - variance[j]) <= room:
                return (
                    f"column {j} has variance {other[j]:.10g} where the fit's rows had "
                    f"{variance[j]:.10g}"
                )
        return None


class OtherRowsError(ValueError):
    """The rows given to ``estimate()`` are not those the model was fitted to."""


def fingerprint(map_reduce) -> DataFingerprint:
    """The fingerprint of a data source's rows, ``map_reduce`` its
    :meth:`~emkit.backend.sources.DataSource.map_reduce` (one pass)."""
    return map_reduce(DataFingerprint.of_chunk)


def check_same_rows(estimator, given: DataFingerprint) -> None:
    """ValueError where ``given`` are not the rows ``estimator`` was fitted to (a fit that
    kept no fingerprint, one read from a model file, is not checked; nor are rows that are
    not finite, which the estimate's own pass refuses by name)."""
    fitted = getattr(estimator, "_fit_data", None)
    finite = np.isfinite(given.mean).all() and np.isfinite(given.scatter).all()
    if fitted is None or not finite:  # rows with NaN or inf: the checks of the pass name them
        return
    difference = fitted.difference(given)
    if difference is not None:
        raise OtherRowsError(
            f"estimate() needs the rows (and sample_weight) the model was fitted to: the "
            f"information is the likelihood's curvature at its maximum for those rows, and "
            f"other rows give wrong standard errors without a sign. The rows given differ "
            f"({difference}); pass the fit's X and sample_weight, or refit to these rows "
            "(emkit.bootstrap for errors from resamples)"
        )
