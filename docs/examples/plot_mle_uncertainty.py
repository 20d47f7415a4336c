"""
Maximum likelihood, Wald intervals and the posterior
====================================================

:func:`emkit.mle.poisson` gives the MLE of a Poisson rate with its standard error from the
Fisher information, :math:`\\sqrt{\\hat\\lambda/N}`; :func:`emkit.bayes.gamma_poisson` the
posterior under a conjugate Gamma prior. As the sample grows the Wald interval and the credible
interval under a flat prior agree, and both shrink like :math:`1/\\sqrt N`.
"""

import matplotlib.pyplot as plt
import numpy as np

from emkit import bayes, mle

rng = np.random.default_rng(0)
counts = rng.poisson(3.0, size=400)
sizes = [5, 10, 20, 50, 100, 200, 400]

wald, credible, estimates = [], [], []
for n in sizes:
    est = mle.poisson(counts[:n])
    estimates.append(est.params["rate"])
    wald.append(est.conf_int(0.95)["rate"])
    credible.append(bayes.gamma_poisson(counts[:n], shape=1, rate=0).interval(0.95))
print(mle.poisson(counts).report())

# %%
# Intervals against the sample size (the true rate is 3).

wald, credible = np.array(wald), np.array(credible)
fig, ax = plt.subplots(figsize=(6, 4))
ax.fill_between(sizes, credible[:, 0], credible[:, 1], alpha=0.3, label="95% credible (flat)")
ax.plot(sizes, wald[:, 0], "k--", label="95% Wald")
ax.plot(sizes, wald[:, 1], "k--")
ax.plot(sizes, estimates, "o-", label="MLE")
ax.axhline(3.0, color="grey", lw=0.8)
ax.set_xscale("log")
ax.set_xlabel("sample size N")
ax.set_ylabel("Poisson rate")
ax.legend()
plt.show()
