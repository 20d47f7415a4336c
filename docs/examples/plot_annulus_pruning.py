"""
Pruning components: a mixture on an annulus
===========================================

900 points uniform on the ring :math:`3 \\le r \\le 4` (the classic test of Figueiredo and
Jain, 2002). EM starts from 30 k-means++ components; with ``prune_weight=0.02`` a component
whose weight falls below 2% is dropped during EM (the iterations are in
``structure_changes_``, and a :class:`~emkit.PrunedWarning` says how many of the 30 EM
removed), and mclust's normal-inverse-Wishart prior keeps the others from collapsing. The
objective rises between prunings; where a component is removed the objective itself changes.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

import emkit

rng = np.random.default_rng(0)
angle = rng.uniform(0.0, 2.0 * np.pi, 900)
radius = rng.uniform(3.0, 4.0, 900)
X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])

gm = emkit.GaussianMixture(
    30, covariance_prior="mclust", prune_weight=0.02, max_iter=3000, random_state=0
).fit(X)
print(f"components: 30 -> {len(gm.weights_)}")
print(f"pruned at iterations {list(gm.structure_changes_)}")

# %%
# The pruned fit (line width proportional to the weight) and the objective, with the pruning
# steps in red.

fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
ax = axes[0]
ax.scatter(*X.T, s=3, color="0.6")
for weight, mean, cov in zip(gm.weights_, gm.means_, gm.covariances_, strict=True):
    values, vectors = np.linalg.eigh(cov)
    tilt = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    width, height = 4 * np.sqrt(values[::-1])  # two standard deviations
    ax.add_patch(
        Ellipse(mean, width, height, angle=tilt, fill=False, lw=0.5 + 20 * weight, color="C0")
    )
ax.set_aspect("equal")
ax.set_title(f"after EM with pruning: {len(gm.weights_)} components")
ax = axes[1]
ax.plot(np.arange(1, len(gm.history_) + 1), gm.history_)
for it in gm.structure_changes_:
    ax.axvline(it + 1, color="C3", lw=0.6)
ax.set_xscale("log")
ax.set_xlabel("iteration + 1 (red: components pruned)")
ax.set_ylabel("log-posterior")
fig.tight_layout()
plt.show()
