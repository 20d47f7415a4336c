r"""Full conditionals of mixture components given complete-data statistics.

Given labels, each component's parameters depend on the data only through the family's
sufficient statistics (:mod:`emkit.distributions`). A :class:`Conditional` turns the
statistics of B batches (chains, or independent draws) of K components into new parameters,
and parameters back into batched components whose ``log_prob`` is the E-step's input:

- conjugate priors (normal-inverse-gamma, normal-inverse-Wishart in the four covariance
  structures, gamma, beta, Dirichlet): the families' ``conjugate_update`` or
  :func:`~emkit.distributions.priors.niw_update`, then one exact joint draw;
- :class:`~emkit.bayes.priors.SemiConjugateNormal` and
  :class:`~emkit.bayes.priors.UniformSDNormal`: the mean given the spread, then the spread
  given the mean (a Gibbs cycle within the parameters).

Parameters are dicts of arrays whose first two axes are (B, K) (a tied covariance: (B, ...)).
With ``ordered`` the first feature's means are kept increasing across components: each mean is
drawn from its conditional truncated between its neighbours' current values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from emkit.bayes import draws
from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal
from emkit.distributions.base import LOG_2PI
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.gaussian import GaussianStats, covariance_structure
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.full import FullGaussian
from emkit.distributions.gaussian.spherical import SphericalGaussian
from emkit.distributions.normal import Normal, NormalStats
from emkit.distributions.poisson import Poisson
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    NormalInverseGamma,
    NormalInverseWishart,
    niw_update,
)
from emkit.models.component_list import ComponentList

Params = dict[str, np.ndarray]
TINY = np.finfo(float).tiny


def _improper(what: str) -> ValueError:
    return ValueError(
        f"the posterior of a component is improper ({what}): give proper priors "
        "(positive shrinkage, shape and scale) or more labelled rows per component"
    )


def _stack_stats(parts: list, batch: int, k: int) -> Any:
    """Per-(batch, component) statistics of one family stacked into one value, fields (B, K, ...).

    A scalar weight becomes shape (B, K, 1), so that it broadcasts against per-feature fields.
    """
    out = {}
    for f in fields(parts[0]):
        values = [np.asarray(getattr(p, f.name), dtype=float) for p in parts]
        stacked = (
            np.stack([np.atleast_1d(v) for v in values])
            if values[0].ndim == 0
            else np.stack(values)
        )
        out[f.name] = stacked.reshape((batch, k) + stacked.shape[1:])
    return type(parts[0])(**out)


def broadcast_batch(stats: Any, batch: int) -> Any:
    """Statistics of one batch (fields (1, K, ...)) repeated for ``batch`` batches."""
    return type(stats)(
        **{
            f.name: np.broadcast_to(
                getattr(stats, f.name), (batch,) + getattr(stats, f.name).shape[1:]
            )
            for f in fields(stats)
        }
    )


def _per_component(values: list, shape: tuple) -> np.ndarray:
    """One hyperparameter of K priors, broadcast to ``shape`` each and stacked: (K, *shape)."""
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values])


def weighted_moments(
    x: np.ndarray, counts: np.ndarray, diagonal: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Weight, mean and centred scatter of rows ``x`` (U, d) weighted by ``counts`` (B, K, U):
    :meth:`GaussianStats.from_data <emkit.distributions.gaussian.GaussianStats.from_data>`
    with responsibilities ``counts[b, k]``, for the B K of them in two matrix products.

    Moments are taken about the rows' mean c and the scatter is
    :math:`\sum_u w_u (x_u - c)(x_u - c)^	op - W(ar x - c)(ar x - c)^	op`: the
    subtraction loses about :math:`\log_{10}` of the squared ratio of the data's spread to a
    component's (digits of 16), not the data's distance from 0.

    Returns weight (B, K), mean (B, K, d) and scatter (B, K, d) (``diagonal``) or (B, K, d, d).
    """
    b, k, u = counts.shape
    d = x.shape[1]
    shift = x.mean(axis=0)
    xc = x - shift  # (U, d)
    products = xc * xc if diagonal else (xc[:, :, None] * xc[:, None, :]).reshape(u, d * d)
    flat = counts.reshape(b * k, u)
    weight = flat.sum(axis=1)  # (B K,)
    present = weight > 0
    offset = np.divide(flat @ xc, weight[:, None], out=np.zeros((b * k, d)), where=present[:, None])
    second = flat @ products  # (B K, d) or (B K, d d)
    if diagonal:
        scatter = np.maximum(second - weight[:, None] * offset**2, 0.0)
    else:
        scatter = second.reshape(b * k, d, d) - weight[:, None, None] * (
            offset[:, :, None] * offset[:, None, :]
        )
        scatter = (scatter + np.swapaxes(scatter, 1, 2)) / 2
    mean = np.where(present[:, None], offset + shift, 0.0)
    shape = (b, k, d) if diagonal else (b, k, d, d)
    return weight.reshape(b, k), mean.reshape(b, k, d), scatter.reshape(shape)


