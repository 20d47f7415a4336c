"""
Zero-inflated counts
====================

Counts with more zeros than a Poisson allows: some units can only give 0 (a structural
zero). :class:`emkit.ZeroInflatedPoisson` fits the mixture of a point mass at zero and a
Poisson by EM, with standard errors; a plain Poisson fit (:func:`emkit.mle.poisson`)
underestimates the rate and misses the zeros.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

import emkit

rng = np.random.default_rng(0)
counts = np.where(rng.uniform(size=600) < 0.35, 0, rng.poisson(3.0, size=600))

zip_fit = emkit.ZeroInflatedPoisson().fit(counts.reshape(-1, 1))
plain = emkit.mle.poisson(counts)
pi, rate = zip_fit.zero_inflation_, zip_fit.rate_[0]
print(f"ZIP: zero inflation {pi:.3f} +- {zip_fit.stderr_[0]:.3f}, rate {rate:.3f}")
print(f"Poisson alone: rate {plain.params['rate']:.3f}")

# %%
# Observed frequencies against the two fitted distributions.

k = np.arange(counts.max() + 1)
observed = np.bincount(counts, minlength=k.size) / counts.size
zip_pmf = (1 - pi) * stats.poisson.pmf(k, rate)
zip_pmf[0] += pi
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(k, observed, color="lightgrey", label="observed")
ax.plot(k, zip_pmf, "o-", label="zero-inflated Poisson")
ax.plot(k, stats.poisson.pmf(k, plain.params["rate"]), "s--", label="Poisson")
ax.set_xlabel("count")
ax.set_ylabel("frequency")
ax.legend()
plt.show()
