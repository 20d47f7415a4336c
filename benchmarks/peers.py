"""The libraries the benchmark runs, each behind the same three calls.

``warm_up(x, start, cov)`` does what should not be timed (JAX compilation, moving data into a
framework's arrays, done once per configuration); ``fixed(x, start, cov, iters)`` runs exactly
``iters`` plain EM iterations; ``converge(x, start, cov, tol, max_iter)`` runs to the library's
own stopping rule with a per-sample tolerance ``tol``. Both return a :class:`Fit`.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

import numpy as np

REG_COVAR = 1e-6


@dataclass
class Fit:
    n_iter: int
    params: dict  # weights (k,), means (k, d), covariances (k, d, d) or (k, d)


def available(name: str) -> bool:
    module = {"scikit-learn": "sklearn", "pomegranate": "pomegranate", "gmmx": "gmmx"}[name]
    if importlib.util.find_spec(module) is None:
        return False
    if name == "pomegranate":
        return importlib.util.find_spec("torch") is not None
    return True


def _precisions(start: dict, cov: str) -> np.ndarray:
    return np.linalg.inv(start["covariances"]) if cov == "full" else 1.0 / start["covariances"]


class Emkit:
    @staticmethod
    def warm_up(x, start, cov):
        pass

    @staticmethod
    def _fit(x, start, cov, **options):
        from emkit import GaussianMixture

        k = start["weights"].shape[0]
        model = GaussianMixture(
            k,
            covariance_type=cov,
            reg_covar=REG_COVAR,
            weights_init=start["weights"],
            means_init=start["means"],
            precisions_init=_precisions(start, cov),
            random_state=0,
            **options,
        ).fit(x)
        params = {
            "weights": model.weights_,
            "means": model.means_,
            "covariances": model.covariances_,
        }
        return model, params

    @staticmethod
    def fixed(x, start, cov, iters):
        from sklearn.exceptions import ConvergenceWarning  # emkit's, as scikit-learn's

        with warnings.catch_warnings():  # stopping at max_iter is the point here
            warnings.simplefilter("ignore", ConvergenceWarning)
            model, params = Emkit._fit(x, start, cov, tol=0.0, max_iter=iters, accelerate=None)
        return Fit(model.n_iter_, params)

    @staticmethod
    def converge(x, start, cov, tol, max_iter):
        model, params = Emkit._fit(x, start, cov, tol=tol, max_iter=max_iter)
        return Fit(model.n_iter_, params)


class Sklearn:
    @staticmethod
    def warm_up(x, start, cov):
        pass

    @staticmethod
    def _fit(x, start, cov, tol, max_iter):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.mixture import GaussianMixture

        k = start["weights"].shape[0]
        model = GaussianMixture(
            k,
            covariance_type=cov,
            tol=tol,
            reg_covar=REG_COVAR,
            max_iter=max_iter,
            init_params="random_from_data",
            weights_init=start["weights"],
            means_init=start["means"],
            precisions_init=_precisions(start, cov),
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x)
        params = {
            "weights": model.weights_,
            "means": model.means_,
            "covariances": model.covariances_,
        }
        return Fit(model.n_iter_, params)

    @staticmethod
    def fixed(x, start, cov, iters):
        return Sklearn._fit(x, start, cov, 0.0, iters)

    @staticmethod
    def converge(x, start, cov, tol, max_iter):
        return Sklearn._fit(x, start, cov, tol, max_iter)


class Pomegranate:
    _tensor: tuple = (None, None)

    @staticmethod
    def warm_up(x, start, cov):
        import torch

        if Pomegranate._tensor[0] is not x:
            Pomegranate._tensor = (x, torch.from_numpy(x))  # shares memory with x

    @staticmethod
    def _fit(x, start, cov, tol, max_iter):
        import torch
        from pomegranate.distributions import Normal
        from pomegranate.gmm import GeneralMixtureModel

        Pomegranate.warm_up(x, start, cov)
        data = Pomegranate._tensor[1]
        dists = [
            Normal(
                means=torch.tensor(m, dtype=torch.float64),
                covs=torch.tensor(c, dtype=torch.float64),
                covariance_type=cov,
            )
            for m, c in zip(start["means"], start["covariances"], strict=True)
        ]
        model = GeneralMixtureModel(
            dists,
            priors=torch.tensor(start["weights"], dtype=torch.float64),
            max_iter=max_iter,
            tol=tol,
            verbose=False,
        )
        calls = [0]
        summarize = model.summarize

        def counted(*args, **kwargs):
            calls[0] += 1
            return summarize(*args, **kwargs)

        model.summarize = counted
        model.fit(data)
        params = {
            "weights": model.priors.detach().numpy(),
            "means": np.stack([d.means.detach().numpy() for d in model.distributions]),
            "covariances": np.stack([d.covs.detach().numpy() for d in model.distributions]),
        }
        return Fit(calls[0], params)

    @staticmethod
    def fixed(x, start, cov, iters):
        return Pomegranate._fit(x, start, cov, -np.inf, iters)

    @staticmethod
    def converge(x, start, cov, tol, max_iter):
        # pomegranate's tol is on the gain of the total log-likelihood.
        return Pomegranate._fit(x, start, cov, tol * x.shape[0], max_iter)


class Gmmx:
    _data: tuple = (None, None)
    _compiled: dict = {}

    @staticmethod
    def _model(start, cov):
        import jax.numpy as jnp
        from gmmx import GaussianMixtureModelJax

        return GaussianMixtureModelJax.from_squeezed(
            means=jnp.asarray(start["means"], dtype=jnp.float32),
            covariances=jnp.asarray(start["covariances"], dtype=jnp.float32),
            weights=jnp.asarray(start["weights"], dtype=jnp.float32),
            covariance_type=cov,
        )

    @staticmethod
    def warm_up(x, start, cov):
        import jax.numpy as jnp

        if Gmmx._data[0] is not x:
            Gmmx._data = (x, jnp.asarray(x, dtype=jnp.float32))
            Gmmx._compiled = {}

    @staticmethod
    def _fit(x, start, cov, tol, max_iter):
        from gmmx import EMFitter

        Gmmx.warm_up(x, start, cov)
        data = Gmmx._data[1]
        gmm = Gmmx._model(start, cov)
        fitter = EMFitter(tol=tol, max_iter=max_iter, reg_covar=REG_COVAR)
        key = (cov, tol, max_iter)
        if key not in Gmmx._compiled:
            # Compilation happens once per shape and setting; it is not part of an iteration.
            Gmmx._compiled[key] = EMFitter.fit.lower(fitter, data, gmm).compile()
        return Gmmx._compiled[key], fitter, data, gmm

    @staticmethod
    def _run(x, start, cov, tol, max_iter):
        compiled, fitter, data, gmm = Gmmx._fit(x, start, cov, tol, max_iter)
        result = compiled(fitter, data, gmm)
        model = result.gmm
        covariances = np.asarray(model.covariances.values, dtype=np.float64)
        covariances = covariances.reshape(
            covariances.shape[1:-1] if cov == "diag" else covariances.shape[1:]
        )
        params = {
            "weights": np.asarray(model.weights, dtype=np.float64).ravel(),
            "means": np.asarray(model.means, dtype=np.float64).reshape(start["means"].shape),
            "covariances": covariances,
        }
        return Fit(int(result.n_iter), params)

    @staticmethod
    def prepare_fixed(x, start, cov, iters):
        Gmmx._fit(x, start, cov, -1.0, iters)

    @staticmethod
    def prepare_converge(x, start, cov, tol, max_iter):
        Gmmx._fit(x, start, cov, tol, max_iter)

    @staticmethod
    def fixed(x, start, cov, iters):
        return Gmmx._run(x, start, cov, -1.0, iters)

    @staticmethod
    def converge(x, start, cov, tol, max_iter):
        return Gmmx._run(x, start, cov, tol, max_iter)


PEERS = {"emkit": Emkit, "scikit-learn": Sklearn, "pomegranate": Pomegranate, "gmmx": Gmmx}