class Conditional:
    r"""Draws of K components' parameters given statistics, batched over B chains or draws.

    Attributes
    ----------
    names : parameter names, in the order they are reported.
    shared : names without a component axis (a tied covariance).
    exact : True where :meth:`draw` given labels is an independent draw from the posterior
        (conjugate priors, no ordering); the supervised fit then needs no Markov chain.
    orderable : True where the ``ordered`` constraint applies (Normal components).

    Methods
    -------
    components(params) -> Components
        The B K components (batch-major) for ``log_prob`` and predictions.
    log_prob(params, x) -> array of shape (B, K, n)
        The E-step's log densities, component-major.
    count_stats(x, counts) / summarise(x, resp, batch) -> Stats
        Statistics of rows ``x`` (U, d) taken ``counts`` (B, K, U) times by each component,
        or under responsibilities (U, B K), fields (B, K, ...): the family's own statistics
        type.
    weight(stats) -> array of shape (B, K)
    start(stats, x) -> Params
        A starting point in the support.
    draw(stats, params, rng, ordered) -> Params
        Parameters given statistics (and, for Gibbs cycles within the parameters, the
        current ones).
    location(params) -> (B, K); permute(params, order) -> Params
        A value per component to number components by, and the components reordered: for
        relabelling against label switching.
    dims(name) -> tuple of str
        Names of parameter ``name``'s axes after its (B, K) ones ((B,) where shared):
        ``feature``, ``feature_bis`` (a covariance's columns) and ``category``.
    features(x) -> (array of shape (n, F), centre) or None
        Where each log density is linear in fixed features of a row (an exponential family):
        :math:`\log p_{bk}(x_n) = \eta_{bk} \cdot T(x_n)`, with :math:`T_0 = 1`; None
        otherwise. The sampler then takes an E-step as one matrix product and statistics as
        another (:meth:`natural`, :meth:`from_moments`).
    natural(params, centre) -> array of shape (B, K, F)
        The coefficients :math:`\eta_{bk}` of the features.
    from_moments(moments, centre) -> Stats
        Statistics from the features summed per component, ``moments`` (B, K, F) (counts
        times features): fields (B, K, ...).
    """

    names: ClassVar[tuple[str, ...]]
    shared: tuple[str, ...] = ()
    exact: bool = True
    orderable: ClassVar[bool] = False

    def components(self, params: Params) -> Any:
        """Batched components (B K of them, batch-major) with ``log_prob(x) -> (n, B K)``."""
        raise NotImplementedError

    def summarise(self, x: np.ndarray, resp: np.ndarray, batch: int) -> Any:
        """Statistics of rows ``x`` (n, d) with responsibilities ``resp`` (n, B K): fields
        (B, K, ...)."""
        raise NotImplementedError

    def log_prob(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Log density of each row under each batch's components, shape (B, K, n): the
        batched components' ``log_prob`` (n, B K), component-major."""
        first = params[self.names[0]]
        b, k = first.shape[:2]
        out = self.components(params).log_prob(x)  # (n, B K)
        return np.ascontiguousarray(out.T).reshape(b, k, x.shape[0])

    def count_stats(self, x: np.ndarray, counts: np.ndarray) -> Any:
        """Statistics of rows ``x`` (U, d) that component k of batch b takes ``counts[b, k]``
        (B, K, U) times: the families' statistics with those weights (:meth:`summarise`);
        fields (B, K, ...)."""
        b, k, u = counts.shape
        return self.summarise(x, counts.transpose(2, 0, 1).reshape(u, b * k), b)

    def weight(self, stats: Any) -> np.ndarray:
        """Rows per component, shape (B, K)."""
        return np.asarray(stats.weight).reshape(stats.weight.shape[:2])

    def draw(
        self, stats: Any, params: Params | None, rng: np.random.Generator, ordered: bool
    ) -> Params:
        """New parameters given statistics (B, K, ...) and, for Gibbs cycles, the current ones."""
        raise NotImplementedError

    def start(self, stats: Any, x: np.ndarray) -> Params:
        """A point in the support to start a chain from: the statistics' estimates."""
        raise NotImplementedError

    def features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Features (n, F) of rows ``x`` in which log densities are linear, and the centre they
        were taken about; None where there are none (the sampler then calls :meth:`log_prob`
        and :meth:`count_stats`)."""
        return None

    def natural(self, params: Params, centre: np.ndarray) -> np.ndarray:
        """Coefficients (B, K, F) of :meth:`features` giving each component's log density."""
        raise NotImplementedError

    def from_moments(self, moments: np.ndarray, centre: np.ndarray) -> Any:
        """Statistics (fields (B, K, ...)) from summed features ``moments`` (B, K, F)."""
        raise NotImplementedError

    def dims(self, name: str) -> tuple[str, ...]:
        """Names of the axes of parameter ``name`` after (B, K): one value per feature."""
        return ("feature",)

    def location(self, params: Params) -> np.ndarray:
        """The value components are ordered by (first feature's mean), shape (B, K)."""
        first = params[self.names[0]]
        return first.reshape(first.shape[:2] + (-1,))[..., 0]

    def permute(self, params: Params, order: np.ndarray) -> Params:
        """Parameters with each batch's components in ``order`` (B, K)."""
        out = {}
        for name, value in params.items():
            if name in self.shared:
                out[name] = value
                continue
            index = order.reshape(order.shape + (1,) * (value.ndim - 2))
            out[name] = np.take_along_axis(value, index, axis=1)
        return out


class FamilyConditional(Conditional):
    """Components of one single-component family, batched through a ComponentList."""

    family: Any

    def components(self, params: Params) -> Any:
        first = params[self.names[0]]
        b, k = first.shape[:2]
        # The family with its parameters replaced keeps its other fields (a Categorical's
        # categories per feature).
        families = [
            replace(self.family, **{name: params[name][i, j] for name in self.names})
            for i in range(b)
            for j in range(k)
        ]
        return ComponentList(tuple(families))

    def summarise(self, x: np.ndarray, resp: np.ndarray, batch: int) -> Any:
        parts = [self.family.suff_stats(x, resp[:, m]) for m in range(resp.shape[1])]
        return _stack_stats(parts, batch, resp.shape[1] // batch)

    def weight(self, stats: Any) -> np.ndarray:
        return np.asarray(stats.weight)[..., 0]


@dataclass(frozen=True, eq=False)
class NormalConditional(FamilyConditional):
    r"""Independent normal features with a normal-inverse-gamma, semi-conjugate or uniform-sd
    prior (one kind for all K components, hyperparameters per component).

    Normal components with d features are diagonal Gaussians: the B K of them go to the E-step
    as one :class:`~emkit.distributions.gaussian.DiagGaussian`, and their statistics are the
    diagonal :class:`~emkit.distributions.gaussian.GaussianStats`, read as the family's
    :class:`~emkit.distributions.normal.NormalStats`.

    Where the means are drawn given the variances (semi-conjugate and uniform-sd priors, and
    ordered means under any prior), ``overrelaxation`` :math:`\alpha \in (-1, 0]` draws them
    by :func:`overrelaxed_normal` (0: plain Gibbs draws).
    """

    names: ClassVar[tuple[str, ...]] = ("mean", "variance")
    orderable: ClassVar[bool] = True
    priors: tuple
    n_features: int
    overrelaxation: float = 0.0
    family: Any = Normal()
    hyper: dict = field(init=False, repr=False)

    def __post_init__(self):
        kinds = {type(p) for p in self.priors}
        if len(kinds) != 1:
            raise ValueError("every Normal component needs a prior of the same kind")
        d = (self.n_features,)
        hyper = {
            f.name: _per_component([getattr(p, f.name) for p in self.priors], d)
            for f in fields(self.priors[0])
        }
        if self.kind is not NormalInverseGamma:
            # The mean's normal prior as precision and precision-weighted mean; the sd bound
            # as a least precision.
            hyper["prior_precision"] = 1.0 / hyper["mean_sd"] ** 2
            hyper["prior_shift"] = hyper["mean"] * hyper["prior_precision"]
        if self.kind is UniformSDNormal:
            hyper["least_precision"] = hyper["sd_upper"] ** -2.0
        object.__setattr__(self, "hyper", hyper)

    def components(self, params: Params) -> DiagGaussian:
        mean, variance = params["mean"], params["variance"]
        m = mean.shape[0] * mean.shape[1]
        return DiagGaussian.from_covariances(
            mean.reshape(m, -1), np.maximum(variance.reshape(m, -1), np.finfo(float).tiny)
        )

    def log_prob(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Log densities (B, K, n), written out for one feature at a time: the same numbers as
        the diagonal Gaussian's ``log_prob``, without its (n, B K) layout."""
        mean, variance = params["mean"], params["variance"]  # (B, K, d)
        out = -0.5 * (x.shape[1] * LOG_2PI + np.log(variance).sum(axis=2))[..., None]
        for j in range(x.shape[1]):
            out = out - 0.5 * (x[:, j] - mean[..., j, None]) ** 2 / variance[..., j, None]
        return out

    def count_stats(self, x: np.ndarray, counts: np.ndarray) -> NormalStats:
        weight, mean, scatter = weighted_moments(x, counts, diagonal=True)
        return NormalStats(weight[..., None], mean, scatter)  # type: ignore[arg-type]

    def features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features [1, x - c, (x - c)^2] (n, 1 + 2d) about the rows' mean c.

        Centred, so that the expanded square loses digits only to the ratio of the data's
        spread to a component's (as in :func:`weighted_moments`), not to the data's distance
        from 0.
        """
        centre = x.mean(axis=0)
        xc = x - centre
        return np.hstack([np.ones((x.shape[0], 1)), xc, xc * xc]), centre

    def natural(self, params: Params, centre: np.ndarray) -> np.ndarray:
        r""":math:`\log N(x; \mu, v) = -\tfrac12(\log 2\pi v + \delta^2/v)
        + (x - c)\delta/v - (x - c)^2/(2v)` per feature, :math:`\delta = \mu - c`."""
        mean, variance = params["mean"], params["variance"]  # (B, K, d)
        d = centre.shape[0]
        out = np.empty(mean.shape[:2] + (1 + 2 * d,))
        half_precision = np.divide(-0.5, variance, out=out[..., 1 + d :])
        offset = mean - centre
        linear = np.multiply(offset, -2.0 * half_precision, out=out[..., 1 : 1 + d])
        constant = np.log(variance) + offset * linear + LOG_2PI  # (B, K, d)
        out[..., 0] = -0.5 * (constant[..., 0] if d == 1 else constant.sum(axis=2))
        return out

    def from_moments(self, moments: np.ndarray, centre: np.ndarray) -> NormalStats:
        """:func:`weighted_moments`' statistics from summed features (B, K, 1 + 2d)."""
        d = centre.shape[0]
        weight = moments[..., :1]  # (B, K, 1)
        offset = np.divide(
            moments[..., 1 : 1 + d], weight, out=np.zeros(weight.shape[:2] + (d,)), where=weight > 0
        )
        scatter = moments[..., 1 + d :] - weight * offset * offset
        # An empty component's mean is the centre (its weight 0 leaves it out of every draw).
        return NormalStats(weight, offset + centre, np.maximum(scatter, 0.0, out=scatter))  # type: ignore[arg-type]

    def summarise(self, x: np.ndarray, resp: np.ndarray, batch: int) -> NormalStats:
        flat = GaussianStats.from_data(x, resp, diagonal=True)
        k = resp.shape[1] // batch
        return NormalStats(
            flat.weight.reshape(batch, k, 1),  # type: ignore[arg-type]
            flat.mean.reshape(batch, k, -1),
            flat.scatter.reshape(batch, k, -1),
        )

    @property
    def kind(self) -> type:
        return type(self.priors[0])

    @property
    def exact(self) -> bool:  # type: ignore[override]
        return self.kind is NormalInverseGamma

    def start(self, stats: Any, x: np.ndarray) -> Params:
        w = stats.weight  # (B, K, 1)
        if self.kind is UniformSDNormal and x.shape[0] >= 2 and np.any(np.ptp(x, axis=0) == 0):
            # Every component's rows are then equal: given the labels the density grows like
            # sd^-(W-1) as the sd goes to 0.
            raise _improper(
                "two or more equal rows in one component under a uniform prior on its sd "
                "(a feature with one value in every row), whose density then grows without "
                "bound as the sd goes to 0; give a SemiConjugateNormal or NormalInverseGamma "
                "prior (an inverse gamma on the variance)"
            )
        # A feature with one value in every row (or one row) has no spread to start from:
        # the prior's scale stands in for it (a start need only lie in the support).
        spread = np.where(x.var(axis=0) > 0, x.var(axis=0), self._prior_variance())  # (K, d)
        mean = np.where(w > 0, stats.mean, x.mean(axis=0))
        variance = np.where(w > 1, stats.scatter / np.maximum(w, 1), spread)
        variance = np.maximum(variance, 1e-6 * spread)
        if self.kind is UniformSDNormal:
            variance = np.minimum(variance, (0.9 * self.hyper["sd_upper"]) ** 2)
        return {"mean": mean, "variance": variance}

    def _prior_variance(self) -> np.ndarray:
        """A variance on the prior's scale, (K, d): the inverse gamma's mode b/(a + 1), or
        half the largest sd squared (1 where the prior gives no scale)."""
        h = self.hyper
        if self.kind is UniformSDNormal:
            return (h["sd_upper"] / 2) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            mode = h["scale"] / (h["shape"] + 1)
        return np.where(np.isfinite(mode) & (mode > 0), mode, 1.0)

    def draw(self, stats, params, rng, ordered):
        w, xbar, scatter = stats.weight, stats.mean, stats.scatter  # (B, K, 1), (B, K, d) x2
        h = self.hyper  # each (K, d)
        if self.kind is NormalInverseGamma:
            with np.errstate(divide="ignore", invalid="ignore"):  # empty, flat: checked below
                post = self.family.conjugate_update(stats, h)
            m_n, k_n, a_n, b_n = post["mean"], post["shrinkage"], post["shape"], post["scale"]
            if not (np.all(k_n > 0) and np.all(a_n > 0) and np.all(b_n > 0)):
                raise _improper("shrinkage, shape or scale not positive")
            if not ordered:
                variance = draws.inverse_gamma(a_n, b_n, rng)
                mean = m_n + np.sqrt(variance / k_n) * rng.standard_normal(m_n.shape)
                return {"mean": mean, "variance": variance}
            assert params is not None
            sd = np.sqrt(params["variance"] / k_n)
            mean = overrelaxed_normal(m_n, sd, params["mean"], self.overrelaxation, True, rng)
            variance = draws.inverse_gamma(a_n + 0.5, b_n + 0.5 * k_n * (mean - m_n) ** 2, rng)
            return {"mean": mean, "variance": variance}
        assert params is not None
        # Mean given variance: a normal prior times a normal likelihood.
        data_precision = w / params["variance"]
        precision = h["prior_precision"] + data_precision
        if not (precision > 0).all():
            raise _improper("a flat prior on the mean of a component with no rows")
        loc = (h["prior_shift"] + data_precision * xbar) / precision
        sd = precision**-0.5
        mean = overrelaxed_normal(loc, sd, params["mean"], self.overrelaxation, ordered, rng)
        sum_sq = scatter + w * (xbar - mean) ** 2  # (B, K, d)
        if w.shape != sum_sq.shape:
            w = np.broadcast_to(w, sum_sq.shape)
        if self.kind is SemiConjugateNormal:
            variance = draws.inverse_gamma(h["shape"] + w / 2, h["scale"] + sum_sq / 2, rng)
        else:
            # Given the mean (never exactly a component's row mean) the sd's conditional is
            # proper even on equal rows: no error here, or whether a fit fails would depend on
            # where the sweeps happen to put tied rows (data with every row equal are refused
            # at the start).
            variance = _uniform_sd_variance(
                w, sum_sq, h["sd_upper"], h["least_precision"], params["variance"], rng
            )
        return {"mean": mean, "variance": variance}


def overrelaxed_normal(loc, sd, current, alpha: float, ordered: bool, rng) -> np.ndarray:
    r"""Means (B, K, d) given the variances: a move that leaves N(loc, sd^2) invariant, the
    first feature's means increasing over components where ``ordered``.

    Adler's overrelaxation (Neal 1998, "Suppressing random walks in Markov chain Monte Carlo
    using ordered overrelaxation"): :math:`\mu' = m + \alpha(\mu - m) + s\sqrt{1 -
    \alpha^2}\,\varepsilon` with :math:`-1 < \alpha < 0` is reversible with respect to
    :math:`N(m, s^2)` (an autoregression whose stationary law it is). Drawn against the
    direction the mean last moved, it undoes part of the lag between the means and the labels
    they are drawn from, so the means' draws correlate less.

    Ordered, the first feature's means are updated one component at a time, each given its
    neighbours (the one just updated below, the current one above): its conditional is
    N(m, s^2) truncated to (below, above), and the move is Adler's on that law carried to a
    standard normal by its CDF, :math:`z = \Phi^{-1}(F(\mu))`,
    :math:`z' = \alpha z + \sqrt{1 - \alpha^2}\,\varepsilon`, :math:`\mu' = F^{-1}(\Phi(z'))`
    (reversible with respect to the truncated law, as the map is a bijection onto the standard
    normal; where the bounds are far it is the move above). Every move stays in order, so no
    chain sticks where the untruncated move would leave the order almost surely (a joint move
    refused outside the ordered set froze chains whose data pull the means against the order).

    :math:`\alpha = 0` is the Gibbs draw: ordered, a batch whose joint draw is in order keeps
    it (an exact draw from the truncated law); the others draw each first-feature mean between
    its neighbours' values, a Gibbs scan. Which of the two a batch takes does not depend on its
    current values, so the mixture leaves the truncated law invariant, as each part does.
    """
    noise = rng.standard_normal(loc.shape)
    if alpha == 0:
        mean = loc + sd * noise
    else:
        mean = loc + alpha * (current - loc) + sd * (np.sqrt(1 - alpha**2) * noise)
    if not ordered:
        return mean
    if alpha != 0:
        return _overrelaxed_ordered(loc, sd, current, mean, alpha, noise[:, :, 0])
    disordered = (mean[:, 1:, 0] <= mean[:, :-1, 0]).any(axis=1)
    if not disordered.any():
        return mean
    redo = np.flatnonzero(disordered)
    first = np.array(current[redo, :, 0], dtype=float)  # (R, K)
    k = loc.shape[1]
    for j in range(k):
        low = first[:, j - 1] if j > 0 else -np.inf
        high = first[:, j + 1] if j < k - 1 else np.inf
        first[:, j] = draws.truncated_normal(loc[redo, j, 0], sd[redo, j, 0], low, high, rng)
    mean[redo, :, 0] = first
    return mean


def _overrelaxed_ordered(loc, sd, current, mean, alpha: float, noise) -> np.ndarray:
    """:func:`overrelaxed_normal`'s ordered scan: ``mean`` holds the other features' moves;
    the first feature's means move one component at a time within their neighbours, by the
    standard normal ``noise`` (B, K) (where the neighbours are far, the untruncated move)."""
    first = np.array(current[:, :, 0], dtype=float)  # (B, K)
    k = loc.shape[1]
    spread = np.sqrt(1 - alpha**2)
    for j in range(k):
        m, s = loc[:, j, 0], sd[:, j, 0]
        low = (first[:, j - 1] - m) / s if j > 0 else np.full(m.shape, -np.inf)
        high = (first[:, j + 1] - m) / s if j < k - 1 else np.full(m.shape, np.inf)
        z = draws.truncated_normal_score(low, high, (first[:, j] - m) / s)
        # A mean at a bound (a neighbour drawn within rounding of it) has score -inf or inf.
        z = np.clip(z, -40.0, 40.0)
        moved = alpha * z + spread * noise[:, j]
        first[:, j] = m + s * draws.truncated_normal_from_score(low, high, moved)
    mean[:, :, 0] = first
    return mean


def _uniform_sd_variance(w, sum_sq, upper, lower, current, rng) -> np.ndarray:
    r"""Variances whose sd has a U(0, upper) prior (precision above ``lower`` = upper^-2),
    given W rows with sum of squares about the mean ``sum_sq``: the precision is
    Gamma((W-1)/2, sum_sq/2) above upper^-2 (see :class:`~emkit.bayes.priors.UniformSDNormal`).
    """
    if (w >= 2).all():  # every component holds two rows or more: one exact draw
        rate = np.maximum(sum_sq, TINY) / 2
        return 1.0 / draws.gamma_above((w - 1) / 2, rate, lower, rng)
    upper = np.broadcast_to(upper, w.shape)
    lower = np.broadcast_to(lower, w.shape)
    out = np.empty(w.shape)
    many = w >= 2
    if many.any():
        rate = np.maximum(sum_sq[many], np.finfo(float).tiny) / 2
        out[many] = 1.0 / draws.gamma_above((w[many] - 1) / 2, rate, lower[many], rng)
    one = (w > 0) & ~many
    if one.any():
        # Slice step on tau^(a-1) with a = (W-1)/2 in (-1/2, 1/2): u ~ U(0, tau^(a-1)) bounds
        # tau above by u^(1/(a-1)); then tau has density e^{-b tau} on (lower, that bound).
        a, b, c = (w[one] - 1) / 2, sum_sq[one] / 2, lower[one]
        tau = 1.0 / current[one]
        top = (rng.random(a.shape) * tau ** (a - 1)) ** (1 / (a - 1))
        span = np.maximum(top - c, 0)
        u = rng.random(a.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(b * span > 1e-12, -np.log1p(-u * -np.expm1(-b * span)) / b, u * span)
        out[one] = 1.0 / (c + step)
    empty = w <= 0
    out[empty] = (rng.random(int(empty.sum())) * upper[empty]) ** 2
    return out


@dataclass(frozen=True, eq=False)
class ConjugateFamilyConditional(FamilyConditional):
    """Poisson-gamma, Bernoulli-beta and categorical-Dirichlet components: the family's
    ``conjugate_update`` and one draw from the posterior it names."""

    family: Any
    priors: tuple
    n_features: int

    def __post_init__(self):
        shape = (self.n_features,)
        if isinstance(self.family, Categorical):
            shape = self.family.category_mask().shape  # (d, C), C the most categories
        hyper = {
            f.name: _per_component([getattr(p, f.name) for p in self.priors], shape)
            for f in fields(self.priors[0])
        }
        object.__setattr__(self, "hyper", hyper)

    @property
    def names(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("probs",) if not isinstance(self.family, Poisson) else ("rate",)

    def dims(self, name: str) -> tuple[str, ...]:
        """A probability per feature, and per category for categorical features."""
        return ("feature", "category") if isinstance(self.family, Categorical) else ("feature",)

    def start(self, stats: Any, x: np.ndarray) -> Params:
        return self.draw(stats, None, np.random.default_rng(0), False)

    def draw(self, stats, params, rng, ordered):
        post = self.family.conjugate_update(stats, self.hyper)
        if isinstance(self.family, Poisson):
            if np.any(post["shape"] <= 0) or np.any(post["rate"] <= 0):
                raise _improper("a gamma rate of 0")
            return {"rate": rng.standard_gamma(post["shape"]) / post["rate"]}
        if isinstance(self.family, Bernoulli):
            if np.any(post["a"] <= 0) or np.any(post["b"] <= 0):
                raise _improper("a beta parameter of 0")
            return {"probs": rng.beta(post["a"], post["b"])}
        # Codes a feature does not take have concentration 0 (and draw probability 0).
        if np.any((post["concentration"] <= 0) & self.family.category_mask()):
            raise _improper("a Dirichlet concentration of 0")
        return {"probs": draws.dirichlet(post["concentration"], rng)}


# The covariance structures (by their emkit names) GaussianConditional draws: mclust's VVV,
# EEE, VVI and VII. A debt: mclust's other ten share volume, shape or orientation across
# components and have no draw here (EII and EEI would be pooled inverse-gamma draws, as tied
# is a pooled inverse-Wishart; the others tie eigenvalues or eigenvectors across components,
# which no standard conjugate draw keeps).
GIBBS_COVARIANCES = ("full", "tied", "diag", "spherical")
# Named axes of each structure's covariance after its (B, K) axes ((B,) tied).
COVARIANCE_DIMS: dict[str, tuple[str, ...]] = {
    "full": ("feature", "feature_bis"),
    "tied": ("feature", "feature_bis"),
    "diag": ("feature",),
    "spherical": (),
}


@dataclass(frozen=True, eq=False)
class GaussianConditional(Conditional):
    r"""Multivariate normal components under a normal-inverse-Wishart prior, in one of the four
    covariance structures of :data:`GIBBS_COVARIANCES` (the prior as
    :class:`~emkit.distributions.priors.NormalInverseWishart` reads it for the MAP fit):

    - full: :math:`\Sigma_k \mid z \sim \mathrm{IW}(\nu + N_k - [\kappa=0], \Lambda_k')`;
    - tied: :math:`\Sigma \mid z \sim \mathrm{IW}(\nu + N - K[\kappa=0],
      \Lambda + \sum_k(\Lambda_k' - \Lambda))`;
    - diag: :math:`\sigma^2_{kj} \mid z \sim \mathrm{IG}((\nu + N_k - [\kappa=0])/2,
      \Lambda'_{k,jj}/2)`;
    - spherical: :math:`\sigma^2_k \mid z \sim \mathrm{IG}((\nu + d(N_k - [\kappa=0]))/2,
      \operatorname{tr}\Lambda_k'/2)`;

    then :math:`\mu_k \mid \Sigma_k, z \sim N(\mu_k', \Sigma_k/(\kappa + N_k))`, with
    :math:`\mu_k', \Lambda_k'` from :func:`~emkit.distributions.priors.niw_update`.
    """

    names: ClassVar[tuple[str, ...]] = ("mean", "covariance")
    prior: NormalInverseWishart
    covariance_type: str

    @property
    def structure(self):
        return covariance_structure(self.covariance_type)

    @property
    def shared(self) -> tuple[str, ...]:  # type: ignore[override]
        return () if self.structure.per_component else ("covariance",)

    def dims(self, name: str) -> tuple[str, ...]:
        if name == "mean":
            return ("feature",)
        return COVARIANCE_DIMS[self.structure.name]

    def components(self, params: Params) -> Any:
        mean, cov = params["mean"], params["covariance"]
        b, k, d = mean.shape
        means = mean.reshape(b * k, d)
        name = self.structure.name
        if name == "full":
            return FullGaussian.from_covariances(means, cov.reshape(b * k, d, d))
        if name == "tied":  # each batch its own shared matrix: full components, repeated
            return FullGaussian.from_covariances(means, np.repeat(cov, k, axis=0))
        if name == "diag":
            return DiagGaussian.from_covariances(means, cov.reshape(b * k, d))
        return SphericalGaussian.from_covariances(means, cov.reshape(b * k))

    def count_stats(self, x: np.ndarray, counts: np.ndarray) -> GaussianStats:
        return GaussianStats(*weighted_moments(x, counts, self.structure.diagonal_stats))

    def summarise(self, x: np.ndarray, resp: np.ndarray, batch: int) -> GaussianStats:
        flat = GaussianStats.from_data(x, resp, self.structure.diagonal_stats)
        k = resp.shape[1] // batch
        return GaussianStats(
            flat.weight.reshape(batch, k),
            flat.mean.reshape((batch, k) + flat.mean.shape[1:]),
            flat.scatter.reshape((batch, k) + flat.scatter.shape[1:]),
        )

    def start(self, stats: GaussianStats, x: np.ndarray) -> Params:
        b, k, d = stats.mean.shape
        if x.shape[0] >= 2:
            cov = np.atleast_2d(np.cov(x, rowvar=False)) + 1e-9 * np.eye(d)
        else:
            # One row has no covariance (np.cov divides by n - 1 = 0): start from the prior's,
            # its inverse-Wishart mode Lambda / (nu + d + 1) (a start need only lie in the
            # support; the prior's scale is checked proper for the structure).
            cov = self.prior.scale / (self.prior.dof + d + 1)
        mean = np.where(stats.weight[..., None] > 0, stats.mean, x.mean(axis=0))
        layout = {
            "full": np.broadcast_to(cov, (b, k, d, d)),
            "tied": np.broadcast_to(cov, (b, d, d)),
            "diag": np.broadcast_to(np.diag(cov), (b, k, d)),
            "spherical": np.full((b, k), np.trace(cov) / d),
        }[self.structure.name]
        return {"mean": mean, "covariance": np.array(layout)}

    def draw(self, stats, params, rng, ordered):
        prior = self.prior
        b, k, d = stats.mean.shape
        flat = GaussianStats(
            stats.weight.reshape(b * k),
            stats.mean.reshape(b * k, d),
            stats.scatter.reshape((b * k,) + stats.scatter.shape[2:]),
        )
        means, scales = niw_update(flat, prior.mean, prior.shrinkage, prior.scale)
        means, scales = means.reshape(b, k, d), scales.reshape((b, k) + scales.shape[1:])
        flat_mean = 1.0 if prior.shrinkage == 0 else 0.0  # the mean's integral takes a power
        n_k = stats.weight  # (B, K)
        kappa = prior.shrinkage + n_k  # (B, K)
        if np.any(kappa <= 0):
            raise _improper("a flat prior on the mean of a component with no rows")
        name = self.structure.name
        if name == "full":
            dof = prior.dof + n_k - flat_mean
            if np.any(dof <= d - 1):
                raise _improper(f"inverse-Wishart degrees of freedom {dof.min():g} <= d - 1")
            cov = draws.inverse_wishart(dof, scales, rng)  # (B, K, d, d)
            chol = np.linalg.cholesky(cov / kappa[..., None, None])
        elif name == "tied":
            dof = prior.dof + n_k.sum(axis=1) - k * flat_mean  # (B,)
            if np.any(dof <= d - 1):
                raise _improper(f"inverse-Wishart degrees of freedom {dof.min():g} <= d - 1")
            pooled = scales.sum(axis=1) - (k - 1) * prior.scale  # (B, d, d)
            cov = draws.inverse_wishart(dof, pooled, rng)  # (B, d, d)
            chol = np.linalg.cholesky(cov[:, None] / kappa[..., None, None])
        elif name == "diag":
            shape = (prior.dof + n_k - flat_mean)[..., None] / 2  # (B, K, 1)
            if np.any(shape <= 0):
                raise _improper("an inverse-gamma shape <= 0")
            cov = draws.inverse_gamma(shape, scales / 2, rng)  # (B, K, d)
            chol = None
        else:
            shape = (prior.dof + d * (n_k - flat_mean)) / 2  # (B, K)
            if np.any(shape <= 0):
                raise _improper("an inverse-gamma shape <= 0")
            cov = draws.inverse_gamma(shape, scales.sum(axis=2) / 2, rng)  # (B, K)
            chol = None
        z = rng.standard_normal((b, k, d))
        if chol is not None:
            mean = means + np.einsum("bkij,bkj->bki", chol, z)
        else:
            var = cov if cov.ndim == 3 else cov[..., None]
            mean = means + np.sqrt(var / kappa[..., None]) * z
        return {"mean": mean, "covariance": cov}


CONJUGATE_FAMILIES: dict[type, type] = {
    Poisson: GammaPrior,
    Bernoulli: BetaPrior,
    Categorical: DirichletPrior,
}
NORMAL_PRIORS = (NormalInverseGamma, SemiConjugateNormal, UniformSDNormal)


def conditional_for(
    family: Any, priors: list, n_features: int, overrelaxation: float = 0.0
) -> Conditional:
    """The conditional of K components of ``family`` under ``priors`` (one per component);
    ``overrelaxation`` of Normal means (see :class:`NormalConditional`)."""
    if isinstance(family, Normal):
        bad = [p for p in priors if not isinstance(p, NORMAL_PRIORS)]
        if bad:
            names = ", ".join(c.__name__ for c in NORMAL_PRIORS)
            raise ValueError(f"a Normal component takes one of the priors {names}; got {bad[0]!r}")
        return NormalConditional(tuple(priors), n_features, overrelaxation)
    for kind, prior_type in CONJUGATE_FAMILIES.items():
        if isinstance(family, kind):
            bad = [p for p in priors if not isinstance(p, prior_type)]
            if bad:
                raise ValueError(
                    f"a {kind.__name__} component takes a {prior_type.__name__}; got {bad[0]!r}"
                )
            return ConjugateFamilyConditional(family, tuple(priors), n_features)
    supported = ", ".join(c.__name__ for c in (Normal, *CONJUGATE_FAMILIES))
    raise ValueError(
        f"posterior sampling supports {supported} components and multivariate normals "
        f"(covariance_type=...); got {type(family).__name__}"
    )
