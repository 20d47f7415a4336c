"""
Semi-supervised classification with a few labels
================================================

:class:`emkit.GenerativeClassifier` is QDA/LDA when every row is labelled. With
``unlabelled=-1``, rows labelled ``-1`` are unlabelled, and EM uses them too: the labelled rows keep their classes, the
unlabelled ones get responsibilities. With a handful of labels this can recover most of the
accuracy of the fully labelled fit, when the Gaussian model is right.
"""

import matplotlib.pyplot as plt
import numpy as np

import emkit

rng = np.random.default_rng(1)
cov = [[1.0, 0.9], [0.9, 1.0]]
X = np.vstack(
    [rng.multivariate_normal([0, 0], cov, 400), rng.multivariate_normal([1.5, 0], cov, 400)]
)
y = np.repeat([0, 1], 400)

counts = [4, 8, 16, 32, 64]
supervised, semi = [], []
for n_labels in counts:
    acc_sup, acc_semi = [], []
    for seed in range(5):
        pick = np.random.default_rng(seed).choice(800, n_labels, replace=False)
        if len(set(y[pick])) < 2:
            continue
        y_semi = np.full(800, -1)
        y_semi[pick] = y[pick]
        acc_sup.append(emkit.GenerativeClassifier("tied").fit(X[pick], y[pick]).score(X, y))
        semi_fit = emkit.GenerativeClassifier("tied", unlabelled=-1).fit(X, y_semi)
        acc_semi.append(semi_fit.score(X, y))
    supervised.append(np.mean(acc_sup))
    semi.append(np.mean(acc_semi))
full = emkit.GenerativeClassifier("tied").fit(X, y).score(X, y)
print(f"all 800 labels: accuracy {full:.3f}")

# %%
# Mean accuracy over five draws of the labelled rows.

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(counts, supervised, "o-", label="labelled rows only (LDA)")
ax.plot(counts, semi, "s-", label="labelled + unlabelled (EM)")
ax.axhline(full, color="grey", ls="--", label="all rows labelled")
ax.set_xscale("log", base=2)
ax.set_xlabel("number of labelled rows")
ax.set_ylabel("accuracy on all rows")
ax.legend()
plt.show()
