"""
Posterior of a mixture by Gibbs sampling
========================================

EM gives the maximum-likelihood mixture; :class:`emkit.BayesianMixture` draws from the
posterior of the weights and the component parameters by blocked Gibbs sampling on the same
sufficient statistics. Here: two normal components for the Old Faithful waiting times, means
ordered so that the components keep their labels across draws.
"""

from importlib import resources

import matplotlib.pyplot as plt
import pandas as pd

import emkit

table = pd.read_csv(resources.files("emkit") / "data/faithful.csv")
waiting = table[["waiting"]].to_numpy()

model = emkit.BayesianMixture(
    [emkit.Normal(), emkit.Normal()],
    constraints={"ordered": True},
    chains=2,
    draws=300,
    tune=100,
    random_state=0,
).fit(waiting)
em = emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(waiting)
means = model.samples_["mean"][..., 0]  # (chains, draws, K)
print("posterior means of the component means:", means.mean(axis=(0, 1)).round(2))
print("EM's maximum-likelihood means:", sorted(round(float(c.mean[0]), 2) for c in em.components_))

# %%
# Posterior draws of each component's mean, with EM's estimates as vertical lines.

fig, ax = plt.subplots(figsize=(6, 4))
for k in range(2):
    ax.hist(means[..., k].ravel(), bins=30, alpha=0.6, label=f"component {k}")
for c in em.components_:
    ax.axvline(c.mean[0], color="black", lw=1)
ax.set_xlabel("mean waiting time (min)")
ax.set_ylabel("posterior draws")
ax.legend()
plt.show()
