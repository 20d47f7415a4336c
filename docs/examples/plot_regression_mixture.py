"""
A mixture of regression lines
=============================

Two regimes, each a straight line: :class:`emkit.MixtureOfRegressions` fits both lines, their
residual spreads and each point's posterior probability of belonging to either, by EM with
weighted least squares in the M-step.
"""

import matplotlib.pyplot as plt
import numpy as np

import emkit

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, size=(300, 1))
upper = rng.uniform(size=300) < 0.5
y = np.where(upper, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0]) + rng.normal(0, 0.6, 300)

model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
for k in range(2):
    print(
        f"line {k}: y = {model.intercept_[k]:.2f} {model.coef_[k, 0]:+.2f} x, "
        f"sigma {model.sigmas_[k]:.2f}, weight {model.weights_[k]:.2f}"
    )

# %%
# Points coloured by their posterior probability of the first line.

proba = model.predict_proba(x, y)[:, 0]
grid = np.linspace(0, 10, 50)
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(x[:, 0], y, c=proba, cmap="coolwarm", s=10)
for k in range(2):
    ax.plot(grid, model.intercept_[k] + model.coef_[k, 0] * grid, color="black")
ax.set_xlabel("x")
ax.set_ylabel("y")
plt.show()
