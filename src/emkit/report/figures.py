"""Figures for a fitted Gaussian mixture, drawn with matplotlib's Agg canvas (no display needed).

Each function returns a :class:`matplotlib.figure.Figure`; :func:`save_figures` writes all four
as PNG files. Figures are built on ``Figure`` objects directly, never through ``pyplot``, so
drawing them changes no global state and needs no GUI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from scipy.stats import norm
from sklearn.decomposition import PCA

from emkit.distributions.gaussian import covariance_structure

DPI = 110
FIGURE_FILES = {
    "criterion": "model-selection.png",
    "history": "log-likelihood.png",
    "clusters": "clusters.png",
    "uncertainty": "uncertainty.png",
}


@dataclass(frozen=True)
class Projection:
    """Data and components mapped to the (at most two) axes a figure shows.

    Attributes
    ----------
    points : array of shape (n, m), m = 1 or 2.
    means : array of shape (k, m).
    covariances : array of shape (k, m, m).
    axis_labels : m strings.
    note : how the axes were obtained, for titles ("" when they are the data's columns).
    """

    points: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    axis_labels: tuple[str, ...]
    note: str


def project(model, x: np.ndarray, columns: list[str]) -> Projection:
    """Map data and components to at most two axes: the columns, or two principal components.

    With more than two columns, the data are projected on their first two principal components
    and each component's mean and covariance go through the same linear map
    (mean -> C (mean - centre), covariance -> C Sigma C^T, with C the (2, d) loadings).

    Parameters
    ----------
    model : fitted GaussianMixture.
    x : array of shape (n, d), the data the model was fitted to.
    columns : d column names.
    """
    structure = covariance_structure(model.covariance_type)
    full = structure.from_covariances(model.means_, model.covariances_).full_covariances()
    d = x.shape[1]
    if d <= 2:
        return Projection(x, model.means_, full, tuple(columns), "")
    pca = PCA(n_components=2).fit(x)
    loadings = pca.components_  # (2, d)
    covariances = np.einsum("id,kde,je->kij", loadings, full, loadings)  # (k, 2, 2)
    labels = tuple(
        f"PC{i + 1} ({100 * r:.0f}% of variance)"
        for i, r in enumerate(pca.explained_variance_ratio_)
    )
    note = f"first two principal components of {d} columns"
    return Projection(pca.transform(x), pca.transform(model.means_), covariances, labels, note)


def cluster_colors(k: int) -> list:
    """k distinguishable colours: tab10 up to 10 clusters, tab20 (cycled) beyond."""
    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _figure(width: float, height: float, ncols: int = 1):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    return fig, axes


def _model_name(model) -> str:
    alias = covariance_structure(model.covariance_type).alias
    return f"{model.n_components}-component '{model.covariance_type}' ({alias}) mixture"


def criterion_figure(table: pd.DataFrame, criterion: str = "bic", chosen=None) -> Figure:
    """The criterion against the number of components, one line per covariance type.

    Degenerate fits are left as gaps in their line, as mclust leaves NA.

    Parameters
    ----------
    table : ``MixtureSelection.table_``.
    criterion : the column to draw: "bic", "aic" or "icl".
    chosen : the selected model, marked with a ring; None for no mark.
    """
    fig, (ax, zoom) = _figure(13, 5, ncols=2)
    name = criterion.upper()
    valid = table[criterion].where(~table["degenerate"].astype(bool))
    for axes in (ax, zoom):
        for i, (cov, rows) in enumerate(table.groupby("covariance_type", sort=False)):
            rows = rows.sort_values("n_components")
            values = rows[criterion].where(~rows["degenerate"].astype(bool))
            alias = covariance_structure(cov).alias
            n_bad = int(rows["degenerate"].sum())
            label = f"{cov} ({alias})" + (f", {n_bad} degenerate left out" if n_bad else "")
            axes.plot(rows["n_components"], values, marker="os^D"[i % 4], markersize=5, label=label)
        if chosen is not None:
            value = table.loc[
                (table["n_components"] == chosen.n_components)
                & (table["covariance_type"] == chosen.covariance_type),
                criterion,
            ].iloc[0]
            axes.plot(
                [chosen.n_components],
                [value],
                marker="o",
                markersize=16,
                markerfacecolor="none",
                markeredgecolor="black",
                markeredgewidth=1.5,
                linestyle="none",
                label=f"chosen: {chosen.n_components} components, {chosen.covariance_type}",
            )
        axes.set_xticks(sorted(table["n_components"].unique()))
        axes.set_xlabel("number of components K")
        axes.set_ylabel(f"{name} (scikit-learn sign: lower is better)")
        axes.grid(alpha=0.3)
    ax.set_title(f"{name} of every fit")
    ax.legend(title="covariance", fontsize=9)
    low, high = float(valid.min()), float(valid.max())
    span = max(0.1 * (high - low), 10.0)
    zoom.set_ylim(low - 0.15 * span, low + span)
    zoom.set_title(f"Zoom on the best: {name} within {span:.0f} of the lowest")
    fig.suptitle(f"Model selection by {name}: number of components and covariance type")
    return fig


def history_figure(model) -> Figure:
    """The objective EM climbs (``history_``) after each iteration of a fit, and its gain.

    The objective is the log-likelihood plus, when ``reg_covar > 0``, the log-density of the
    ridge prior that ``reg_covar`` stands for.
    """
    history = np.asarray(model.history_, dtype=float)
    name = "log-likelihood + ridge log-prior" if model.reg_covar > 0 else "log-likelihood"
    fig, (left, right) = _figure(11, 4.5, ncols=2)
    iterations = np.arange(history.size)
    marker = "o" if history.size <= 40 else None
    left.plot(iterations, history, marker=marker, markersize=3, color="C0")
    left.set_xlabel("EM iteration (0 = starting values)")
    left.set_ylabel(name)
    left.set_title("Objective per iteration")
    left.grid(alpha=0.3)
    gains = np.diff(history)
    positive = gains > 0
    if positive.any():
        right.semilogy(iterations[1:][positive], gains[positive], marker=marker, markersize=3)
    else:
        right.text(0.5, 0.5, "no gain to show", ha="center", va="center", transform=right.transAxes)
    right.set_xlabel("EM iteration")
    right.set_ylabel(f"gain in {name} (log scale)")
    right.set_title("Gain per iteration (EM never decreases it)")
    right.grid(alpha=0.3)
    state = "converged" if model.converged_ else "stopped at max_iter without converging"
    fig.suptitle(f"EM for the chosen {_model_name(model)}: {model.n_iter_} iterations, {state}")
    return fig


def _ellipse(ax, mean, cov, radius, color, style) -> None:
    values, vectors = np.linalg.eigh(cov)  # ascending eigenvalues
    values = np.clip(values, 0.0, None)
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    ax.add_patch(
        Ellipse(
            mean,
            width=2 * radius * np.sqrt(values[1]),
            height=2 * radius * np.sqrt(values[0]),
            angle=angle,
            facecolor="none",
            edgecolor=color,
            linestyle=style,
            linewidth=1.6,
        )
    )


def clusters_figure(model, x: np.ndarray, columns: list[str]) -> Figure:
    """The data coloured by cluster, with each component's 1- and 2-sigma ellipse.

    One column: a histogram with each weighted component density and the mixture density.
    Two columns: a scatter plot. More: the first two principal components (see :func:`project`).
    """
    labels = model.predict(x)
    k = model.n_components
    colors = cluster_colors(k)
    view = project(model, x, columns)
    fig, ax = _figure(7.5, 5.5)
    if view.points.shape[1] == 1:
        values = view.points[:, 0]
        bins = int(np.clip(np.sqrt(values.size), 10, 50))
        ax.hist(values, bins=bins, density=True, color="0.85", edgecolor="0.6", label="data")
        pad = 0.05 * (np.ptp(values) or 1.0)
        grid = np.linspace(values.min() - pad, values.max() + pad, 400)
        sd = np.sqrt(view.covariances[:, 0, 0])
        densities = model.weights_[:, None] * norm.pdf(grid, view.means, sd[:, None])  # (k, g)
        for j in range(k):
            count = int((labels == j).sum())
            ax.plot(grid, densities[j], color=colors[j], lw=2, label=f"cluster {j} (n={count})")
            ax.plot(values[labels == j], np.zeros(count), "|", color=colors[j], markersize=12)
        ax.plot(grid, densities.sum(axis=0), color="black", lw=1.5, ls="--", label="mixture")
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel("density")
        ax.set_title(f"Clusters of the {_model_name(model)}: data and fitted densities")
    else:
        for j in range(k):
            mask = labels == j
            ax.scatter(
                *view.points[mask].T,
                s=14,
                alpha=0.75,
                color=colors[j],
                edgecolors="none",
                label=f"cluster {j} (n={int(mask.sum())})",
            )
        for j in range(k):
            for radius, style in ((1.0, "-"), (2.0, "--")):
                _ellipse(ax, view.means[j], view.covariances[j], radius, colors[j], style)
            ax.plot(*view.means[j], marker="X", color=colors[j], markeredgecolor="black", ms=10)
        ax.plot([], [], color="0.3", ls="-", label="1 sigma")
        ax.plot([], [], color="0.3", ls="--", label="2 sigma")
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel(view.axis_labels[1])
        title = f"Clusters of the {_model_name(model)}"
        ax.set_title(title + (f"\n({view.note})" if view.note else ""))
        ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    return fig


def uncertainty_figure(model, x: np.ndarray, columns: list[str]) -> Figure:
    """Each point's classification uncertainty, 1 - max_k p(k | x): where it is, and sorted."""
    proba = model.predict_proba(x)
    uncertainty = 1.0 - proba.max(axis=1)
    labels = proba.argmax(axis=1)
    view = project(model, x, columns)
    fig, (left, right) = _figure(12, 5, ncols=2)
    # the largest possible uncertainty, reached where all k posteriors are equal
    ceiling = 1.0 - 1.0 / model.n_components if model.n_components > 1 else 1.0
    sizes = 6 + 150 * uncertainty / ceiling
    if view.points.shape[1] == 1:
        colors = cluster_colors(model.n_components)
        for j in range(model.n_components):
            mask = labels == j
            left.scatter(
                view.points[mask, 0], uncertainty[mask], s=14, color=colors[j], label=f"cluster {j}"
            )
        left.set_xlabel(view.axis_labels[0])
        left.set_ylabel("uncertainty, 1 - max probability")
        left.legend(fontsize=9)
        left.set_title("Uncertainty against the data")
    else:
        order = np.argsort(uncertainty)  # most uncertain drawn last, on top
        points = left.scatter(
            *view.points[order].T,
            c=uncertainty[order],
            s=sizes[order],
            cmap="viridis",
            vmin=0.0,
            vmax=ceiling,
            edgecolors="none",
        )
        fig.colorbar(points, ax=left, label="uncertainty, 1 - max probability")
        left.set_xlabel(view.axis_labels[0])
        left.set_ylabel(view.axis_labels[1])
        left.set_title("Uncertainty of each point (larger = less certain)")
    left.grid(alpha=0.3)
    ranks = np.arange(1, uncertainty.size + 1)
    right.plot(ranks, np.sort(uncertainty)[::-1], color="C3", lw=1.8)
    right.fill_between(ranks, np.sort(uncertainty)[::-1], color="C3", alpha=0.15)
    right.set_xlabel("points, most uncertain first")
    right.set_ylabel("uncertainty, 1 - max probability")
    n_half = int((uncertainty > 0.1).sum())
    right.set_title(f"Sorted uncertainty ({n_half} of {uncertainty.size} points above 0.1)")
    right.grid(alpha=0.3)
    suffix = f" ({view.note})" if view.note else ""
    fig.suptitle(f"Classification uncertainty of the {_model_name(model)}{suffix}")
    return fig


def save_figures(
    selection, x: np.ndarray, columns: list[str], out_dir: str | Path
) -> dict[str, Path]:
    """Draw the four figures for a :class:`emkit.MixtureSelection` and write them as PNG files.

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to.
    columns : d column names, for axis labels.
    out_dir : existing directory to write into.

    Returns
    -------
    dict mapping "criterion", "history", "clusters", "uncertainty" to the written paths.
    """
    out_dir = Path(out_dir)
    model = selection.best_
    x = x[np.isfinite(x).all(axis=1)]  # rows with a missing value cannot be placed on the axes
    figures = {
        "criterion": criterion_figure(selection.table_, selection.criterion, model),
        "history": history_figure(model),
        "clusters": clusters_figure(model, x, columns),
        "uncertainty": uncertainty_figure(model, x, columns),
    }
    paths = {}
    for key, fig in figures.items():
        path = out_dir / FIGURE_FILES[key]
        fig.savefig(path, dpi=DPI)
        paths[key] = path
    return paths
