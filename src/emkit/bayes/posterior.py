"""Posterior and predictive objects: scipy.stats frozen distributions with the queries users ask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emkit.checks import check_level


def _rng(random_state) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _plain(value: Any) -> Any:
    """NumPy scalars (also inside tuples and dicts) as Python numbers, which print plainly."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    return value


@dataclass(frozen=True, eq=False)
class Predictive:
    """A posterior predictive distribution of new observations.

    ``mean`` and ``sd`` (``cov`` too for vectors) are values; ``pdf`` / ``pmf``, ``logpdf`` /
    ``logpmf``, ``cdf`` and the rest come from the underlying scipy frozen distribution ``dist``.

    Attributes
    ----------
    dist : the scipy.stats frozen distribution of a new observation.
    mean, sd : its mean and standard deviation, shaped like an observation.
    cov : its covariance for vector observations; None otherwise.

    Examples
    --------
    >>> from emkit import bayes
    >>> pred = bayes.beta_bernoulli([1, 0, 1, 1, 0, 1], a=1, b=1).predictive()
    >>> round(pred.mean, 4)
    0.625
    >>> round(float(pred.pmf(1)), 4)
    0.625
    >>> pred.sample(4, random_state=0).shape
    (4,)
    """

    dist: Any
    mean: Any
    sd: Any
    cov: np.ndarray | None = None
    # Draws (n, ...) given n and a Generator; by default ``dist`` is elementwise (scipy's
    # univariate distributions) with parameters shaped like ``mean``.
    _sample: Callable[[int, np.random.Generator], np.ndarray] | None = field(
        default=None, repr=False
    )
    _interval: Callable[[float], tuple] | None = field(default=None, repr=False)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return getattr(self.dist, name)
        except AttributeError:
            raise AttributeError(
                f"this predictive (a scipy {type(self.dist).__name__}) has no {name!r}; it has "
                "mean, sd, cov, sample and interval besides its distribution's own methods"
            ) from None

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """``n`` draws of a new observation.

        Returns
        -------
        array of shape (n,) for a scalar or a category (its label), (n, d) for a vector of d
        coordinates, (n, m) for a regression's predictive at m new rows.
        """
        rng = _rng(random_state)
        if self._sample is not None:
            return self._sample(n, rng)
        return np.asarray(self.dist.rvs(size=(n, *np.shape(self.mean)), random_state=rng))

    def interval(self, level: float = 0.95):
        """Equal-tailed predictive interval (low, high), elementwise for arrays.

        For a vector observation these are the coordinates' own (marginal) intervals: each
        holds its coordinate of a new observation with probability ``level``, all of them
        together less often.
        """
        check_level(level)
        if self._interval is not None:
            return _plain(self._interval(level))
        return _plain(self.dist.interval(level))


@dataclass(frozen=True, eq=False)
class Posterior:
    """The posterior of one parameter, a float or an array.

    Attributes
    ----------
    name : the parameter's name, as in :mod:`emkit.mle` (``p``, ``rate``, ``mean``, ``probs``...).
    dist : scipy.stats frozen distribution of the parameter.
    mean, sd : posterior mean and standard deviation, shaped like the parameter.
    cov : posterior covariance for vector parameters, shape (k, k); None otherwise.
    map : posterior mode (maximum a posteriori).
    hyper : dict of the posterior's hyperparameters.
    categories : for category probabilities, the category of each entry (the labels
        0, ..., K - 1, or the names); None otherwise.

    Examples
    --------
    >>> from emkit import bayes
    >>> post = bayes.gamma_poisson([2, 4, 3, 5, 1], shape=2, rate=1)
    >>> post.name, post.hyper
    ('rate', {'shape': 17.0, 'rate': 6.0})
    >>> round(post.mean, 4), round(post.sd, 4), round(post.map, 4)
    (2.8333, 0.6872, 2.6667)
    >>> print("95%% interval (%.3f, %.3f)" % post.interval(0.95))
    95% interval (1.651, 4.330)
    >>> post.sample(3, random_state=0).round(3)
    array([2.864, 3.237, 2.429])
    """

    name: str
    dist: Any
    mean: Any
    sd: Any
    map: Any
    hyper: dict
    cov: np.ndarray | None = None
    _interval: Callable[[float], tuple] | None = field(default=None, repr=False)
    _predictive: Callable[..., Predictive] | None = field(default=None, repr=False)
    categories: tuple | None = None

    def __post_init__(self) -> None:
        for name in ("mean", "sd", "map", "hyper"):
            object.__setattr__(self, name, _plain(getattr(self, name)))

    def interval(self, level: float = 0.95) -> tuple:
        """Equal-tailed credible interval (low, high), elementwise for array parameters."""
        check_level(level)
        if self._interval is not None:
            return _plain(self._interval(level))
        return _plain(self.dist.interval(level))

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """``n`` posterior draws, shape (n,) + the parameter's shape."""
        draws = np.asarray(self.dist.rvs(size=n, random_state=_rng(random_state)))
        return draws.reshape(n, *np.shape(self.mean))

    def predictive(self, *args, **kwargs) -> Predictive:
        """The posterior predictive distribution of a new observation."""
        if self._predictive is None:
            raise NotImplementedError(f"no predictive distribution for {self.name}")
        return self._predictive(*args, **kwargs)


