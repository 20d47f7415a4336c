"""Reference posterior of the two-component model on Old Faithful's waiting times, by PyMC.

Run once (``python tests/reference/faithful_pymc.py``; needs PyMC, which the tests do not);
it writes ``faithful_pymc.json`` beside it, which ``tests/test_bayesian_mixture.py`` reads.

The model (the issue's, with priors on the waiting times' scale):
p ~ Uniform(0, 1), weights (p, 1 - p); means ~ Normal((55, 80), (10, 10)); sds ~ Uniform(0, 25);
potentials forbidding a weight below 0.1 and forcing mean[0] < mean[1]; waiting ~ Normal(mean[z],
sd[z]), z latent (marginalised: NormalMixture) or observed. Semi-supervised: every fourth row is
labelled, z = 1 where the eruption lasted more than 3 minutes.
"""

import json
from importlib import resources
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

PRIOR = {"means": [55.0, 80.0], "means_sd": [10.0, 10.0], "sd_upper": 25.0, "min_weight": 0.1}
SEMI_EVERY = 4
DRAWS, TUNE, CHAINS, SEED = 5000, 1000, 4, 20261129


def faithful():
    table = pd.read_csv(resources.files("emkit").joinpath("data/faithful.csv"))
    waiting = table["waiting"].to_numpy(float)
    labels = (table["eruptions"].to_numpy() > 3).astype(int)
    return waiting, labels


def model(waiting, labels=None):
    """labels: None (unsupervised) or an int array with -1 for unlabelled rows."""
    with pm.Model() as m:
        p = pm.Uniform("p", 0, 1)
        w = pt.stack([p, 1 - p])
        means = pm.Normal(
            "means",
            mu=PRIOR["means"],
            sigma=PRIOR["means_sd"],
            shape=2,
            initval=np.array(PRIOR["means"]),
        )
        sds = pm.Uniform("sds", 0, PRIOR["sd_upper"], shape=2, initval=np.array([5.0, 5.0]))
        pm.Potential("min_weight", pt.switch(pt.lt(pt.min(w), PRIOR["min_weight"]), -np.inf, 0))
        pm.Potential("ordered", pt.switch(pt.lt(means[1] - means[0], 0), -np.inf, 0))
        free = np.ones(waiting.size, bool) if labels is None else labels < 0
        pm.NormalMixture("x_free", w=w, mu=means, sigma=sds, observed=waiting[free])
        if labels is not None:
            known = labels[~free]
            pm.Potential("labels", pt.sum(pt.log(w)[known]))
            pm.Normal("x_known", mu=means[known], sigma=sds[known], observed=waiting[~free])
    return m


def mcse_sd(arr):
    """Monte Carlo SE of the posterior sd by the delta method on squared deviations (arviz's
    method="sd" fails under NumPy 2 in arviz 0.23)."""
    sq = (arr - arr.mean()) ** 2
    se_var = np.sqrt(sq.var(ddof=1) / float(az.ess(sq, method="mean")))
    return se_var / (2 * arr.std(ddof=1))


def summary(idata):
    post = idata.posterior
    out = {}
    values = {
        "weight0": post["p"],
        "mean0": post["means"][..., 0],
        "mean1": post["means"][..., 1],
        "sd0": post["sds"][..., 0],
        "sd1": post["sds"][..., 1],
    }
    for name, value in values.items():
        arr = value.values
        out[name] = {
            "mean": float(arr.mean()),
            "sd": float(arr.std(ddof=1)),
            "mcse_mean": float(np.ravel(az.mcse(arr, method="mean"))[0]),
            "mcse_sd": float(mcse_sd(arr)),
            "ess": float(az.ess(arr)),
            "r_hat": float(az.rhat(arr)),
        }
    return out


def main():
    waiting, labels = faithful()
    semi = np.where(np.arange(waiting.size) % SEMI_EVERY == 0, labels, -1)
    result = {
        "prior": PRIOR,
        "semi_every": SEMI_EVERY,
        "draws": DRAWS,
        "tune": TUNE,
        "chains": CHAINS,
        "pymc": pm.__version__,
    }
    for name, y in (("unsupervised", None), ("semi_supervised", semi)):
        with model(waiting, y):
            idata = pm.sample(
                DRAWS,
                tune=TUNE,
                chains=CHAINS,
                cores=1,
                random_seed=SEED,
                progressbar=False,
                target_accept=0.9,
            )
        idata.to_netcdf(f"faithful_pymc_{name}.nc")  # for inspection; not kept
        result[name] = summary(idata)
        result[name]["divergences"] = int(idata.sample_stats["diverging"].sum())
        print(name, json.dumps(result[name], indent=1))
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
