"""Reports on a model-selection run: a text summary in the manner of mclust, PNG figures, HTML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from emkit.distributions.gaussian import covariance_structure
from emkit.report.figures import save_figures
from emkit.report.html import selection_table_html, write_html

# mclust's description of the model each covariance structure is
GEOMETRY = {
    "full": "ellipsoidal, varying volume, shape and orientation",
    "tied": "ellipsoidal, equal volume, shape and orientation",
    "diag": "diagonal, varying volume and shape",
    "spherical": "spherical, varying volume",
}
CAPTIONS = {
    "criterion": "Model selection: the criterion for each number of components and covariance "
    "type; gaps are degenerate fits, left out as mclust reports NA.",
    "history": "EM of the chosen model: the objective it climbs (log-likelihood plus the "
    "log-prior of the reg_covar ridge) per iteration, and its gain (log scale).",
    "clusters": "Data coloured by most probable cluster, with each component's mean and its "
    "1- and 2-sigma ellipses (Mahalanobis distance 1 and 2).",
    "uncertainty": "Classification uncertainty of each point, 1 minus its largest posterior "
    "probability.",
}


def model_name(model) -> str:
    """E.g. ``Gaussian mixture, 3 components, covariance 'tied' (mclust EEE)``."""
    alias = covariance_structure(model.covariance_type).alias
    plural = "component" if model.n_components == 1 else "components"
    return (
        f"Gaussian mixture, {model.n_components} {plural}, "
        f"covariance '{model.covariance_type}' (mclust {alias})"
    )


def summarize(selection, x: np.ndarray, columns: list[str] | None = None, top: int = 3) -> str:
    """A plain-text summary of a :class:`emkit.MixtureSelection`, like R mclust's ``summary()``.

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to.
    columns : d column names, or None.
    top : how many models to list, best first.

    Returns
    -------
    Several lines: the chosen model, its fit statistics (n, df, log-likelihood, BIC in both
    sign conventions, ICL), cluster sizes and mixing weights, and the best ``top`` models.
    """
    model = selection.best_
    table = selection.table_
    criterion = selection.criterion
    n, d = x.shape
    columns = list(columns) if columns is not None else [f"x{j}" for j in range(d)]
    n_degenerate = int(table["degenerate"].sum())
    state = "converged" if model.converged_ else "did not converge"
    lines = [
        model_name(model),
        f"  {GEOMETRY[model.covariance_type]}",
        f"Fitted by EM to {n} rows x {d} {'column' if d == 1 else 'columns'} "
        f"({', '.join(map(str, columns))}); "
        f"EM {state} after {model.n_iter_} iteration{'' if model.n_iter_ == 1 else 's'}.",
        f"Chosen by {criterion.upper()} among {len(table)} fits"
        + (f" ({n_degenerate} degenerate, left out)." if n_degenerate else "."),
        "",
    ]
    bic = model.bic(x)
    stats = pd.DataFrame(
        {
            "n": [n],
            "df": [model.n_parameters()],
            "log-likelihood": [f"{model.log_likelihood_:.3f}"],
            "BIC": [f"{bic:.3f}"],
            "mclust BIC": [f"{-bic:.3f}"],
            "ICL": [f"{model.icl(x):.3f}"],
            "AIC": [f"{model.aic(x):.3f}"],
        }
    )
    lines += [
        stats.to_string(index=False),
        "BIC, ICL, AIC: scikit-learn's sign, -2 log L + penalty, lower is better; "
        "mclust BIC = -BIC, higher is better.",
        "",
    ]
    labels = model.predict(x)
    counts = np.bincount(labels, minlength=model.n_components)
    clusters = pd.DataFrame(
        [counts, [f"{w:.3f}" for w in model.weights_]],
        index=["size", "weight"],
        columns=[str(j) for j in range(model.n_components)],
    )
    clusters.columns.name = "cluster"
    lines += ["Clusters (size: points whose most probable component it is):"]
    lines += [clusters.to_string(), ""]
    eligible = table[~table["degenerate"].astype(bool)].nsmallest(top, criterion)
    best_value = eligible[criterion].iloc[0]
    ranking = pd.DataFrame(
        {
            "rank": range(1, len(eligible) + 1),
            "components": eligible["n_components"].to_numpy(),
            "covariance": [
                f"{c} ({covariance_structure(c).alias})" for c in eligible["covariance_type"]
            ],
            criterion.upper(): [f"{v:.3f}" for v in eligible[criterion]],
            "difference": [f"{v - best_value:.3f}" for v in eligible[criterion]],
        }
    )
    lines += [f"Top {len(eligible)} models by {criterion.upper()}:", ranking.to_string(index=False)]
    return "\n".join(lines)


def write_report(
    selection,
    x: np.ndarray,
    columns: list[str],
    out_dir: str | Path,
    *,
    title: str = "emkit Gaussian mixture report",
    source: str = "",
    summary: str | None = None,
) -> dict[str, Path]:
    """Write the PNG figures and ``report.html`` (which shows them by relative path).

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to.
    columns : d column names.
    out_dir : directory to write into; created if missing.
    title : page heading.
    source : where the data came from, shown under the heading.
    summary : the text summary; :func:`summarize` when None.

    Returns
    -------
    dict mapping "report" and each figure key to the written path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if summary is None:
        summary = summarize(selection, x, columns)
    paths = save_figures(selection, x, columns, out_dir)
    figures = [(path.name, CAPTIONS[key]) for key, path in paths.items()]
    note = f"Data: {source}" if source else ""
    table_html = selection_table_html(selection.table_, selection.best_)
    paths["report"] = write_html(
        out_dir / "report.html", title, summary, table_html, figures, note=note
    )
    return paths


__all__ = ["model_name", "save_figures", "summarize", "write_report"]
