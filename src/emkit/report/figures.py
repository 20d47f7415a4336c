"""Figures for a fitted Gaussian mixture, drawn with matplotlib's Agg canvas (no display needed).

Each function returns a :class:`matplotlib.figure.Figure`; :func:`draw_figures` draws all of
them and :func:`save_figures` writes them as PNG files (the HTML report embeds them instead).
Figures are built on ``Figure`` objects directly, never through ``pyplot``, so drawing them
changes no global state and needs no GUI.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from matplotlib.text import Text

from emkit.atomic import write_bytes
from emkit.report.fitted import fitted_components, full_covariances
from emkit.report.rows import as_fitted, sample_rows

DPI = 110
PAIRS_MAX = 6  # up to this many columns a pairs plot; beyond, two principal components
FIGURE_FILES = {
    "criterion": "model-selection.png",
    "history": "log-likelihood.png",
    "clusters": "clusters.png",
    "uncertainty": "uncertainty.png",
}
# mixture-density contours drawn through the density of these quantiles of the data points:
# the region inside a contour holds about 1 - q of the points
CONTOUR_QUANTILES = (0.05, 0.25, 0.5)


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
    (mean -> C (mean - centre), covariance -> C Sigma C^T, with C the (2, d) loadings), so the
    projected mixture is exactly the distribution of the projected data under the model.

    Parameters
    ----------
    model : fitted GaussianMixture.
    x : array of shape (n, d), the data the model was fitted to.
    columns : d column names.
    """
    from sklearn.decomposition import PCA

    full = full_covariances(model)
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


def mixture_density(weights, means, covariances, points: np.ndarray) -> np.ndarray:
    """Density of the Gaussian mixture (k components in m dimensions) at points (g, m)."""
    from scipy.stats import multivariate_normal

    density = np.zeros(points.shape[0])
    for w, m, c in zip(weights, means, covariances, strict=True):
        density += w * multivariate_normal(m, c, allow_singular=True).pdf(points)
    return density


def cluster_colors(k: int) -> list:
    """k distinguishable colours: tab10 up to 10 clusters, tab20 (cycled) beyond."""
    cmap = colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kwargs):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=nrows == 1, **kwargs)
    return fig, axes


def literal(fig: Figure) -> Figure:
    """``fig`` with every text it holds from words (titles, axis labels, legends, notes) shown
    as written: column names come from the user's data, and matplotlib would read a ``$`` in
    them as mathtext (``cost $5 or $6`` drawn as "cost 5or6"; ``a$\\frac$b`` fails to draw at
    all) or, under ``text.usetex``, pass them to TeX. Tick labels are left to their formatter
    (a log axis writes its powers of ten in mathtext)."""
    texts: list[Text] = list(fig.texts)  # the suptitle among them
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
    for legend in legends:
        if legend is not None:
            texts += [legend.get_title(), *legend.get_texts()]
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    for text in texts:
        text.set_parse_math(False)
        text.set_usetex(False)
    return fig


def legend_beside(ax, **kwargs) -> None:
    """The axes' legend to their right, outside them, so that it never covers the data (with
    many components a legend inside hides a cluster); a second column past 24 entries."""
    entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        ncols=1 + (entries - 1) // 24,
        **kwargs,
    )


def _model_name(model) -> str:
    from emkit.report import structure_alias

    k = fitted_components(model)
    alias = structure_alias(model.covariance_type, model.means_.shape[1], k)
    return f"{k}-component '{model.covariance_type}' ({alias}) mixture"