@dataclass(frozen=True, eq=False)
class JointPosterior:
    """The joint posterior of a mean and a (co)variance.

    ``mean``, ``sd``, ``interval(level)`` and ``sample`` give dicts keyed by parameter name, from
    each parameter's marginal posterior (``posterior["mean"]`` is that :class:`Posterior`).
    ``map`` is the joint mode, which differs from the marginal modes.

    Attributes
    ----------
    marginals : dict mapping each parameter's name to its marginal :class:`Posterior`.
    map : dict, the joint posterior mode of each parameter.
    hyper : dict of the posterior's hyperparameters.

    Examples
    --------
    >>> from emkit import bayes
    >>> post = bayes.normal_inverse_gamma([4.9, 5.1, 5.3, 4.7, 5.0])
    >>> {name: round(value, 4) for name, value in post.mean.items()}
    {'mean': 5.0, 'variance': 0.1}
    >>> {name: round(value, 4) for name, value in post.map.items()}
    {'mean': 5.0, 'variance': 0.0286}
    >>> low, high = post["mean"].interval(0.95)  # the classical t interval
    >>> print(f"({low:.3f}, {high:.3f})")
    (4.722, 5.278)
    """

    marginals: dict[str, Posterior]
    map: dict[str, Any]
    hyper: dict
    _sample: Callable[[int, np.random.Generator], dict] = field(repr=False)
    _predictive: Callable[[], Predictive] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "map", _plain(self.map))
        object.__setattr__(self, "hyper", _plain(self.hyper))

    def __getitem__(self, name: str) -> Posterior:
        return self.marginals[name]

    @property
    def mean(self) -> dict[str, Any]:
        return {k: m.mean for k, m in self.marginals.items()}

    @property
    def sd(self) -> dict[str, Any]:
        return {k: m.sd for k, m in self.marginals.items()}

    def interval(self, level: float = 0.95) -> dict[str, tuple]:
        """Marginal equal-tailed credible intervals, by parameter."""
        return {k: m.interval(level) for k, m in self.marginals.items()}

    def sample(self, n: int, random_state=None) -> dict[str, np.ndarray]:
        """``n`` joint draws: a dict of arrays of shape (n,) + each parameter's shape."""
        return self._sample(n, _rng(random_state))

    def predictive(self) -> Predictive:
        """The posterior predictive distribution of a new observation."""
        return self._predictive()


def univariate(name, dist, map_, hyper, predictive, mean=None, sd=None) -> Posterior:
    """A scalar parameter's posterior.

    ``mean`` and ``sd`` where ``dist.mean()`` or ``dist.std()`` would be wrong: a t's undefined
    mean (:func:`t_mean`), an sd whose square over- or underflows.
    """
    mean = float(dist.mean()) if mean is None else mean
    sd = float(dist.std()) if sd is None else sd
    return Posterior(name, dist, mean, sd, map_, hyper, _predictive=predictive)


