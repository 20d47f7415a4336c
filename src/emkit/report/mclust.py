"""mclust-style ``summary()`` and ``plot()`` of a fitted Gaussian mixture or a selection.

The text follows R's ``summary(Mclust(...))``: the model by mclust's name and geometry, its
log-likelihood, n, df, BIC and ICL in mclust's sign (higher is better), the clustering table,
and optionally the parameters. Figures are matplotlib ``Figure`` objects built without pyplot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from emkit.distributions.gaussian import covariance_structure, mclust_alias
from emkit.estimators._mixture_api import fit_numbers
from emkit.report.figures import (
    _figure,
    clusters_figure,
    criterion_figure,
    fitted_components,
    literal,
    project,
    uncertainty_figure,
)

# mclust's description of each model (mclustModelNames).
MCLUST_GEOMETRY = {
    "E": "univariate, equal variance",
    "V": "univariate, unequal variance",
    "EII": "spherical, equal volume",
    "VII": "spherical, unequal volume",
    "EEI": "diagonal, equal volume and shape",
    "VEI": "diagonal, varying volume, equal shape",
    "EVI": "diagonal, equal volume, varying shape",
    "VVI": "diagonal, varying volume and shape",
    "EEE": "ellipsoidal, equal volume, shape and orientation",
    "VEE": "ellipsoidal, equal shape and orientation",
    "EVE": "ellipsoidal, equal volume and orientation",
    "VVE": "ellipsoidal, equal orientation",
    "EEV": "ellipsoidal, equal volume and shape",
    "VEV": "ellipsoidal, equal shape",
    "EVV": "ellipsoidal, equal volume",
    "VVV": "ellipsoidal, varying volume, shape, and orientation",
    # one component: a single Gaussian, whose volume, shape and orientation nothing can vary
    "X": "univariate normal",
    "XII": "spherical multivariate normal",
    "XXI": "diagonal multivariate normal",
    "XXX": "ellipsoidal multivariate normal",
}
PLOTS = ("bic", "classification", "uncertainty", "density")


def mclust_model_name(covariance_type: str, n_features: int, n_components: int) -> str:
    """mclust's name of a model: the structure's three letters (E or V on one column), and
    for one component, as mclust names a single Gaussian, X on one column, else XII
    (spherical), XXI (diagonal) or XXX (ellipsoidal)."""
    alias = mclust_alias(covariance_type, n_features)
    if n_components != 1:
        return alias
    if n_features == 1:
        return "X"
    return "XII" if alias[1:] == "II" else "XXI" if alias[2] == "I" else "XXX"


def mclust_name(model) -> str:
    """mclust's name of a fitted model (:func:`mclust_model_name` of its fitted components)."""
    return mclust_model_name(model.covariance_type, model.means_.shape[1], fitted_components(model))


def model_summary(
    model, x: np.ndarray, parameters: bool = False, icl: str = "hard", sample_weight=None
) -> str:
    """R mclust's ``summary()`` of a fitted :class:`~emkit.GaussianMixture` on data ``x``.

    Parameters
    ----------
    model : a fitted GaussianMixture.
    x : array of shape (n, d), the data it was fitted to (or a Dask collection: the sums are
        then taken on the workers).
    parameters : also print the mixing probabilities, means and variances, with the standard
        errors of the weights and means from the observed information (Louis' method,
        :meth:`~emkit.GaussianMixture.standard_errors`) where it is positive definite and
        ``x`` (with ``sample_weight``) holds the rows of the fit; otherwise a line says why
        there are none (a missing="em" or assignment="hard" fit, other rows, a singular
        information).
    icl : "hard" (mclust's, default) or "soft"; the text says which.
    sample_weight : array of shape (n,), the frequency weights of the fit (as in ``fit``), or
        None. The log-likelihood, BIC and ICL are then the weighted ones
        (:meth:`~emkit.GaussianMixture.bic` with the same weights), n is the total weight and
        the clustering table the weight of each component's rows: the summary of the rows
        repeated.
    """
    loglik, n, icl_value, counts = fit_numbers(model, x, icl, sample_weight)
    df = model.n_parameters()
    bic = -2.0 * loglik + df * np.log(n)
    name = mclust_name(model)
    rule = "-" * 52
    k = fitted_components(model)
    stats = pd.DataFrame(
        {
            "log-likelihood": [f"{loglik:.3f}"],
            "n": [n],
            "df": [df],
            "BIC": [f"{-bic:.3f}"],
            "ICL": [f"{-icl_value:.3f}"],
        }
    )
    table = pd.DataFrame([counts], columns=[str(j + 1) for j in range(k)])
    lines = [
        rule,
        "Gaussian finite mixture model fitted by "
        + ("classification EM algorithm" if model.assignment == "hard" else "EM algorithm"),
        rule,
        "",
        f"Mclust {name} ({MCLUST_GEOMETRY[name]}) model with {k} component{'' if k == 1 else 's'}:",
        *(
            [f"({model.n_components} at the start; EM dropped {model.n_components - k})"]
            if k != model.n_components
            else []
        ),
        "",
        stats.to_string(index=False),
        "BIC and ICL in mclust's sign (2 log L - penalty, higher is better); ICL from "
        + ("hard labels (mclust's)." if icl == "hard" else "the soft entropy of the posteriors."),
        "",
        "Clustering table:",
        table.to_string(index=False),
    ]
    if parameters:
        errors, missing_errors = _standard_errors(model, x, sample_weight)
        # rows by the fitted columns' names, else R's [1,], [2,], ... as mclust's
        rows = _variable_names(model)
        components = [f"[,{j + 1}]" for j in range(k)]
        if missing_errors is not None:  # said, not silently left out
            lines += ["", missing_errors]
        lines += ["", "Mixing probabilities:", _row(model.weights_, errors, "weights")]
        lines += ["", "Means:"]
        lines.append(pd.DataFrame(model.means_.T, index=rows, columns=components).to_string())
        if errors is not None:
            lines += ["Standard errors of the means:"]
            se = pd.DataFrame(errors["means"].T, index=rows, columns=components)
            lines.append(se.to_string())
        lines += ["", "Variances:"]
        full = covariance_structure(model.covariance_type)(
            model.means_, model.covariances_, model.precisions_cholesky_
        ).full_covariances()
        # columns by name too, else R's [,1], [,2], ...
        columns = [f"[,{row[1:-2]}]" if row.startswith("[") else row for row in rows]
        for j in range(k):
            variances = pd.DataFrame(full[j], index=rows, columns=columns)
            lines += [f"[,,{j + 1}]", variances.to_string()]
    return "\n".join(lines)