def criterion_figure(table: pd.DataFrame, criterion: str = "bic", chosen=None) -> Figure:
    """The criterion against the number of components, one line per covariance type.

    Degenerate fits are left as gaps in their line, as mclust leaves NA.

    Parameters
    ----------
    table : ``MixtureSelection.table_``.
    criterion : the column to draw: "bic", "aic" or "icl".
    chosen : the selected model, marked with a ring; None for no mark.
    """
    from emkit.report import structure_alias

    fig, (ax, zoom) = _figure(13, 5, ncols=2)
    name = criterion.upper()
    given_up = table["given_up"].astype(bool) if "given_up" in table else False
    left_out = table["degenerate"].astype(bool) | given_up  # no criterion of a maximum
    valid = table[criterion].where(~left_out)
    for axes in (ax, zoom):
        for i, (cov, rows) in enumerate(table.groupby("covariance_type", sort=False)):
            rows = rows.sort_values("n_components")
            values = rows[criterion].where(~left_out[rows.index])
            n_bad = int(rows["degenerate"].sum())
            n_given_up = int(left_out[rows.index].sum()) - n_bad
            alias = rows["model"].iloc[0] if "model" in rows else structure_alias(cov)
            label = f"{cov} ({alias})" + (f", {n_bad} degenerate left out" if n_bad else "")
            label += f", {n_given_up} given up left out" if n_given_up else ""
            axes.plot(
                rows["n_components"],
                values,
                marker="os^Dv<>p"[i % 8],
                markersize=5,
                label=label,
            )
        if chosen is not None:
            # the table's rows are keyed by the n_components a fit started with
            left = fitted_components(chosen)
            dropped = f" ({left} left after EM)" if left != chosen.n_components else ""
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
                label=f"chosen: {chosen.n_components} components{dropped}, "
                f"{chosen.covariance_type}",
            )
        axes.set_xticks(sorted(table["n_components"].unique()))
        axes.set_xlabel("number of components K")
        axes.set_ylabel(f"{name} (lower is better)")
        axes.grid(alpha=0.3)
    ax.set_title(f"{name} of every fit")
    legend_beside(zoom, title="covariance", fontsize=9)
    low, high = float(valid.min()), float(valid.max())
    span = max(0.1 * (high - low), 10.0)
    zoom.set_ylim(low - 0.15 * span, low + span)
    zoom.set_title(f"Zoom: the fits within {span:.0f} of the lowest {name}")
    fig.suptitle(f"Model selection by {name} (scikit-learn's sign: -2 log L + penalty)")
    return literal(fig)


