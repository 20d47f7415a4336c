"""
k-means is hard EM
==================

:class:`emkit.KMeans` alternates nearest-centre assignment and cluster means: hard EM for a
Gaussian mixture with equal weights and one spherical covariance. Its ``history_`` is the
classification log-likelihood, const - inertia / 2, which rises at every step. Soft EM with
``GaussianMixture`` lets clusters differ in size and spread; on elongated clusters of different
sizes the two partitions disagree.
"""

import matplotlib.pyplot as plt
import numpy as np

import emkit

rng = np.random.default_rng(0)
X = np.vstack(
    [
        rng.multivariate_normal([0, 0], [[4, 0], [0, 0.2]], 400),
        rng.multivariate_normal([0, 2.5], [[0.3, 0], [0, 0.3]], 100),
    ]
)
km = emkit.KMeans(2, n_init=3, random_state=0).fit(X)
gm = emkit.GaussianMixture(2, n_init=3, random_state=0).fit(X)
print(f"k-means: inertia {km.inertia_:.1f} after {km.n_iter_} iterations")
print("classification log-likelihood rose every step:", bool(np.all(np.diff(km.history_) >= 0)))

# %%
# Left: the k-means partition (Voronoi cells of the centres). Right: the Gaussian mixture's.

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
axes[0].scatter(*X.T, c=km.labels_, s=8, cmap="coolwarm")
axes[0].scatter(*km.cluster_centers_.T, marker="x", color="black", s=80)
axes[0].set_title("k-means (hard EM, spherical)")
axes[1].scatter(*X.T, c=gm.predict(X), s=8, cmap="coolwarm")
axes[1].scatter(*gm.means_.T, marker="x", color="black", s=80)
axes[1].set_title("Gaussian mixture (soft EM, full)")
plt.show()
