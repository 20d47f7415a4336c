"""Reports on a model-selection run: a text summary in the manner of mclust, PNG figures, HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emkit.backend.dask_source import is_dask_collection
from emkit.estimators._mixture_api import fit_numbers
from emkit.report.fitted import fitted_components, full_covariances
from emkit.report.html import components_html, selection_table_html, write_html
from emkit.report.rows import as_fitted

BOOTSTRAP = 30  # resamples behind the standard errors of the component table
BOOTSTRAP_MAX_VALUES = 500_000  # n x d above which no standard errors are computed
SUMMARY_MAX_NAMES = 12  # column names the summary lists; beyond, the first and last few
CAPTIONS = {
    "criterion": "Model selection: the criterion for each number of components and covariance "
    "type (lower is better); gaps are degenerate fits, left out as mclust reports NA, and "
    "fits the screening gave up far behind the best (give_up), stopped below their maxima.",
    "history": "EM of the chosen model: the objective it climbs (log-likelihood plus the "
    "log-prior of the reg_covar ridge) after each iteration, and how much each iteration "
    "added (log scale).",
    "clusters": "Data coloured by most probable component, with each component's 1 and 2 "
    "standard-deviation ellipses and contours of the mixture density.",
    "clusters_1d": "Histogram of the data with the mixture density and each component's "
    "weighted density.",
    "uncertainty": "Classification uncertainty of each point, 1 minus its largest posterior "
    "probability.",
}


def structure_alias(covariance_type: str, n_features: int = 2, n_components: int = 2) -> str:
    """mclust's name of a covariance structure (``tied`` -> ``EEE``): E or V on one column;
    with one component, mclust's X, XII, XXI or XXX (a single Gaussian)."""
    from emkit.report.mclust import mclust_model_name

    try:
        return mclust_model_name(covariance_type, n_features, n_components)
    except (ValueError, AttributeError, KeyError):
        return covariance_type


def geometry(covariance_type: str, n_features: int = 2, n_components: int = 2) -> str:
    """mclust's description of a structure from its name: volume, shape, orientation are each
    Equal across components, Variable, or (shape, orientation) the Identity; on one column the
    variances are equal (E) or not (V); one component is a single (univariate, spherical,
    diagonal or ellipsoidal) normal, as mclust says."""
    from emkit.report.mclust import MCLUST_GEOMETRY

    code = structure_alias(covariance_type, n_features, n_components).upper()
    if code in ("E", "V", "X", "XII", "XXI", "XXX"):  # mclust's own words
        return MCLUST_GEOMETRY[code]
    if len(code) != 3 or any(c not in "EVI" for c in code):
        return f"covariance '{covariance_type}'"
    features = dict(zip(("volume", "shape", "orientation"), code, strict=True))
    if code[1:] == "II":
        kind, features = "spherical", {"volume": code[0]}
    elif code[2] == "I":
        kind, features = "diagonal", {"volume": code[0], "shape": code[1]}
    else:
        kind = "ellipsoidal"
    words = []
    for letter, adjective in (("E", "equal"), ("V", "varying")):
        names = [name for name, c in features.items() if c == letter]
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            words.append(f"{adjective} {listed}")
    return ", ".join([kind, *words])


def model_name(model) -> str:
    """E.g. ``Gaussian mixture, 3 components, covariance 'tied' (mclust EEE)``."""
    k = fitted_components(model)
    plural = "component" if k == 1 else "components"
    alias = structure_alias(model.covariance_type, model.means_.shape[1], k)
    started = f" (of {model.n_components} at the start)" if k != model.n_components else ""
    return (
        f"Gaussian mixture, {k} {plural}{started}, "
        f"covariance '{model.covariance_type}' (mclust {alias})"
    )


def bootstrap_errors(model, x: np.ndarray, n_boot: int = BOOTSTRAP, seed: int = 0):
    """Standard errors of the weights (k,), means (k, d) and standard deviations (k, d).

    :func:`emkit.bootstrap` with ``n_boot`` resamples of the rows, each fitted by EM started
    from the model's own parameters, its components matched to the model's (so a relabelling
    cannot inflate the errors), as mclust's ``MclustBootstrap``. None when the data are too
    large for it.
    """
    from emkit.resampling import bootstrap

    n, d = x.shape
    if n * d > BOOTSTRAP_MAX_VALUES or n < 2 * fitted_components(model):
        return None
    try:
        result = bootstrap(
            model,
            x,
            n_boot=n_boot,
            random_state=seed,
            # a resample's optimum is needed to far less than the fit's own precision
            params={"n_init": 1, "tol": max(model.tol, 1e-5)},
            parameters={
                "weights": lambda m: m.weights_,
                "means": lambda m: m.means_,
                "sds": lambda m: np.sqrt(np.diagonal(full_covariances(m), axis1=1, axis2=2)),
            },
        )
    except ValueError:  # fewer than two resamples could be fitted
        return None
    return result.standard_errors


