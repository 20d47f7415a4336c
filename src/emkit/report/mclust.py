"""mclust-style ``summary()`` of a fitted Gaussian mixture or a selection (its ``plot()``:
:mod:`emkit.report.mclust_plots`).

The text follows R's ``summary(Mclust(...))``: the model by mclust's name and geometry, its
log-likelihood, n, df, BIC and ICL in mclust's sign (higher is better), the clustering table,
and optionally the parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emkit.distributions.gaussian import covariance_structure, mclust_alias
from emkit.estimators._mixture_api import fit_numbers
from emkit.report.fitted import fitted_components

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
