"""Old Faithful's waiting times, three ways: a Bayesian generative classifier and mixture.

The model (the PyMC example this project grew from, with priors on the waiting times' scale):
weight p ~ Uniform(0, 1); means ~ Normal((55, 80), (10, 10)); standard deviations
~ Uniform(0, 25); no weight below 0.1 and the means in increasing order; waiting ~
Normal(mean[z], sd[z]). The label z is the eruption's kind, short (<= 3 minutes) or long:

- supervised: every label observed (z from the eruption's duration);
- unsupervised: no label, z latent;
- semi-supervised: every fourth label observed.

Each fit is ``emkit.BayesianMixture`` (blocked Gibbs on the EM engine's statistics, 4 chains).
The figure shows the posteriors of the means, standard deviations and weight for the three
fits, and the posterior predictive density of the unsupervised fit over the data.

Needs arviz, for the summaries and ``posterior_``: ``pip install "emkit[bayes]"``.
Run: ``python examples/bayes_faithful.py`` (writes ``examples/bayes_faithful.png`` and prints
arviz's summaries).
"""

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from emkit import BayesianMixture, Normal, UniformSDNormal  # noqa: E402


def faithful() -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_csv(resources.files("emkit").joinpath("data/faithful.csv"))
    return table[["waiting"]].to_numpy(float), (table["eruptions"].to_numpy() > 3).astype(int)


def model() -> BayesianMixture:
    priors = [UniformSDNormal(55.0, 10.0, 25.0), UniformSDNormal(80.0, 10.0, 25.0)]
    return BayesianMixture(
        [Normal(), Normal()],
        priors=priors,
        weight_prior=1.0,  # Dirichlet(1, 1): p uniform
        constraints={"ordered": True, "min_weight": 0.1},
        chains=4,
        draws=1000,
        tune=500,
        random_state=0,
    )


def main() -> None:
    try:
        import arviz as az
    except ImportError:
        raise ImportError(
            "examples/bayes_faithful.py needs arviz for its summaries: "
            "pip install 'emkit[bayes]' (or pip install arviz)"
        ) from None

    waiting, labels = faithful()
    semi = np.where(np.arange(labels.size) % 4 == 0, labels, -1)
    fits = {
        "supervised": model().fit(waiting, labels=labels),
        "unsupervised": model().fit(waiting),
        "semi-supervised": model().fit(waiting, labels=semi),
    }
    for name, fit in fits.items():
        print(f"--- {name} ({fit.fit_type_}) ---")
        print(az.summary(fit.posterior_, var_names=["weights", "mean", "sd"], round_to=3))

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    panels = [
        ("mean", 0, "mean, short eruptions"),
        ("mean", 1, "mean, long eruptions"),
        ("sd", 0, "sd, short eruptions"),
        ("sd", 1, "sd, long eruptions"),
        ("weights", 0, "weight of short eruptions"),
    ]
    for ax, (var, k, title) in zip(axes.ravel(), panels, strict=False):
        for name, fit in fits.items():
            draws = fit.samples_[var][:, :, k].ravel()
            ax.hist(draws, bins=60, density=True, histtype="step", label=name)
        ax.set_title(title)
    axes[0, 0].legend(fontsize=8)
    ax = axes[1, 2]
    grid = np.linspace(40, 100, 300)[:, None]
    unsup = fits["unsupervised"]
    ax.hist(waiting[:, 0], bins=30, density=True, color="0.8", label="waiting times")
    ax.plot(grid[:, 0], np.exp(unsup.score_samples(grid)), label="posterior predictive")
    proba, spread = unsup.predict_proba(grid, return_std=True)
    ax2 = ax.twinx()
    ax2.plot(grid[:, 0], proba[:, 1], color="C3", lw=1, label="P(long | waiting)")
    ax2.fill_between(
        grid[:, 0], proba[:, 1] - spread[:, 1], proba[:, 1] + spread[:, 1], color="C3", alpha=0.2
    )
    ax2.set_ylim(0, 1)
    ax.set_title("unsupervised: predictive density, P(long)")
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Old Faithful waiting times: posteriors by BayesianMixture (4 chains x 1000)")
    fig.tight_layout()
    out = Path(__file__).with_suffix(".png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