def summarize(
    selection,
    x: Any,
    columns: list[str] | None = None,
    top: int = 3,
    sizes: np.ndarray | None = None,
    rows: int | None = None,
) -> str:
    """A plain-text summary of a :class:`emkit.MixtureSelection`, like R mclust's ``summary()``.

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to, or a Dask collection of them (its
        rows and sizes counted on the workers, in one pass).
    columns : d column names, or None.
    top : how many models to list, best first.
    sizes : array of shape (k,), rows whose most probable component each is; counted from
        ``x`` when None (one pass over the data).
    rows : the number of rows of a Dask collection ``x``, counted on the workers with
        ``sizes`` (``emkit.estimators._mixture_api.fit_numbers``); given both, no pass over
        ``x`` here.

    The log-likelihood, BIC, ICL and AIC are the chosen model's row of ``selection.table_``
    (computed on the data selected on, in the fit's last pass): no pass over ``x`` here.

    Returns
    -------
    Several lines: the chosen model, its fit statistics (n, df, log-likelihood, BIC in both
    sign conventions, ICL), cluster sizes and mixing weights, and the best ``top`` models.
    """
    model = selection.best_
    table = selection.table_
    criterion = selection.criterion
    n, d = x.shape
    if is_dask_collection(x) and rows is not None and sizes is not None:
        n = rows
    elif is_dask_collection(x):  # the rows and sizes counted in one pass on the workers
        _, n, _, counted = fit_numbers(model, x)
        sizes = counted if sizes is None else sizes
    columns = list(columns) if columns is not None else [f"x{j}" for j in range(d)]
    n_degenerate = int(table["degenerate"].sum())
    state = "converged" if model.converged_ else "did not converge"
    lines = [
        model_name(model),
        f"  {geometry(model.covariance_type, d, fitted_components(model))}",
        f"Fitted by EM to {n} rows x {d} {'column' if d == 1 else 'columns'} "
        f"({listed(columns)}); "
        f"EM {state} after {model.n_iter_} iteration{'' if model.n_iter_ == 1 else 's'}.",
        (
            f"One model fitted, so none chosen by {criterion.upper()}."
            if len(table) == 1
            else f"Chosen by {criterion.upper()} among {len(table)} fits"
            + (f" ({n_degenerate} degenerate, left out)." if n_degenerate else ".")
        ),
        "",
    ]
    chosen = _chosen_row(selection)
    bic = float(chosen["bic"])
    stats = pd.DataFrame(
        {
            "n": [n],
            "df": [model.n_parameters()],
            "log-likelihood": [f"{model.log_likelihood_:.3f}"],
            "BIC": [f"{bic:.3f}"],
            "mclust BIC": [f"{-bic:.3f}"],
            "ICL": [f"{float(chosen['icl']):.3f}"],
            "AIC": [f"{float(chosen['aic']):.3f}"],
        }
    )
    lines += [
        stats.to_string(index=False),
        "BIC, ICL, AIC: scikit-learn's sign, -2 log L + penalty, lower is better; "
        "mclust BIC = -BIC, higher is better.",
        "",
    ]
    counts = cluster_sizes(model, x) if sizes is None else np.asarray(sizes)
    clusters = pd.DataFrame(
        [counts, [f"{w:.3f}" for w in model.weights_]],
        index=["size", "weight"],
        columns=[str(j) for j in range(fitted_components(model))],
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
                f"{c} ({structure_alias(c, model.means_.shape[1])})"
                for c in eligible["covariance_type"]
            ],
            criterion.upper(): [f"{v:.3f}" for v in eligible[criterion]],
            "difference": [f"{v - best_value:.3f}" for v in eligible[criterion]],
        }
    )
    lines += [
        f"Top {len(eligible)} model{'' if len(eligible) == 1 else 's'} by {criterion.upper()}:",
        ranking.to_string(index=False),
    ]
    return "\n".join(lines)


def listed(names: list[str], most: int = SUMMARY_MAX_NAMES) -> str:
    """``a, b, c``; beyond ``most`` names, the first and last few around ``...``."""
    names = [str(name) for name in names]
    if len(names) <= most:
        return ", ".join(names)
    head = most // 2
    return ", ".join([*names[:head], "...", *names[-(most - head) :]])


def _chosen_row(selection) -> pd.Series:
    """The row of ``selection.table_`` of the chosen model."""
    from emkit.distributions.gaussian import covariance_structure

    model, table = selection.best_, selection.table_
    name = covariance_structure(model.covariance_type).name
    # keyed by the n_components the fit started with (EM may have dropped some since)
    row = (table["n_components"] == model.n_components) & (table["covariance_type"] == name)
    return table.loc[row].iloc[0]


def cluster_sizes(model, x: np.ndarray, rows: int = 1 << 16) -> np.ndarray:
    """Rows of ``x`` (n, d) whose most probable component is each of the model's, shape (k,);
    computed block by block (no (n, k) array)."""
    k = fitted_components(model)
    sizes = np.zeros(k, dtype=np.int64)
    for start in range(0, x.shape[0], rows):
        labels = model.predict(as_fitted(model, x[start : start + rows]))
        sizes += np.bincount(labels, minlength=k)
    return sizes


