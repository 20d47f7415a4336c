"""mclust-style ``plot()`` of a fitted Gaussian mixture or a selection: matplotlib ``Figure``
objects built without pyplot."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from emkit.report.figures import (
    _figure,
    clusters_figure,
    criterion_figure,
    fitted_components,
    literal,
    project,
    uncertainty_figure,
)
from emkit.report.mclust import mclust_name
from emkit.report.rows import as_fitted


def _columns(model, x: np.ndarray) -> list[str]:
    """The names of ``x``'s columns: those the model was fitted with, else x1, x2, ..."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == x.shape[1]:
        return [str(name) for name in names]
    return [f"x{j + 1}" for j in range(x.shape[1])]


def density_figure(model, x: np.ndarray) -> Figure:
    """The fitted mixture density: a curve over a histogram (one column), else contours of
    the density on the data's first two axes (columns or principal components)."""
    fig, ax = _figure(6.0, 4.5)
    if x.shape[1] == 1:
        grid = np.linspace(x.min(), x.max(), 400)
        pad = 0.1 * (grid[-1] - grid[0] or 1.0)
        grid = np.linspace(x.min() - pad, x.max() + pad, 400)
        ax.hist(x[:, 0], bins="auto", density=True, color="0.85")
        ax.plot(grid, np.exp(model.score_samples(as_fitted(model, grid[:, None]))), color="C0")
        ax.set_xlabel(_columns(model, x)[0])
        ax.set_ylabel("density")
    else:
        view = project(model, x, _columns(model, x))
        lo, hi = view.points.min(axis=0), view.points.max(axis=0)
        pad = 0.1 * (hi - lo)
        gx, gy = np.meshgrid(
            np.linspace(lo[0] - pad[0], hi[0] + pad[0], 120),
            np.linspace(lo[1] - pad[1], hi[1] + pad[1], 120),
        )
        grid = np.column_stack([gx.ravel(), gy.ravel()])

        def density(points: np.ndarray) -> np.ndarray:
            out = np.zeros(points.shape[0])
            for w, m, c in zip(model.weights_, view.means, view.covariances, strict=True):
                diff = points - m
                quad = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(c), diff)
                out += w * np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(np.linalg.det(c)))
            return out

        # Contours at the densities below which 5%, 10%, ..., 90% of the points lie.
        levels = np.unique(np.quantile(density(view.points), [0.05, 0.1, 0.25, 0.5, 0.75, 0.9]))
        ax.scatter(view.points[:, 0], view.points[:, 1], s=4, color="0.6")
        ax.contour(gx, gy, density(grid).reshape(gx.shape), levels=levels)
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel(view.axis_labels[1])
    k = fitted_components(model)
    ax.set_title(f"density, {mclust_name(model)} with {k} component{'' if k == 1 else 's'}")
    return literal(fig)


def plot_model(model, x: np.ndarray, what: str) -> Figure:
    """A figure of a fitted mixture: "classification", "uncertainty" or "density"."""
    if what == "classification":
        return clusters_figure(model, x, _columns(model, x))
    if what == "uncertainty":
        return uncertainty_figure(model, x, _columns(model, x))
    if what == "density":
        return density_figure(model, x)
    raise ValueError(
        f"what must be one of classification, uncertainty, density (and bic for a selection); "
        f"got {what!r}"
    )


def plot_selection(selection, x: np.ndarray | None, what: str) -> Figure:
    """A figure of a selection: "bic" (the criterion by K and model, as mclust's
    ``plot(mclustBIC)``) or a figure of the chosen model."""
    if what == "bic":
        return criterion_figure(selection.table_, selection.criterion, selection.best_)
    if x is None:
        raise ValueError("pass the data X to draw the chosen model")
    return plot_model(selection.best_, x, what)


__all__ = ["density_figure", "plot_model", "plot_selection"]