def _standard_errors(model, x: np.ndarray, sample_weight=None) -> tuple[dict | None, str | None]:
    """Louis' standard errors of ``model`` on ``x`` with ``sample_weight`` and None, or None
    and the summary's line saying why there are none to give (a hard or missing-data fit,
    rows or weights other than the fit's, a singular information)."""
    import warnings

    from emkit.estimators._fingerprint import OtherRowsError
    from emkit.mle import HessianWarning

    see = "see emkit.bootstrap."
    if model.missing == "em":
        return None, f'Standard errors: not available for a missing="em" fit; {see}'
    if model.assignment != "soft":
        return None, f'Standard errors: not available for an assignment="hard" fit; {see}'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HessianWarning)
        try:
            errors = model.standard_errors(x, sample_weight=sample_weight)
        except OtherRowsError:
            return None, (
                "Standard errors: not available, the rows or sample_weight given are not the "
                f"fit's; pass those, or {see}"
            )
    if np.isnan(errors["means"]).any():
        return None, f"Standard errors: not available, the observed information is singular; {see}"
    return errors, None


def _row(values: np.ndarray, errors, key: str) -> str:
    """The mixing probabilities, unlabelled as mclust's, above their standard errors (se)."""
    frame = pd.DataFrame([values], columns=[str(j + 1) for j in range(values.shape[0])])
    if errors is None:
        return frame.to_string(index=False)
    frame.index = [""]
    frame.loc["se"] = errors[key]
    return frame.to_string()


def _variable_names(model) -> list[str]:
    """The names of the fitted columns, else R's row labels [1,], [2,], ... (mclust's for a
    matrix without column names)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and len(names) == model.means_.shape[1]:
        return [str(name) for name in names]
    return [f"[{j + 1},]" for j in range(model.means_.shape[1])]


def selection_summary(selection, x: np.ndarray, top: int = 3) -> str:
    """mclust's ``summary(mclustBIC)``: the best ``top`` models by BIC (mclust's sign), then
    the chosen model's summary."""
    table = selection.table_
    eligible = table[~table["degenerate"].astype(bool)].nsmallest(top, selection.criterion)
    names = [f"{m},{k}" for m, k in zip(eligible["model"], eligible["n_components"], strict=True)]
    best = pd.DataFrame([(-eligible[selection.criterion]).round(3).to_numpy()], columns=names)
    lines = [
        f"Best {selection.criterion.upper()} values (mclust's sign, higher is better):",
        best.to_string(index=False),
        "",
        model_summary(selection.best_, x, icl=selection.icl_kind),
    ]
    return "\n".join(lines)


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
        ax.plot(grid, np.exp(model.score_samples(grid[:, None])), color="C0")
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


__all__ = [
    "MCLUST_GEOMETRY",
    "PLOTS",
    "model_summary",
    "plot_model",
    "plot_selection",
    "selection_summary",
]