def history_figure(model) -> Figure:
    """The objective EM climbs (``history_``) after each iteration of a fit, and its increase.

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
    gains = np.diff(history)
    positive = gains > 0
    falls = gains[gains < 0]
    if falls.size:  # EM's rounding (or a bug the MonotonicityWarning named): said, not hidden
        left.set_title(
            f"Objective after each iteration: it rises but for {falls.size} "
            f"fall{'s' if falls.size > 1 else ''} of at most {-falls.min():.2g}"
        )
    else:
        left.set_title("Objective after each iteration: it only rises")
    left.grid(alpha=0.3)
    if gains.size == 0:
        right.text(
            0.5,
            0.5,
            "no increase to show",
            ha="center",
            va="center",
            transform=right.transAxes,
        )
    if positive.any():
        right.semilogy(iterations[1:][positive], gains[positive], marker=marker, markersize=3)
    if (~positive).any():
        # a step that fell or gained nothing has no place on a log scale: marked at the floor
        floor = gains[positive].min() / 10 if positive.any() else 1.0
        right.set_yscale("log")
        right.plot(
            iterations[1:][~positive],
            np.full((~positive).sum(), floor),
            linestyle="none",
            marker="v",
            color="C3",
            label="no increase: "
            + (f"a fall of up to {-falls.min():.2g}" if falls.size else "a gain of 0")
            + " (at the axis floor)",
        )
        right.set_ylim(bottom=floor / 2)
        right.legend(loc="upper right", fontsize="small")
    right.set_xlabel("EM iteration")
    right.set_ylabel("increase of the objective (log scale)")
    right.set_title(
        "Increase per iteration (varies, never negative)"
        if positive.all()
        else "Increase per iteration; steps with none marked ▼"
    )
    right.grid(alpha=0.3)
    state = "converged" if model.converged_ else "stopped at max_iter without converging"
    count = f"{model.n_iter_} iteration{'' if model.n_iter_ == 1 else 's'}"
    fig.suptitle(f"EM for the chosen {_model_name(model)}: {count}, {state}")
    return literal(fig)


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
            linewidth=1.4,
        )
    )


def _contours(ax, weights, means, covariances, points: np.ndarray, size: int = 120) -> None:
    """Contours of the mixture density (in the axes' two dimensions) through the density of
    the :data:`CONTOUR_QUANTILES` of the points: each encloses about 95%, 75%, 50% of them."""
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.08 * np.where(high > low, high - low, 1.0)
    gx = np.linspace(low[0] - pad[0], high[0] + pad[0], size)
    gy = np.linspace(low[1] - pad[1], high[1] + pad[1], size)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    density = mixture_density(weights, means, covariances, grid).reshape(size, size)
    at_points = mixture_density(weights, means, covariances, points)
    levels = np.unique(np.quantile(at_points, CONTOUR_QUANTILES))
    if levels.size and np.all(np.isfinite(levels)) and levels[0] > 0:
        ax.contour(xx, yy, density, levels=levels, colors="0.35", linewidths=0.8, alpha=0.8)


def _scatter_clusters(ax, points, labels, colors, size=14) -> None:
    for j, color in enumerate(colors):
        mask = labels == j
        ax.scatter(
            *points[mask].T,
            s=size,
            alpha=0.75,
            color=color,
            edgecolors="none",
            label=f"cluster {j} (n={int(mask.sum())})",
        )


def clusters_figure(model, x: np.ndarray, columns: list[str]) -> Figure:
    """The data coloured by cluster, with each component's ellipses and the density contours.

    One column: a histogram with each weighted component density and the mixture density.
    Two columns: a scatter plot; 3 to :data:`PAIRS_MAX` columns: a pairs plot
    (:func:`pairs_figure`); more: the first two principal components (see :func:`project`).
    """
    d = x.shape[1]
    if 3 <= d <= PAIRS_MAX:
        return pairs_figure(model, x, columns)
    labels = model.predict(as_fitted(model, x))
    k = fitted_components(model)
    colors = cluster_colors(k)
    view = project(model, x, columns)
    fig, ax = _figure(7.5, 5.8)
    if view.points.shape[1] == 1:
        from scipy.stats import norm

        values = view.points[:, 0]
        bins = int(np.clip(np.sqrt(values.size), 10, 50))
        ax.hist(values, bins=bins, density=True, color="0.85", edgecolor="0.6", label="data")
        pad = 0.05 * (np.ptp(values) or 1.0)
        grid = np.linspace(values.min() - pad, values.max() + pad, 400)
        sd = np.sqrt(view.covariances[:, 0, 0])
        densities = model.weights_[:, None] * norm.pdf(grid, view.means, sd[:, None])  # (k, g)
        for j in range(k):
            count = int((labels == j).sum())
            ax.plot(
                grid,
                densities[j],
                color=colors[j],
                lw=2,
                label=f"cluster {j} (n={count})",
            )
            ax.plot(
                values[labels == j],
                np.zeros(count),
                "|",
                color=colors[j],
                markersize=12,
            )
        ax.plot(grid, densities.sum(axis=0), color="black", lw=1.5, ls="--", label="mixture")
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel("density")
        ax.set_title(f"Clusters of the {_model_name(model)}: data and fitted densities")
    else:
        _contours(ax, model.weights_, view.means, view.covariances, view.points)
        _scatter_clusters(ax, view.points, labels, colors)
        for j in range(k):
            for radius, style in ((1.0, "-"), (2.0, "--")):
                _ellipse(ax, view.means[j], view.covariances[j], radius, colors[j], style)
            ax.plot(
                *view.means[j],
                marker="X",
                color=colors[j],
                markeredgecolor="black",
                ms=10,
            )
        ax.plot([], [], color="0.3", ls="-", label="1 sd ellipse")
        ax.plot([], [], color="0.3", ls="--", label="2 sd ellipse")
        ax.plot([], [], color="0.35", lw=0.8, label="density: 50/75/95% of points inside")
        ax.set_xlabel(view.axis_labels[0])
        ax.set_ylabel(view.axis_labels[1])
        title = f"Clusters of the {_model_name(model)}"
        ax.set_title(title + (f"\n({view.note})" if view.note else ""))
        ax.grid(alpha=0.3)
    legend_beside(ax, fontsize=8)
    return literal(fig)


def pairs_figure(model, x: np.ndarray, columns: list[str]) -> Figure:
    """Every pair of columns (lower triangle: points by cluster with 2 sd ellipses; upper:
    mixture density contours over the points) and each column's marginal densities (diagonal).

    The marginal of a Gaussian mixture on some columns is the mixture of the components'
    marginals: the same weights, the means and covariance blocks of those columns.
    """
    from scipy.stats import norm

    d = x.shape[1]
    k = fitted_components(model)
    labels = model.predict(as_fitted(model, x))
    colors = cluster_colors(k)
    full = full_covariances(model)
    size = 2.3 if d <= 4 else 2.0
    fig, axes = _figure(size * d + 0.5, size * d + 0.4, nrows=d, ncols=d)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if i == j:
                values = x[:, i]
                ax.hist(
                    values,
                    bins=int(np.clip(np.sqrt(values.size), 8, 40)),
                    density=True,
                    color="0.88",
                    edgecolor="0.7",
                )
                pad = 0.05 * (np.ptp(values) or 1.0)
                grid = np.linspace(values.min() - pad, values.max() + pad, 300)
                sd = np.sqrt(full[:, i, i])
                dens = model.weights_[:, None] * norm.pdf(
                    grid, model.means_[:, i, None], sd[:, None]
                )
                for c in range(k):
                    ax.plot(grid, dens[c], color=colors[c], lw=1.3)
                ax.plot(grid, dens.sum(axis=0), color="black", lw=1.0, ls="--")
                ax.set_yticks([])
            else:
                pair = [j, i]  # x axis: column j, y axis: column i
                means = model.means_[:, pair]
                covs = full[:, pair][:, :, pair]
                points = x[:, pair]
                if i > j:
                    _scatter_clusters(ax, points, labels, colors, size=6)
                    for c in range(k):
                        _ellipse(ax, means[c], covs[c], 2.0, colors[c], "-")
                else:
                    ax.scatter(*points.T, s=4, color="0.6", edgecolors="none")
                    _contours(ax, model.weights_, means, covs, points, size=80)
            if i == d - 1:
                ax.set_xlabel(columns[j], fontsize=9)
            else:
                ax.tick_params(labelbottom=False)
            if j == 0 and i != 0:
                ax.set_ylabel(columns[i], fontsize=9)
            elif j == 0:
                ax.set_ylabel(f"{columns[0]}\n(density)", fontsize=9)
            ax.tick_params(labelsize=7)
    handles = [
        axes[-1, 0].scatter([], [], s=20, color=colors[c], label=f"cluster {c}") for c in range(k)
    ]
    handles.append(axes[-1, 0].plot([], [], color="0.35", lw=0.8, label="density contours")[0])
    fig.legend(handles=handles, loc="outside lower center", ncols=min(k + 1, 7), fontsize=9)
    fig.suptitle(
        f"Clusters of the {_model_name(model)}: below the diagonal, points by cluster with "
        "2 sd ellipses;\nabove, mixture density contours (50/75/95% of points inside); "
        "on the diagonal, each component's density",
        fontsize=10,
    )
    return literal(fig)


def uncertainty_figure(model, x: np.ndarray, columns: list[str]) -> Figure:
    """Each point's classification uncertainty, 1 - max_k p(k | x): where it is, and sorted."""
    proba = model.predict_proba(as_fitted(model, x))
    uncertainty = 1.0 - proba.max(axis=1)
    labels = proba.argmax(axis=1)
    view = project(model, x, columns)
    fig, (left, right) = _figure(12, 5, ncols=2)
    k = fitted_components(model)
    # the largest possible uncertainty, reached where all k posteriors are equal
    ceiling = 1.0 - 1.0 / k if k > 1 else 1.0
    sizes = 6 + 150 * uncertainty / ceiling
    if view.points.shape[1] == 1:
        colors = cluster_colors(k)
        for j in range(k):
            mask = labels == j
            left.scatter(
                view.points[mask, 0],
                uncertainty[mask],
                s=14,
                color=colors[j],
                label=f"cluster {j}",
            )
        left.set_xlabel(view.axis_labels[0])
        left.set_ylabel("uncertainty, 1 - max probability")
        legend_beside(left, fontsize=9)
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
    right.set_ylim(-0.02 * ceiling, 1.02 * ceiling)  # the colour bar's scale, 0 to the most
    right.set_xlabel("points, most uncertain first")
    right.set_ylabel("uncertainty, 1 - max probability")
    n_half = int((uncertainty > 0.1).sum())
    right.set_title(f"Sorted uncertainty ({n_half} of {uncertainty.size} points above 0.1)")
    right.grid(alpha=0.3)
    suffix = f" ({view.note})" if view.note else ""
    fig.suptitle(f"Classification uncertainty of the {_model_name(model)}{suffix}")
    return literal(fig)


def draw_figures(selection, x: np.ndarray, columns: list[str]) -> dict[str, Figure]:
    """The four figures of a :class:`emkit.MixtureSelection`, keyed as :data:`FIGURE_FILES`.

    Rows with a missing value cannot be placed on the axes and are left out of the figures; of
    the others, a random sample of :data:`~emkit.report.rows.FIGURE_ROWS` is drawn where there
    are more (:func:`~emkit.report.rows.sample_rows`).
    """
    model = selection.best_
    x = sample_rows(x)
    return {
        "criterion": criterion_figure(selection.table_, selection.criterion, model),
        "history": history_figure(model),
        "clusters": clusters_figure(model, x, columns),
        "uncertainty": uncertainty_figure(model, x, columns),
    }


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figures(
    selection, x: np.ndarray, columns: list[str], out_dir: str | Path
) -> dict[str, Path]:
    """Draw the four figures for a :class:`emkit.MixtureSelection` and write them as PNG files.

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to.
    columns : d column names, for axis labels.
    out_dir : directory to write into; created if missing.

    Returns
    -------
    dict mapping "criterion", "history", "clusters", "uncertainty" to the written paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, fig in draw_figures(selection, x, columns).items():
        path = out_dir / FIGURE_FILES[key]
        write_bytes(path, png_bytes(fig))
        paths[key] = path
    return paths