def write_report(
    selection,
    x: np.ndarray,
    columns: list[str],
    out_dir: str | Path,
    *,
    title: str = "emkit Gaussian mixture report",
    source: str = "",
    summary: str | None = None,
    units_note: str = "",
    sizes: np.ndarray | None = None,
    rows: int | None = None,
    missing: int | None = None,
) -> dict[str, Path]:
    """Write ``report.html``: one self-contained file (figures embedded as PNG data URIs).

    Parameters
    ----------
    selection : result of :func:`emkit.select_mixture`.
    x : array of shape (n, d), the data it was fitted to (NaN where missing), or, with
        ``rows``, a uniform sample of them (of a Dask collection, drawn on the workers).
    columns : d column names.
    out_dir : directory to write into; created if missing.
    title : page heading.
    source : where the data came from, shown under the heading.
    summary : the text summary; :func:`summarize` when None.
    units_note : a line above the component table (e.g. that the columns are z-scores).
    sizes : array of shape (k,), the chosen model's cluster sizes; counted from ``x`` when None
        (required with ``rows``).
    rows : where ``x`` is a sample, the number of rows it was drawn from; the figures then
        draw the sample, and the component table has no standard errors (the bootstrap
        refits the model on resamples of all the rows, in this process).
    missing : with ``rows``, where ``x`` is :func:`~emkit.report.rows.sample_rows` of rows
        held in memory (complete rows only), how many of all the ``rows`` have a missing
        value; None where the sample was drawn on Dask workers (its captions say so).

    Figures of the data are drawn from a random sample of at most
    :data:`~emkit.report.rows.FIGURE_ROWS` rows (their captions say so); standard errors
    are bootstrapped only up to :data:`BOOTSTRAP_MAX_VALUES` numbers.

    Returns
    -------
    dict mapping "report" to the written path.
    """
    from emkit.report.figures import draw_figures, png_bytes
    from emkit.report.rows import FIGURE_ROWS

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = selection.best_
    if rows is not None and (sizes is None or summary is None):
        raise ValueError("a report of a sample of the rows needs the sizes and the summary")
    if missing is not None and rows is None:
        raise ValueError("missing counts rows a sample was drawn from: give their number, rows")
    on_cluster = rows is not None and missing is None
    if sizes is None:
        sizes = cluster_sizes(model, x)
    if summary is None:
        summary = summarize(selection, x, columns, sizes=sizes)
    n_missing = int((~np.isfinite(x).all(axis=1)).sum()) if missing is None else missing
    rows_of = ("sampled " if on_cluster else "") + ("row" if n_missing == 1 else "rows")
    left_out = (
        f" The {n_missing} {rows_of} with a missing value cannot be placed on the axes"
        + (" and are not shown." if n_missing > 1 else " and is not shown.")
        if n_missing
        else ""
    )
    n_complete = (x.shape[0] if rows is None else rows) - n_missing
    if on_cluster and rows is not None and rows > x.shape[0]:
        sampled = (
            f" Drawn from a random sample of {x.shape[0]:,} of the {rows:,} rows, drawn on the "
            "Dask workers (the fit used every row)."
        )
    elif n_complete > FIGURE_ROWS:
        sampled = (
            f" Drawn from a random sample of {FIGURE_ROWS:,} of the {n_complete:,} rows"
            + (" with no missing value" if n_missing else "")
            + " (the fit used every row)."
        )
    else:
        sampled = ""
    data_figures = ("clusters", "uncertainty")
    figures = [
        (
            png_bytes(fig),
            CAPTIONS["clusters_1d" if key == "clusters" and x.shape[1] == 1 else key]
            + (left_out + sampled if key in data_figures else ""),
        )
        for key, fig in draw_figures(selection, x, columns).items()
    ]
    parameters = components_html(
        model,
        columns,
        x,
        bootstrap_errors(model, x) if rows is None else None,
        n_boot=BOOTSTRAP,
        note=units_note,
        sizes=sizes,
        no_errors="the rows are on a Dask cluster, and the bootstrap refits the model on "
        "resamples of them in one process"
        if on_cluster
        else "the data are too large for the bootstrap",
    )
    path = write_html(
        out_dir / "report.html",
        title,
        summary,
        selection_table_html(selection.table_, model, selection.criterion),
        figures,
        note=f"Data: {source}" if source else "",
        parameters_html=parameters,
    )
    return {"report": path}


def __getattr__(name: str) -> Any:
    """``save_figures`` loaded on first use: matplotlib only for what draws."""
    if name == "save_figures":
        from emkit.report.figures import save_figures

        return save_figures
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "bootstrap_errors",
    "cluster_sizes",
    "geometry",
    "model_name",
    "save_figures",
    "structure_alias",
    "summarize",
    "write_report",
]