def t_mean(df: float, loc):
    """The mean of Student's t about ``loc``: undefined (NaN) for df <= 1, as the Cauchy's.

    scipy.stats.t gives inf there, but the integral has no value, of either sign.
    """
    return loc if df > 1 else np.full(np.shape(loc), np.nan)[()]


def t_cov(df: float, shape: np.ndarray) -> np.ndarray:
    """The covariance of a multivariate t with scale matrix ``shape`` (d, d).

    Infinite for 1 < df <= 2 and undefined (NaN) for df <= 1, as scipy's univariate t variance.
    """
    if df > 2:
        return shape * df / (df - 2)
    return np.full(np.shape(shape), np.inf if df > 1 else np.nan)


def hyperparameter(
    name: str,
    value: Any,
    low: float = -np.inf,
    *,
    strict: bool = False,
    flat: bool = False,
    scalar: bool = False,
) -> Any:
    """``value`` as floats (a float or an array) after checking it is a number in range.

    Parameters
    ----------
    name : the argument's name, for the error message.
    value : float or array-like.
    low : the least value allowed; ``strict`` leaves ``low`` itself out.
    flat : allow +inf too, the prior's flat limit (an infinite prior sd).
    scalar : ``value`` must be one number (a list or an array of several is refused, rather
        than read by its first entry).

    Raises
    ------
    ValueError naming the argument and its range, for NaN, inf (unless ``flat``), values out of
    range and non-numbers: text (which NumPy would read as its number), bools and complex
    numbers.
    """
    raw = np.asarray(value) if not isinstance(value, (str, bytes)) else None
    if raw is None or raw.dtype.kind not in "iuf":
        kind = "text" if raw is None or raw.dtype.kind in "USO" else None
        kind = "a bool" if raw is not None and raw.dtype.kind == "b" else kind
        kind = "complex" if raw is not None and raw.dtype.kind == "c" else kind
        if raw is not None and raw.dtype.kind == "O":
            try:  # a list of Python numbers and NumPy scalars mixed, or Decimals: numbers
                raw = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raw = None
        if raw is None or raw.dtype.kind not in "iuf":
            raise ValueError(
                f"{name} must be a number{'' if scalar else ' or an array of numbers'}, not "
                f"{kind or type(value).__name__}: got {value!r}"
            )
    if scalar and raw.ndim != 0:
        raise ValueError(
            f"{name} must be one number, got {value!r} of shape {raw.shape}: pass a single "
            "float (one call per value to compare several)"
        )
    array = raw.astype(np.float64)
    bound = f" > {low:g}" if strict else f" >= {low:g}" if low > -np.inf else ""
    ok = (array > low if strict else array >= low) & (np.isfinite(array) | (flat & (array > 0)))
    if not np.all(ok):
        what = "a finite number" if array.ndim == 0 else "finite numbers"
        limit = ", or inf (the flat prior)" if flat else ""
        raise ValueError(f"{name} must be {what}{bound}{limit}, got {value}")
    return array if array.ndim else float(array)


def positive(**values: Any) -> tuple[float, ...]:
    """Each value one finite number > 0, as floats in the order given."""
    return tuple(
        hyperparameter(name, value, 0.0, strict=True, scalar=True) for name, value in values.items()
    )


def nonnegative(**values: Any) -> tuple[float, ...]:
    """Each value one finite number >= 0, as floats in the order given."""
    return tuple(hyperparameter(name, value, 0.0, scalar=True) for name, value in values.items())


def no_data(what: str, prior: str, improper: list[str], fix: str) -> None:
    """With no data the posterior is the prior: raise where that prior is improper.

    ``improper`` lists what makes it so ("rate = 0"); ``fix`` the hyperparameters that make
    it proper ("shape > 0 and rate > 0").
    """
    if improper:
        raise ValueError(
            f"{what} got no data, so its posterior is the prior {prior}, which is improper "
            f"({', '.join(improper)}): give {fix} for a proper prior, or give data"
        )


def scalar_predictive(dist, mean=None, sd=None) -> Predictive:
    """A scalar predictive; ``mean`` and ``sd`` as in :func:`univariate`."""
    return Predictive(
        dist,
        float(dist.mean() if mean is None else mean),
        float(dist.std() if sd is None else sd),
    )
