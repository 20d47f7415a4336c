r"""Priors on a normal component that are not conjugate, for posterior sampling.

The mean has a normal prior :math:`\mu \sim N(m, s^2)` independent of the spread, whose prior is
an inverse gamma on the variance (:class:`SemiConjugateNormal`, the "normal / inverse-gamma"
prior) or a uniform on the standard deviation (:class:`UniformSDNormal`, the prior of
Gelman et al.'s and PyMC's examples). Neither has a closed-form posterior; each full
conditional does, and :class:`~emkit.BayesianMixture` samples them in turn. For the joint
conjugate prior use :class:`~emkit.distributions.priors.NormalInverseGamma`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.priors import PRIORS, _Prior, check_finite


def _check(name: str, value, *, positive: bool = True, infinite: bool = False) -> None:
    array = np.asarray(value, dtype=float)
    ok = (array > 0 if positive else array >= 0) & (np.isfinite(array) | infinite)
    if not np.all(ok):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"prior hyperparameter {name} must be {bound}; got {value!r}")


@dataclass(frozen=True)
class SemiConjugateNormal(_Prior):
    r"""Independent priors :math:`\mu \sim N(m, s^2)` and :math:`v \sim \mathrm{IG}(a, b)`.

    Full conditionals: :math:`\mu \mid v` normal with precision :math:`1/s^2 + W/v` and mean
    :math:`(m/s^2 + W\bar x/v)/(1/s^2 + W/v)`; :math:`v \mid \mu \sim \mathrm{IG}(a + W/2,
    b + (S + W(\bar x - \mu)^2)/2)`. ``mean_sd = inf`` leaves the mean flat.

    Attributes
    ----------
    mean, mean_sd : m and s (s > 0, may be inf); floats or arrays of shape (d,).
    shape, scale : a > 0 and b > 0 of the variance's inverse gamma.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import BayesianMixture, Normal, SemiConjugateNormal
    >>> x = np.array([-2.0, -2.1, -1.9, -2.2, -1.8, 2.0, 2.1, 1.9, 2.2, 1.8, -2.5, 2.5])
    >>> y = [0] * 5 + [1] * 5 + [-1, -1]  # the last two rows unlabelled
    >>> prior = SemiConjugateNormal(mean=0.0, mean_sd=10.0, shape=2.0, scale=1.0)
    >>> model = BayesianMixture(
    ...     [Normal(), Normal()], priors=prior, draws=200, tune=50, random_state=0
    ... ).fit(x[:, None], labels=y)
    >>> model.fit_type_, model.samples_["mean"].mean(axis=(0, 1))[:, 0].round(0)
    ('semi-supervised', array([-2.,  2.]))
    """

    kind: ClassVar[str] = "semi_conjugate_normal"
    mean: float = 0.0
    mean_sd: float = np.inf
    shape: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        check_finite("mean", self.mean)
        _check("mean_sd", self.mean_sd, infinite=True)
        _check("shape", self.shape)
        _check("scale", self.scale)


@dataclass(frozen=True)
class UniformSDNormal(_Prior):
    r"""Independent priors :math:`\mu \sim N(m, s^2)` and :math:`\sigma \sim U(0, u)`.

    Full conditionals: :math:`\mu \mid \sigma` as in :class:`SemiConjugateNormal`; the
    precision :math:`\tau = \sigma^{-2}` given :math:`\mu` has density
    :math:`\propto \tau^{(W-1)/2 - 1} e^{-\tau (S + W(\bar x - \mu)^2)/2}` on
    :math:`\tau > u^{-2}`, a truncated gamma drawn exactly by its inverse CDF (W >= 2), by a
    slice step (W = 1), and :math:`\sigma \sim U(0, u)` for an empty component.

    Attributes
    ----------
    mean, mean_sd : m and s (s > 0, may be inf); floats or arrays of shape (d,).
    sd_upper : u > 0, the largest standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import BayesianMixture, Normal, UniformSDNormal
    >>> x = np.array([-2.0, -2.1, -1.9, -2.2, -1.8, 2.0, 2.4, 1.6, 2.8, 1.2])[:, None]
    >>> prior = UniformSDNormal(mean=0.0, mean_sd=10.0, sd_upper=1.0)
    >>> model = BayesianMixture(
    ...     [Normal(), Normal()], priors=prior, draws=200, tune=50, random_state=0
    ... ).fit(x, labels=[0] * 5 + [1] * 5)
    >>> model.fit_type_, bool(model.samples_["sd"].max() <= 1.0)  # never above the bound
    ('supervised', True)
    """

    kind: ClassVar[str] = "uniform_sd_normal"
    mean: float = 0.0
    mean_sd: float = np.inf
    sd_upper: float = 1.0

    def __post_init__(self):
        check_finite("mean", self.mean)
        _check("mean_sd", self.mean_sd, infinite=True)
        _check("sd_upper", self.sd_upper)


# Every prior posterior sampling takes, by its ``to_dict`` kind (for model files).
SAMPLING_PRIORS: dict[str, type[_Prior]] = {
    **PRIORS,
    **{cls.kind: cls for cls in (SemiConjugateNormal, UniformSDNormal)},
}
