"""
EM for missing values
=====================

With values missing at random, :class:`emkit.GaussianImputer` fits a multivariate normal by EM:
each E-step fills a row's missing coordinates with their conditional mean and adds their
conditional covariance to the scatter. Dropping incomplete rows (complete-case analysis) biases
the estimates when missingness depends on observed values; filling with column means shrinks
the covariance. Here the second column is more often missing when the first is large.
"""

import matplotlib.pyplot as plt
import numpy as np

import emkit

rng = np.random.default_rng(0)
true_cov = np.array([[1.0, 0.8], [0.8, 1.0]])
full = rng.multivariate_normal([0.0, 0.0], true_cov, size=500)
X = full.copy()
missing = rng.uniform(size=500) < 1 / (1 + np.exp(-2 * full[:, 0]))  # MAR: depends on x1
X[missing, 1] = np.nan

imputer = emkit.GaussianImputer().fit(X)
complete = X[~missing]
mean_filled = np.where(np.isnan(X), np.nanmean(X, axis=0), X)
print(f"{missing.mean():.0%} of the second column missing")
print("true mean          ", [0.0, 0.0])
print("EM mean            ", imputer.mean_.round(3))
print("complete-case mean ", complete.mean(axis=0).round(3))
print("EM covariance      ", imputer.covariance_.round(3).tolist())
print("mean-filled cov.   ", np.cov(mean_filled.T, bias=True).round(3).tolist())

# %%
# Rows with a missing second coordinate, filled in with their conditional means: they lie
# on the regression line of x2 on x1 that EM estimated.

filled = imputer.transform(X)
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(*complete.T, s=8, alpha=0.5, label="observed rows")
ax.scatter(*filled[missing].T, s=8, color="C3", label="imputed (conditional mean)")
ax.set_xlabel("x1")
ax.set_ylabel("x2")
ax.legend()
plt.show()
