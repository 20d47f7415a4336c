"""``select_mixture``: fit a grid of Gaussian mixtures and keep the best by BIC, AIC or ICL."""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from emkit.backend import gaussian_pass
from emkit.backend.dask_source import as_dask_array, is_dask_collection
from emkit.backend.integers import refuse_inexact_integers
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.processes import (
    NoWorkers,
    SharedRows,
    run_apart,
    shared_rows,
    worker_count,
)
from emkit.backend.sources import ArrayChunks, as_chunks, feature_names
from emkit.backend.threads import kernel_threads, num_threads, one_blas_thread
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure, mclust_alias
from emkit.em import (
    FitResult,
    collapse_stops,
    e_step_many,
    fit_groups,
    in_collapse_stops,
    in_screening,
    screening_stops,
    warn_falls,
)
from emkit.estimators._device import float_dtype, placement, refuse_dask_device
from emkit.estimators._mixture_api import (
    _icl_sums,
    criteria_from_sums,
    partition_numbers,
    ridge_warnings_held,
    with_final_pass,
)
from emkit.estimators._validation import names_checked, refuse_times_and_complex
from emkit.estimators.gaussian_mixture import GaussianMixture, SharedStarts
from emkit.exceptions import (
    DegenerateFitWarning,
    LocalMaximumWarning,
    MonotonicityWarning,
    PrunedWarning,
    ScaleWarning,
    warn_user,
)
from emkit.models.component_list import EMPTY_WEIGHT

CRITERIA = ("bic", "aic", "icl")
# Every candidate is fitted to this gain per sample at most; the best few by the criterion then
# continue from where they stopped to the template's ``tol``. Screening spends the tight
# tolerance only where the choice is made.
SCREEN_TOL = 1e-5
REFINE = 3
# From this many rows the screening stops at LARGE_SCREEN_TOL per sample instead. mclust stops
# every fit at a relative gain |L' - L| / (1 + |L|) of 1e-5, about 5e-5 per sample where the
# mean log density is near -5 (3 columns in their own units); per sample, the screening does
# not depend on the data's units. On the default grid on 3e5 rows of the big-CSV benchmark 1e-5
# took twice the passes (4.5e9 against 2.4e9 row-components) for the same ranking at the top.
# The refined fits then start elsewhere and end elsewhere within ``tol`` (1e-5 relative in
# the parameters on Old Faithful): below this many rows, where the passes cost little, the
# screening stays at SCREEN_TOL, the same fits as before.
LARGE_GRID_ROWS = 1 << 17
LARGE_SCREEN_TOL = 5e-5
# From this many rows the screening passes run in float32 (gaussian_pass.single_precision):
# they only rank the candidates, and the best REFINE continue in float64 from where they
# stopped; the table's log-likelihoods, criteria and degenerate flags are those of one float64
# pass at every screened fit's parameters. Below it the passes cost too little to matter.
SINGLE_SCREEN_ROWS = 1 << 17
# From this many rows a grid's screened fits that have fallen far behind are given up
# (CriterionStandings, emkit.em.BEHIND_MARGIN): the passes of the flat fits of a large grid
# cost most of its time.
GIVE_UP_ROWS = 1 << 17
# Rows per block of the rows in memory when the grid runs in lockstep and they are not already
# in the kernel's layout (C order, float64): every block costs each fit its quadratic form,
# moments and a merge of statistics (the kernel cuts a block into cache-sized pieces by
# itself), so the grid reads larger blocks than one fit's 65,536. Rows already in that layout
# are read as one block, a view: one form, one set of moments per fit and pass.
LOCKSTEP_BLOCK_ROWS = 1 << 18
# From this many rows (in memory, give_up off) each fit of the grid runs alone, the fits
# spread over worker processes (_fits_apart): the kernel threads of one process gain little
# past one core (the GIL), two processes twice as much; below it, one lockstep shares the
# work on each block among all the fits, and starting the workers would cost more.
APART_ROWS = 1 << 17


@dataclass
class MixtureSelection:
    """Result of :func:`select_mixture`.

    Attributes
    ----------
    best_ : GaussianMixture, the fitted model with the lowest criterion among non-degenerate fits.
    table_ : DataFrame with one row per (n_components, covariance_type): log_likelihood,
        n_parameters, bic, aic, icl (scikit-learn's sign: lower is better), degenerate,
        converged, model (mclust's name of the covariance type) and, with ``give_up``,
        given_up (a large grid's screened fit stopped far behind the best,
        :func:`select_mixture`; not converged).
        Degenerate fits keep their row, like mclust's NA entries, but are never chosen;
        each is where its fit stopped on collapsing (not converged).
    criterion : the column ``best_`` minimises.
    models_ : dict mapping (n_components, covariance_type) to each fitted estimator.
    icl_kind : "hard" (mclust's ICL, from the most probable labels) or "soft" (entropy).
    data_ : the data selected on (a reference, not a copy), for ``summary()`` and ``plot()``.

    Examples
    --------
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal([0, 0], 1, (100, 2)), rng.normal([5, 5], 0.5, (50, 2))])
    >>> sel = emkit.select_mixture(X, [1, 2, 3], covariance_types=["full", "spherical"])
    >>> sel.best_.n_components, sel.best_.covariance_type, sel.criterion
    (2, 'spherical', 'bic')
    >>> table = sel.table_.sort_values("bic").head(3)
    >>> print(table[["n_components", "covariance_type", "bic"]].round(1).to_string(index=False))
     n_components covariance_type   bic
                2       spherical 939.5
                3       spherical 949.0
                2            full 956.6
    >>> sel.models_[1, "full"].n_components
    1
    """

    best_: GaussianMixture
    table_: pd.DataFrame
    criterion: str
    models_: dict
    icl_kind: str = "hard"
    data_: Any = None

    def summary(self, X=None, top: int = 3) -> str:
        """R mclust's ``summary(Mclust(X))``: the ``top`` models by the criterion (mclust's
        sign), then the chosen model's summary. ``X`` defaults to the data selected on."""
        from emkit.report.mclust import selection_summary

        rows = self._rows(X, sample=False)
        with names_checked():  # where the rows were taken
            return selection_summary(self, rows, top)

    def plot(self, what: str = "bic", X=None):
        """A matplotlib Figure: "bic" (the criterion of every fit by K and model, as mclust's
        ``plot(mclustBIC)``), or "classification", "uncertainty", "density" of the chosen
        model on ``X`` (default: the data selected on)."""
        from emkit.report.mclust_plots import plot_selection

        rows = self._rows(X, sample=True) if what != "bic" else None
        with names_checked():  # where the rows were taken
            return plot_selection(self, rows, what)

    def _rows(self, X, *, sample: bool) -> np.ndarray:
        data = self.data_ if X is None else X
        if data is None:
            raise ValueError("pass the data X: this selection does not hold them")
        return self.best_._report_rows(data, sample=sample)  # a Dask collection stays there

    def __repr__(self) -> str:
        best = self.best_
        table = self.table_
        row = (table.n_components == best.n_components) & (
            table.covariance_type == covariance_structure(best.covariance_type).name
        )
        score = float(table.loc[row, self.criterion].iloc[0])
        return (
            f"MixtureSelection(best: {best.n_components} components, "
            f"{best.covariance_type!r}, {self.criterion}={score:.4f})"
        )


def _one_ridge_warning(select: Callable[..., MixtureSelection]) -> Callable[..., MixtureSelection]:
    """``select`` giving one ScaleWarning for all its fits where the ridge outweighs the data
    (each fit's would be the same words, a hundred times over a grid), also when it raises
    (then before its error, which a warning turned into an error does not replace)."""

    @functools.wraps(select)
    def selected(*args, **kwargs) -> MixtureSelection:
        with ridge_warnings_held() as held:
            try:
                selection = select(*args, **kwargs)
            except Exception:
                with contextlib.suppress(ScaleWarning):
                    _warn_once(held)
                raise
        _warn_once(held)
        return selection

    return selected


def _warn_once(held: list[str]) -> None:
    """The first of the grid's ScaleWarnings ``held``, if any, as one for the grid."""
    if held:
        warn_user(f"select_mixture, for the fits of its grid: {held[0]}", ScaleWarning)


@_one_ridge_warning
def select_mixture(
    X,
    n_components: int | Iterable[int] = range(1, 10),
    covariance_types: Iterable[str] | None = None,
    criterion: str = "bic",
    *,
    estimator: GaussianMixture | None = None,
    callback: Callable[[int, int, GaussianMixture], object] | None = None,
    device: Any = None,
    on_cluster: bool = False,
    icl: str = "hard",
    checkpoint: str | Path | None = None,
    give_up: bool = False,
    **params,
) -> MixtureSelection:
    """Fit a Gaussian mixture for every number of components and covariance type; pick the best.

    With its defaults this is R's ``Mclust(X)``: mclust's 14 covariance models (E and V for
    one-dimensional data), K = 1..9, every fit started from mclust's model-based hierarchical
    clustering (``init_params="hc"``, deterministic, so the choice does not depend on
    ``random_state``), and the model with the best BIC. Every candidate's EM stops at a gain of
    ``SCREEN_TOL`` (1e-5; 5e-5 from ``LARGE_GRID_ROWS`` = 131,072 rows, about mclust's own
    stop) per sample or the template's ``tol`` if looser; the ``REFINE`` (3)
    best by the criterion continue to the template's ``tol`` before the choice is made (their
    rows in the table are those of the refined fits); ``give_up`` also stops fits that
    have fallen far behind. A screened row is where that stop left its fit: on a flat
    likelihood (more components than the data hold) it can lie well below the fit's maximum,
    and since SQUAREM's path there moves with the rounding of the sums, the same grid read
    from a Dask collection in other partitions, or on a device, can stop elsewhere (two
    clusters of 1,000 rows, VVV K=3: -7654.01 in memory, -7653.55 from 600-row chunks, the
    maximum -7653.55); the refined rows, and so the choice, agree to ``tol``. ``n_init=m``
    adds m - 1 k-means++ restarts to each fit's hierarchical start. mclust runs plain EM;
    the template's SQUAREM
    (``accelerate="squarem"``, the default) follows another path from the same start, which
    in a few cells ends at another local maximum, lower or higher (iris, VVV K=5: -153.66
    against plain EM's and mclust's -152.91; VVE K=4: -217.19, as mclust, against plain EM's
    -197.61): ``accelerate=None`` takes mclust's path, but for EVE and VVE, whose common
    orientation mclust's M-step solves only to sqrt(eps) while emkit's solves it exactly (with
    mclust's inner tolerance tightened the two agree: wdbc's first five columns, EVE K=7,
    -4853.215 both; at mclust's default -4816.96; not always: on two clusters with a third,
    tight one, VVE K=3, emkit's exact M-step stays at a local maximum, -1017.47, from which
    mclust's inexact one, even at an inner tolerance of 1e-14, falls and then climbs to
    -970.69). Where SQUAREM's fit of a cell (or its
    refinement) ends degenerate, the cell is fitted again by plain EM from the same start,
    and that fit is kept where it is regular, its model then with ``accelerate=None`` (in
    ``models_`` and as ``best_``): extrapolation can overshoot into a collapsed component
    that EM's path, mclust's, never reaches (mclust's ``cross`` data, VEV K=4: -2778.49 with
    a component on one row, against mclust's regular -2787.17). Only such fits pay for a
    second fit; a fit that does not end degenerate is SQUAREM's, as before. Every fit of the
    grid (and each refit) stops at its first model, its start included, that is degenerate
    (:func:`emkit.em.collapse_stops`), not converged, as mclust's ``me`` stops a fit whose
    covariance turns singular (its NA): the row is where it stopped. On wine (178 x 13) the
    fits that collapse (EVE, VVE, EVV, VVV at K = 7 to 9) climbed on towards an unbounded
    likelihood held up by the ridge, EVE's and VVE's inner solves at their cap, for most of
    the grid's time; no fit of iris, wine or Old Faithful that became degenerate came back.
    The grid's fits share each E-step's pass (one centring and one product for a structure's
    fits), so where a collapsed fit leaves the lockstep sooner the others' sums round
    otherwise: regular rows move within 2e-14 of themselves (iris; none on wine or Old
    Faithful), as they do where the grid holds other cells.

    From ``APART_ROWS`` (131,072) rows in memory (``give_up`` off) each fit runs alone and
    the fits are spread over worker processes, one per core emkit may use
    (``EMKIT_NUM_THREADS`` where set; 1 runs them one after another here), which map the
    rows from one temporary file in shared memory: a process's kernel threads gain little
    from a second core, processes gain one core's worth each. The answer is the same on any
    number of them; the template's ``callback`` is called here with each fit's steps, as
    they are relayed.

    Parameters
    ----------
    X : array-like of shape (n, d).
    n_components : numbers of components to try (one int, or several).
    covariance_types : structures to try, one name or several (mclust's names, or full, tied,
        diag, spherical; E and V for one-dimensional data only); None (default) for mclust's
        14 (E and V in one dimension). Each model is fitted once: on one column, where every
        structure is mclust's E (equal variances) or V (varying), only the first name given
        for each is fitted, and the table names it so (["full", "tied", "diag"]: full and
        tied; E and V by their structures, EII and spherical).
    criterion : {"bic", "aic", "icl"}, minimised (scikit-learn's sign).
    estimator : template GaussianMixture whose other parameters every fit uses (default
        ``GaussianMixture(init_params="hc", random_state=0)``).
    callback : called as ``callback(done, total, fitted)`` after each fit, for progress reports.
    device : None (NumPy), or "cpu", "cuda", "cuda:1" or a ``torch.device``: every fit's E-step
        runs there (:class:`GaussianMixture`'s ``device``); ``X`` in memory is copied to the
        device once for all the fits.
    on_cluster : run the fits as tasks on the active ``dask.distributed`` client (Dask's
        local scheduler without one), ``X`` in memory sent to the workers once; ``callback``
        is then called as the results come back. A dask Array or DataFrame ``X`` needs no
        flag: every fit's EM runs on its workers, the fits in lockstep (one task per worker
        and round for all of them) unless ``checkpoint`` is given. ``on_cluster=True`` refuses
        ``checkpoint``: the workers' files are not this machine's.
    icl : "hard" (mclust's ICL, default) or "soft" (the entropy form), for the icl column.
    checkpoint : a folder, or None: each fit keeps its checkpoint there (``<type>-<k>.json``,
        and ``<type>-<k>-refined.json`` for a refined fit; see ``GaussianMixture.fit``), so
        that a selection killed on the way and started again resumes every fit where it
        stopped, and ends as the uninterrupted selection with the same folder, bit for bit.
        The fits then run one after another, not in lockstep: the table agrees with one
        without a checkpoint to rounding, not to the last bit.
    give_up : from ``GIVE_UP_ROWS`` (131,072) rows, choosing by BIC or AIC with SQUAREM
        (the default ``accelerate``) and the fits in lockstep (NumPy rows in memory, a Dask
        collection; not on a device or with ``on_cluster``, whose fits run one by one), give
        up a screened fit once, even at ten times the gain its EM rate projects, at least six
        other cells already have a better criterion (:class:`CriterionStandings`): its row
        keeps the log-likelihood it reached, below its maximum, with ``given_up`` true and
        ``converged`` false, and a fit given up where fewer than three regular rows end ahead
        of what it might have reached is continued as the others were. Faster where many
        fits are far behind (the big-CSV benchmark's default grid: 634 EM steps instead of
        1,573, the same choice), but the projection is not a bound: a fit that sits on a
        plateau and then climbs again can be given up below where it would have ranked, and
        the choice can change (one of 33 one-column mixtures of 4 to 8 clusters on 140,000
        rows: V K=5 chosen instead of V K=4, 13 of BIC worse). Off by default.
    **params : parameters for the template, e.g. ``n_init=5, random_state=0``.

    Returns
    -------
    MixtureSelection with ``best_`` and ``table_``.

    Warns
    -----
    LocalMaximumWarning
        Where a larger K of one structure ends with a lower log-likelihood than a smaller K:
        the larger fit missed its maximum (more starts, ``n_init``, may find it).
    DegenerateFitWarning
        Once, naming the models degenerate at every K (they never compete, the choice is
        among the others) and the constant columns that make them so, where some are.
    ConvergenceWarning
        Once, naming the fits that stopped at ``max_iter`` before converging.
    PrunedWarning
        Once, naming the fits that lost components (``prune_weight``, a concentration
        below 1).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from importlib import resources
    >>> import emkit
    >>> X = pd.read_csv(resources.files("emkit") / "data/faithful.csv")
    >>> sel = emkit.select_mixture(X, n_components=range(1, 5), covariance_types=["tied", "full"])
    >>> sel
    MixtureSelection(best: 3 components, 'tied', bic=2314.2957)
    >>> sel.best_.weights_.round(3)
    array([0.169, 0.356, 0.475])
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    if icl not in ("hard", "soft"):
        raise ValueError(f"icl must be 'hard' (mclust's) or 'soft' (entropy); got {icl!r}")
    if "covariance_type" in params:  # the grid sets it for every fit: silently overwritten
        raise ValueError(
            "select_mixture sets covariance_type for each fit of its grid; pass the choices "
            f"as covariance_types=[...] instead of covariance_type={params['covariance_type']!r}"
        )
    if checkpoint is not None and on_cluster:
        raise ValueError(
            "on_cluster=True fits each candidate as a task on the Dask workers, whose files "
            "are not this machine's: checkpoint is not kept there. Drop checkpoint, or "
            "on_cluster (with a dask Array or DataFrame X every fit already runs on the "
            "workers, and checkpoints are kept here)"
        )
    if checkpoint is not None and Path(checkpoint).exists() and not Path(checkpoint).is_dir():
        raise ValueError(
            f"checkpoint names a folder for the fits' checkpoint files; {str(checkpoint)!r} "
            "is a file: name a folder (it is created where it does not exist)"
        )
    if params.pop("sample_weight", None) is not None:  # None: no weights, as in a fit
        raise ValueError(
            "select_mixture does not take sample_weight: its criteria count every row once. "
            "Fit GaussianMixture(k, covariance_type=...).fit(X, sample_weight=w) for each "
            "candidate instead, or repeat rows by their whole weights"
        )
    if isinstance(covariance_types, str):  # one name, not its letters
        covariance_types = [covariance_types]
    ks = _numbers_of_components(n_components)
    if estimator is not None:
        template = clone(estimator)
    else:
        template = GaussianMixture(init_params="hc", random_state=0)
    template.set_params(**params)
    if device is not None:
        template.set_params(device=device)
    refuse_dask_device("select_mixture", getattr(template, "device", None), X)
    refuse_times_and_complex("select_mixture", X)
    source = None if is_device_array(X) or is_dask_collection(X) else as_chunks(X)
    if source is not None:  # the criteria score every row: read them into memory once
        X = np.concatenate([block for block, _ in source])
        if source.feature_names is not None:  # Parquet, or DataFrames: the fits' names
            X = pd.DataFrame(X, columns=source.feature_names, copy=False)
    X = _on_device(X, template)
    fit_data = X
    frame = None  # a Dask collection as given: data_ keeps it, with its column names
    if is_dask_collection(X):
        frame = X
        # partition sizes counted once for all the fits
        X = as_dask_array(X, dtype=float_dtype(getattr(template, "dtype", None)))
        # checked and persisted once for all the fits, which keep a DataFrame's names
        # (and a refusal of NaN names its columns as a fit of the frame does)
        names = feature_names(frame)
        fit_data = template._dask_source(X)
        checks = replace(fit_data.checks, names=None if names is None else tuple(map(str, names)))
        fit_data = replace(fit_data, feature_names=names, checks=checks)
    if is_dask_collection(X):
        # counted in the pass that checks the partitions where their sizes are unknown
        n_rows, n_columns = fit_data.n_rows, X.shape[1]
    elif is_device_array(X):
        n_rows, n_columns = X.shape[0], X.shape[1]
    else:
        checked = check_array(X, dtype=None, ensure_all_finite=False)
        if not hasattr(X, "shape"):  # a list of rows: the criteria read the array's shape
            X = checked
        n_rows, n_columns = checked.shape
    if covariance_types is None:
        covariance_types = ("E", "V") if n_columns == 1 else MCLUST_MODELS
    structures = [covariance_structure(t, n_columns) for t in covariance_types]
    # each model fitted once: on one column mclust's E and V are the only distinct models,
    # so a structure the same model as one named before it (diag after full: V) is left out
    distinct: dict[str, str] = {}
    for structure in structures:
        model_key = mclust_alias(structure.name, 1) if n_columns == 1 else structure.name
        distinct.setdefault(model_key, structure.name)
    types = list(distinct.values())
    if not ks or not types:
        raise ValueError("n_components and covariance_types must each name at least one choice")
    dropped = [k for k in ks if k > n_rows]
    ks = [k for k in ks if k <= n_rows] or ks[:1]
    if dropped and ks[-1] < dropped[0]:
        warn_user(
            f"n_components {dropped} left out: more components than the {n_rows} rows can "
            f"identify; the grid stops at {ks[-1]}",
            UserWarning,
        )
    rows, models = [], {}
    tol = template.tol
    grid = [(k, cov) for cov in types for k in ks]
    # Screening pays where there are more candidates than are refined.
    large = n_rows >= LARGE_GRID_ROWS
    screen_tol = max(tol, LARGE_SCREEN_TOL if large else SCREEN_TOL) if len(grid) > REFINE else tol
    screening = clone(template).set_params(tol=screen_tol)
    done = 0

    def finished(model: GaussianMixture) -> None:
        nonlocal done
        done += 1
        if callback is not None:
            callback(done, len(grid), model)

    lockstep = not on_cluster and checkpoint is None and _in_lockstep(X, template)
    observed: dict = {}  # the screening's and the refinement's: one pass over the rows
    fits: Iterable[tuple[GaussianMixture, dict]]
    standings = None
    if (
        give_up
        and n_rows >= GIVE_UP_ROWS
        and lockstep
        and criterion != "icl"
        and _objective_is_likelihood(template)
    ):
        standings = CriterionStandings(n_rows, criterion)
    in_lockstep: dict[str, Any] = {
        "single": screen_tol > tol and n_rows >= SINGLE_SCREEN_ROWS and fit_data is X,
        "source": None if fit_data is X else fit_data,
        "apart": n_rows >= APART_ROWS and fit_data is X and standings is None,
    }
    # Screened fits only rank the candidates (the chosen continue to tol): they stop as mclust's.
    # Every fit of the grid stops where it collapses (never chosen), as mclust's do.
    with (
        collapse_stops(),
        screening_stops(standings) if screen_tol > tol else contextlib.nullcontext(),
    ):
        if on_cluster:
            fits = _fits_on_cluster(screening, grid, X, icl, screened=screen_tol > tol)
        elif lockstep:
            fits = _fits_in_lockstep(
                [
                    clone(screening).set_params(n_components=k, covariance_type=cov)
                    for k, cov in grid
                ],
                X,
                icl,
                finished,
                **in_lockstep,
                shared=SharedStarts(observed=observed),
            )
        else:
            fits = (_fit_one(screening, k, cov, X, icl, checkpoint, fit_data) for k, cov in grid)
        for (k, cov), (model, row) in zip(grid, fits, strict=True):
            models[(k, cov)] = model
            rows.append(row)
            if not lockstep:
                finished(model)
    table = pd.DataFrame(rows)
    if standings is not None and standings.ceilings:
        warm_start = template.warm_start
        shared = SharedStarts(observed=observed)
        with collapse_stops():
            _continue_given_up(
                standings, table, criterion, models, X, icl, warm_start, shared, **in_lockstep
            )
    refined = [
        (index, (int(table.at[index, "n_components"]), table.at[index, "covariance_type"]))
        for index in table[~table["degenerate"]].nsmallest(REFINE, criterion).index
    ]
    if screen_tol > tol:
        screened = {key: _trace(models[key]) for _, key in refined}
        for _, key in refined:
            models[key].set_params(tol=tol, warm_start=True, callback=template.callback)
        with collapse_stops():
            if lockstep:
                _fits_in_lockstep(
                    [models[key] for _, key in refined],
                    X,
                    icl,
                    source=in_lockstep["source"],
                    shared=SharedStarts(observed=observed),
                    apart=in_lockstep["apart"],
                )
            else:
                for _, key in refined:
                    path = _checkpoint_file(checkpoint, key[1], key[0], "-refined")
                    models[key] = _fit(models[key], fit_data, path)
        for index, key in refined:
            models[key].set_params(warm_start=template.warm_start)
            _continued(models[key], screened[key])
            row = {"n_components": key[0], "covariance_type": key[1]}
            row.update(_criteria(models[key], X, icl, fit_data), given_up=False)
            table.loc[index, list(row)] = list(row.values())
    for model in models.values():
        model.set_params(tol=tol)
    eligible = table[~table["degenerate"]]
    if eligible.empty and all(_emptied(model) for model in models.values()):
        raise ValueError(
            "every fit is degenerate: each emptied a component (mixing proportion estimated "
            "as zero, mclust's NA); try fewer components, other covariance_types"
            + (", or no covariance_prior" if template.covariance_prior else "")
        )
    if eligible.empty:
        raise ValueError(
            "every fit is degenerate (singular but for regularisation): the data may have a "
            "constant column or many duplicate rows, or too few rows for the components "
            f"(K from {min(ks)} on {n_rows} rows); drop constant columns, try fewer components "
            "or raise reg_covar"
        )
    _warn_on_lower_maxima(eligible, screen_tol if screen_tol > tol else None)
    _warn_if_degenerate_at_every_k(table, X)
    _warn_if_pruned(models)
    _warn_unless_converged(table, template.max_iter)
    best_row = eligible.loc[eligible[criterion].idxmin()]
    best = models[(int(best_row["n_components"]), best_row["covariance_type"])]
    if not give_up:  # the column of an option not taken: always false
        table = table.drop(columns="given_up")
    return MixtureSelection(best, table, criterion, models, icl, X if frame is None else frame)


# A screened fit is given up (:class:`CriterionStandings`) where this many other (K,
# structure) cells have already reached a better criterion than it can reach: twice the fits
# refined, so that fits which end degenerate (never chosen) among those ahead leave it out
# of the refined all the same.
CELLS_AHEAD = 2 * REFINE


class CriterionStandings:
    """A large grid's screened fits ranked by BIC or AIC as they climb
    (:class:`emkit.em.Standings`): each (structure, K) cell's best criterion so far. A fit is
    behind where :data:`CELLS_AHEAD` other cells have already reached a lower criterion than
    its own at the ceiling its EM rate projects (:data:`emkit.em.BEHIND_MARGIN`); it is given
    up there (``ceilings`` keeps the criterion it might have reached) and its row keeps the
    log-likelihood it reached, below its maximum. The projection is not a bound: after the
    screening, a fit given up where fewer than :data:`REFINE` regular fits are ahead of its
    ceiling is continued (:func:`_continue_given_up`).

    Only for fits whose EM climbs the log-likelihood (:func:`_objective_is_likelihood`)."""

    def __init__(self, n_rows: int, criterion: str) -> None:
        self.per_parameter = np.log(n_rows) if criterion == "bic" else 2.0
        self.best: dict[tuple[str, int], float] = {}
        self.ceilings: dict[tuple[str, int], float] = {}

    def _cell(self, model: Any) -> tuple[tuple[str, int], float]:
        """The table's (covariance_type, K) of ``model`` and its criterion's penalty."""
        components, k = model.components, model.n_components
        n_parameters = (k - 1) + components.n_parameters(components.n_features)
        return (type(components).name, k), self.per_parameter * n_parameters

    def record(self, model: Any, log_likelihood: float) -> None:
        cell, penalty = self._cell(model)
        value = -2.0 * log_likelihood + penalty
        if np.isfinite(value) and value < self.best.get(cell, np.inf):
            self.best[cell] = value

    def behind(self, model: Any, ceiling: float) -> bool:
        cell, penalty = self._cell(model)
        reachable = -2.0 * ceiling + penalty
        ahead = sum(value < reachable for other, value in self.best.items() if other != cell)
        if ahead < CELLS_AHEAD:
            return False
        self.ceilings[cell] = min(reachable, self.ceilings.get(cell, np.inf))
        return True


def _objective_is_likelihood(template: GaussianMixture) -> bool:
    """Whether the template's EM climbs the observed log-likelihood itself: no prior on the
    weights or covariances, soft assignment (the criteria are of that log-likelihood)."""
    return (
        template.covariance_prior is None
        and template.weight_concentration == 1.0
        and template.assignment == "soft"
    )


def _continue_given_up(
    standings: CriterionStandings,
    table: pd.DataFrame,
    criterion: str,
    models: dict,
    X,
    icl: str,
    warm_start: bool,
    shared: SharedStarts,
    **in_lockstep,
) -> None:
    """Continue as screened fits, without standings, the fits given up where fewer than
    :data:`REFINE` regular rows of ``table`` are ahead of the criterion each might have
    reached (the projection is not a bound, and fits that were ahead may have ended
    degenerate); their rows of ``table`` are updated in place."""
    regular = table.loc[~table["degenerate"], criterion].to_numpy()
    again = [
        (index, (int(table.at[index, "n_components"]), table.at[index, "covariance_type"]))
        for index in table.index[table["given_up"].astype(bool)]
    ]
    again = [
        (index, key)
        for index, key in again
        if (regular < standings.ceilings[key[1], key[0]]).sum() < REFINE
    ]
    if not again:
        return
    traces = {key: _trace(models[key]) for _, key in again}
    for _, key in again:
        models[key].set_params(warm_start=True)
    with screening_stops():
        fits = _fits_in_lockstep(
            [models[key] for _, key in again], X, icl, **in_lockstep, shared=shared
        )
    for (index, key), (model, row) in zip(again, fits, strict=True):
        model.set_params(warm_start=warm_start)
        _continued(model, traces[key])
        table.loc[index, list(row)] = list(row.values())


def _trace(model: GaussianMixture) -> tuple[int, list[float], list[float], tuple[int, ...]]:
    """A fit's iterations, ``history_``, ``lower_bounds_`` and ``structure_changes_``."""
    return (
        model.n_iter_,
        list(model.history_),
        list(model.lower_bounds_),
        tuple(model.structure_changes_),
    )


def _continued(model: GaussianMixture, screened: tuple) -> None:
    """A refined fit's trace as one fit's: its screening's iterations, then those of the
    continuation to ``tol`` (which starts where the screening stopped), so that ``n_iter_``
    and ``history_`` count and show every EM step from the start, as a fit alone does."""
    n_iter, history, lower_bounds, changes = screened
    model.n_iter_ = n_iter + model.n_iter_
    model.history_ = np.asarray(history + list(model.history_)[1:])
    model.lower_bounds_ = np.asarray(lower_bounds + list(model.lower_bounds_))
    model.structure_changes_ = changes + tuple(n_iter + int(i) for i in model.structure_changes_)


def _emptied(model: GaussianMixture) -> bool:
    """Whether a fit is degenerate because a component emptied (its weight is zero, or its
    share of the final statistics' weight: a fit stopped where it collapsed,
    :func:`emkit.em.collapse_stops`, ends before its weights follow them)."""
    emptied = np.asarray(model.weights_, dtype=float) <= EMPTY_WEIGHT
    held = getattr(getattr(model, "_final_stats", None), "resp_sum", None)
    if isinstance(held, np.ndarray) and held.shape == emptied.shape:
        emptied |= held <= EMPTY_WEIGHT * max(float(held.sum()), np.finfo(float).tiny)
    return bool(np.any(np.asarray(model.degenerate_components_) & emptied))


def _numbers_of_components(n_components: Any) -> list[int]:
    """The numbers of components to try, sorted, each once: ``n_components`` is one whole
    number or an iterable of them (floats that are whole numbers, as ``np.arange`` makes,
    count as such).

    Raises
    ------
    ValueError
        A string, a bool, a fraction or anything else that is not a whole number.
    """
    scalar = np.ndim(n_components) == 0
    values = [n_components] if scalar else n_components
    if isinstance(n_components, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(
            f"n_components must be a whole number or a list of them, e.g. range(1, 10); got "
            f"{n_components!r}"
        )
    ks = []
    for k in values:
        whole = isinstance(k, int | np.integer | float | np.floating) and not isinstance(
            k, bool | np.bool_
        )
        if not (whole and np.isfinite(k) and float(k) == int(k)):
            within = "" if scalar else f" in {n_components!r}"
            raise ValueError(f"n_components must be whole numbers of components; got {k!r}{within}")
        ks.append(int(k))
    return sorted(set(ks))


def _fit(model: GaussianMixture, X, checkpoint: Path | None = None) -> GaussianMixture:
    """``model.fit(X)`` (from where it stopped with ``warm_start``), without the warnings the
    grid gives once. Where SQUAREM's fit ends degenerate the fit keeps plain EM's from the same
    start if regular (its checkpoint beside ``checkpoint`` as ``-plain``), and the model then
    says so with ``accelerate=None``, as in :func:`_fits_in_lockstep`. Returns the model."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", DegenerateFitWarning)
        warnings.simplefilter("ignore", PrunedWarning)  # one for the grid: _warn_if_pruned
        warnings.simplefilter("ignore", ConvergenceWarning)  # _warn_unless_converged
        model.fit(X, checkpoint=checkpoint)
    for caught_warning in caught:  # a fall named by its fit, as _warn_falls names it
        message = str(caught_warning.message)
        if issubclass(caught_warning.category, MonotonicityWarning):
            message = f"{_fit_label(model)}: {message}"
        warn_user(message, caught_warning.category)
    if model._plain_em:  # the model says how it was fitted
        model.set_params(accelerate=None)
    return model


def _in_lockstep(X, template: GaussianMixture) -> bool:
    """Whether the grid's fits can run in lockstep (:func:`_fits_in_lockstep`): rows in
    memory or a Dask collection, fitted with NumPy (on the workers for Dask), not rows on a
    device."""
    return template.device is None and not is_device_array(X)


def _fits_in_lockstep(
    models: list[GaussianMixture],
    X,
    icl: str = "hard",
    finished: Callable[[GaussianMixture], object] | None = None,
    single: bool = False,
    source: Any = None,
    shared: SharedStarts | None = None,
    apart: bool = False,
) -> list[tuple[GaussianMixture, dict]]:
    """Fit every one of ``models`` (unfitted estimators, or fitted ones with ``warm_start``)
    to ``X``, all in lockstep (:func:`emkit.em.fit_groups`): each round of EM is one pass over
    the rows for every fit still running, and the fits of one covariance structure share the
    work on each block of rows. Each fit is the fit ``model.fit(X)`` makes: where SQUAREM's
    ends degenerate, plain EM's from the same start (here all in lockstep) where that one is
    regular, its model then marked with ``accelerate=None``, as :func:`_fit` marks it.
    ``finished(model)`` is called as each fit ends. Returns each model with its table row, in
    order.

    ``single``: the rounds run in float32 (a screening, see :data:`SINGLE_SCREEN_ROWS`); the
    final pass, in float64, then sets each model's log-likelihood, statistics and degenerate
    components at its parameters. ``source``: what the fits read where ``X`` is a Dask
    collection (its shared, checked source): each round is then one task per worker for
    every fit still running, instead of one per fit. ``shared``: what the plans share (a
    new :class:`~emkit.estimators.gaussian_mixture.SharedStarts` where None). ``apart``
    (rows in memory only): each fit runs alone, as its own lockstep of its starts, the fits
    spread over worker processes (:func:`_fits_apart`); the answer is the same on any
    number of them."""
    if not models:
        return []
    plans = []
    data = None
    if shared is None:  # the rows checked once, the starts of each K found once
        shared = SharedStarts()
    for model in models:
        plan = model._fit_plan(X if source is None else source, shared=shared)
        # Every plan reads the same validated rows: one source serves them all.
        data = plan.data if data is None else data
        plans.append((plan.starts, plan.options))
    if isinstance(data, ArrayChunks):
        data = replace(data, chunk_rows=_lockstep_rows(data))
    # rows in memory only (a Dask source's fits share its tasks); weights are not carried
    apart = (
        apart
        and isinstance(data, ArrayChunks)
        and data.sample_weight is None
        and data.labels is None
    )
    # The plans differ at most in accelerate (a refinement continues a fit plain EM made).
    common = [{**options, "accelerate": None} for _, options in plans]
    assert data is not None and all(options == common[0] for options in common)
    if single:
        resolution = max(common[0]["resolution"], gaussian_pass.SINGLE_RESOLUTION)
        common = [{**options, "resolution": resolution} for options in common]

    def run(groups: list[int], options: dict, quiet: bool = False) -> list[FitResult]:
        """The fits of the plans of ``groups`` under ``options``, all in lockstep (each
        alone, ``apart``), each set on its model (``quiet``: without warnings) with the
        statistics of its final pass."""
        fits: dict[int, FitResult] = {}

        def on_fit(i: int, fit: FitResult) -> None:
            g = groups[i]
            _fitted(models[g], fit, again=quiet)
            fits[g] = fit
            if finished is not None and not quiet:
                finished(models[g])

        starts = [plans[g][0] for g in groups]
        with warnings.catch_warnings():
            # each fit's falls are reported below, naming it (_warn_falls)
            warnings.simplefilter("ignore", MonotonicityWarning)
            if apart:
                assert isinstance(data, ArrayChunks)
                ends = _fits_apart(starts, data, options, single, on_fit)
            else:
                ends = _fits_together(starts, data, options, single, on_fit)
        for g in groups if not quiet else ():
            _warn_falls(models[g], fits[g])
        out = []
        for i, (seen, hard, (stats, objective)) in enumerate(ends):
            g, fit = groups[i], fits[groups[i]]
            if single or hard:
                fit = with_final_pass(fit, seen, stats, objective)
                if not hard:  # a hard fit's degenerate components come from its own assignments
                    degenerate = np.asarray(fit.best.model.degenerate(stats), dtype=bool)
                    fit = replace(fit, degenerate=degenerate)
                _fitted(models[g], fit, again=True)
            models[g]._final_stats = stats
            out.append(fit)
        return out

    accelerations = [options["accelerate"] for _, options in plans]
    fits: dict[int, FitResult] = {}
    for accelerate in dict.fromkeys(accelerations):
        groups = [g for g, each in enumerate(accelerations) if each == accelerate]
        options = {**common[groups[0]], "accelerate": accelerate}
        fits.update(zip(groups, run(groups, options), strict=True))
    # Where SQUAREM's fit ends degenerate, plain EM from the same start (the plan's) may not:
    # extrapolation can overshoot into a spurious maximum (mclust's cross, VEV K=4) that EM's
    # path, mclust's, never reaches. Only those fits pay for the refit; a regular one is kept.
    again = [g for g, fit in sorted(fits.items()) if accelerations[g] and fit.degenerate.any()]
    if again:
        squarem = {g: (fits[g], models[g]._final_stats) for g in again}
        plain = run(again, common[again[0]], quiet=True)
        for g, fit in zip(again, plain, strict=True):
            if fit.degenerate.any():  # SQUAREM's fit stays
                _fitted(models[g], squarem[g][0], again=True)
                models[g]._final_stats = squarem[g][1]
            else:  # the model says how it was fitted: its refit makes this fit
                models[g].set_params(accelerate=None)
                _fitted(models[g], fit)  # its warnings, now that it is kept
                _warn_falls(models[g], fit)
                fits[g] = fit
    out = []
    for g, model in enumerate(models):
        cov = covariance_structure(model.covariance_type).name
        row = {"n_components": model.n_components, "covariance_type": cov}
        row.update(_criteria(model, X, icl, source), given_up=fits[g].best.given_up)
        out.append((model, row))
    return out


# What a fit's final pass returns: the model it evaluated (the fit's own, or a hard fit's
# observed model), whether that is not the fit's own model, and its (statistics, objective).
FinalPass = tuple[Any, bool, tuple[Any, float]]


def _fits_together(
    starts: list[list[Any]],
    data: Any,
    options: dict,
    single: bool,
    on_fit: Callable[[int, FitResult], Any],
) -> list[FinalPass]:
    """The fits from ``starts`` (each fit's list of starts) run in one lockstep
    (:func:`emkit.em.fit_groups`), ``on_fit(i, fit)`` as each ends, then one final pass for
    them all."""
    fits: dict[int, FitResult] = {}

    def ended(i: int, fit: FitResult) -> None:
        fits[i] = fit
        on_fit(i, fit)

    # The rounds leave out the hard ICL's sum_n log max_k r_nk (a pass over every log joint
    # of every round); one pass for all the final models gathers it with the rest of their
    # statistics, at exactly the returned parameters. That pass is a soft E-step for a hard
    # fit too (observed_fit): its log-likelihood is the observed-data one, as alone. BLAS on
    # one thread for all the rounds, as every pass asks (over_threads): set and restored
    # once, not around each of the grid's passes (threadpoolctl, some 40 us each, a thousand
    # times on iris); the M-steps' d x d products gain nothing from BLAS threads.
    with one_blas_thread():
        with gaussian_pass.without_log_max():
            with gaussian_pass.single_precision() if single else nullcontext():
                fit_groups(starts, data, **options, on_fit=ended)
        finals = [fits[i].best.model for i in range(len(starts))]
        observed = [final.observed() for final in finals]
        passes = e_step_many(observed, data)
    return [
        (seen, seen is not final, passed)
        for seen, final, passed in zip(observed, finals, passes, strict=True)
    ]


def _fits_apart(
    starts: list[list[Any]],
    data: ArrayChunks,
    options: dict,
    single: bool,
    on_fit: Callable[[int, FitResult], Any],
) -> list[FinalPass]:
    """As :func:`_fits_together`, but each fit alone (:func:`_fit_alone`), the fits spread
    over worker processes (one per core, :func:`~emkit.backend.processes.worker_count`) that
    map the rows from one shared file, the larger K first (they take longest); each fit's
    per-step ``callback`` is called here, relayed. On one core they run one after another
    here, to the same answer."""
    ends: dict[int, FinalPass] = {}

    def ended(i: int, result: tuple[FitResult, FinalPass, list]) -> None:
        fit, ends[i], caught = result
        for message, category in caught:  # as the fit would have warned here
            warn_user(message, category)
        on_fit(i, fit)

    stops = in_screening(), in_collapse_stops()
    workers = worker_count()
    here = workers == 1 or len(starts) == 1
    if not here:
        try:
            _run_on_workers(starts, data, options, single, stops, workers, ended)
        except NoWorkers as error:  # raised before any fit ran
            warn_user(
                "select_mixture runs its fits one after another in this process: worker "
                f"processes could not be given the rows or started ({error}); free space in "
                "the temporary folder (TMPDIR), or set EMKIT_NUM_THREADS=1",
                RuntimeWarning,
            )
            here = True
    if here:
        for i, each in enumerate(starts):
            ended(i, _fit_alone(each, data, options, single, stops, 0, options["callback"]))
    return [ends[i] for i in range(len(starts))]


def _run_on_workers(
    starts: list[list[Any]],
    data: ArrayChunks,
    options: dict,
    single: bool,
    stops: tuple[bool, bool],
    workers: int,
    ended: Callable[[int, Any], Any],
) -> None:
    """:func:`_fit_alone` of each fit on ``workers`` worker processes (the pool keeps its
    size from call to call), the larger K first, each worker's kernels on its share of the
    cores; ``ended(i, result)`` as each returns. Raises
    :class:`~emkit.backend.processes.NoWorkers` where the rows' file cannot be written or
    the workers cannot start: then no fit has run."""
    order = sorted(range(len(starts)), key=lambda i: -max(m.n_components for m in starts[i]))
    threads = max(1, num_threads() // min(workers, len(starts)))
    quiet = {**options, "callback": None}  # the callback stays here: reports are relayed
    with shared_rows(data) as rows:
        run_apart(
            _fit_alone,
            [(starts[i], rows, quiet, single, stops, threads) for i in order],
            lambda j, result: ended(order[j], result),
            workers=workers,
            relayed=options["callback"],
        )


def _fit_alone(
    starts: list[Any],
    rows: ArrayChunks | SharedRows,
    options: dict,
    single: bool,
    stops: tuple[bool, bool],
    threads: int,
    report: Callable[[Any], Any] | None,
) -> tuple[FitResult, FinalPass, list[tuple[str, type[Warning]]]]:
    """One fit of a grid from its ``starts`` (a task of :func:`_fits_apart`, in a worker
    process or here): its EM as :func:`_fits_together` runs it, within the screening's stop
    and the stop on a collapse where ``stops`` says so (:func:`emkit.em.in_screening`,
    :func:`emkit.em.in_collapse_stops`), its steps reported to ``report``; then its final
    pass. ``threads``:
    the kernel threads (0: this process's own count). Also returns the warnings it raised
    (text and category), which a worker would otherwise keep: the caller raises them."""
    data = rows.chunks() if isinstance(rows, SharedRows) else rows
    options = {**options, "callback": report}
    with (
        kernel_threads(threads) if threads else nullcontext(),
        screening_stops() if stops[0] else nullcontext(),
        collapse_stops() if stops[1] else nullcontext(),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        fits: list[FitResult] = []
        (end,) = _fits_together([starts], data, options, single, lambda _, fit: fits.append(fit))
    return fits[0], end, [(str(w.message), w.category) for w in caught]


def _fitted(model: GaussianMixture, fit: FitResult, again: bool = False) -> None:
    """``model._fitted(fit)`` without its DegenerateFitWarning (the table reports it),
    PrunedWarning and ConvergenceWarning (one of each for the grid: :func:`_warn_if_pruned`,
    :func:`_warn_unless_converged`), and ``again`` without any warning (a fit whose warnings
    were given once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Warning if again else DegenerateFitWarning)
        warnings.simplefilter("ignore", PrunedWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model._fitted(fit)


def _warn_falls(model: GaussianMixture, fit: FitResult) -> None:
    """The MonotonicityWarning of a grid's fit (:func:`emkit.em.warn_falls`), naming it: the
    grid's warnings would otherwise not say which of its fits fell."""
    warn_falls(fit.runs, label=_fit_label(model))


def _fit_label(model: GaussianMixture) -> str:
    """How a grid's warning names one of its fits: "select_mixture, VVV K=3"."""
    return f"select_mixture, {model.covariance_type} K={model.n_components}"


def _lockstep_rows(data: ArrayChunks) -> int:
    """Rows per block of ``data`` in lockstep: all of them where a block is a view of the
    array (C order, of the dtype read), else :data:`LOCKSTEP_BLOCK_ROWS`."""
    x = data.x
    view = type(x) is np.ndarray and x.dtype == np.dtype(data.dtype) and x.flags.c_contiguous
    return max(data.chunk_rows, data.n_rows if view else LOCKSTEP_BLOCK_ROWS, 1)


def _fit_one(
    template: GaussianMixture,
    k: int,
    cov: str,
    X,
    icl: str = "hard",
    checkpoint: str | Path | None = None,
    data: Any = None,
) -> tuple[GaussianMixture, dict]:
    """The template fitted with ``k`` components of structure ``cov``, and its table row (its
    checkpoint in the folder ``checkpoint``, where given); ``data`` is what the fit reads
    where it is not ``X`` itself (the shared source of a Dask collection)."""
    model = clone(template).set_params(n_components=k, covariance_type=cov)
    model = _fit(model, X if data is None else data, _checkpoint_file(checkpoint, cov, k))
    row = {"n_components": k, "covariance_type": cov, **_criteria(model, X, icl, data)}
    return model, {**row, "given_up": False}


def _criteria(model: GaussianMixture, X, icl: str, data: Any = None) -> dict:
    """One row of the table: from the statistics of the fit's last E-step where they hold the
    terms (:func:`criteria_from_stats`: no pass over the data), else from one pass of the
    fitted model over the data (for a Dask collection over ``data``, the fits' shared
    source, whose partitions are already checked and on the workers)."""
    row = {
        "log_likelihood": model.log_likelihood_,
        "n_parameters": model.n_parameters(),
    }
    # a Dask collection's rows as its source counted them (X.shape[0] is NaN where its
    # partition sizes are unknown)
    shared = is_dask_collection(X) and hasattr(data, "n_rows")
    n_rows = data.n_rows if shared else X.shape[0]
    found = criteria_from_stats(model, getattr(model, "_final_stats", None), n_rows, icl)
    if found is not None:
        row.update(found)
    elif is_dask_collection(X) and hasattr(data, "map_reduce"):
        row.update(_criteria_on_workers(model, data, icl))
    elif is_dask_collection(X):
        row.update(bic=model.bic(X), aic=model.aic(X), icl=model.icl(X, kind=icl))
    else:
        row.update(_criteria_by_pass(model, X, icl))
    return {
        **row,
        "degenerate": model.degenerate_,
        "converged": model.converged_,
        "model": mclust_alias(model.covariance_type, model.n_features_in_),
    }


def criteria_from_stats(model: GaussianMixture, stats: Any, n_rows: int, icl: str) -> dict | None:
    r"""BIC, AIC and ICL of a fitted mixture from the statistics of its last E-step.

    EM's last E-step is evaluated at exactly the returned parameters, and its pass over the rows
    gathers all the criteria need: the log-likelihood :math:`L` (``log_likelihood_``), the
    weights :math:`N_k`, means and scatters, and :math:`\sum_n \log\max_k r_{nk}` (the fused
    kernel's :attr:`~emkit.distributions.gaussian.stats.GaussianStats.log_max_resp`). Then

    .. math:: \mathrm{ICL}_{hard} = \mathrm{BIC} - 2\sum_n \log\max_k r_{nk}, \qquad
              \mathrm{ICL}_{soft} = \mathrm{BIC} + 2 (L - Q),

    with :math:`Q = \sum_k N_k\log\pi_k + \sum_k\sum_n r_{nk}\log p_k(x_n)` from the statistics
    (:meth:`~emkit.distributions.gaussian.base.GaussianComponents.expected_log_prob`): the
    entropy of the responsibilities is :math:`L - Q`.

    Returns
    -------
    dict with bic, aic and icl, or None where the statistics lack a term (rows with missing
    values, a fit not on the fused path): the caller then makes a pass over the data.
    """
    components = getattr(stats, "components", None)
    log_max = getattr(components, "log_max_resp", np.nan)
    if stats is None or not np.isfinite(log_max):
        return None
    log_likelihood = float(model.log_likelihood_)
    if icl == "hard":
        term = log_max
    else:  # sum_nk r_nk log r_nk = Q - L
        mixture = model._mixture()
        weight = stats.resp_sum  # (k,)
        with np.errstate(divide="ignore"):
            log_weights = np.where(weight > 0, np.log(model.weights_), 0.0)
        expected = float(weight @ log_weights) + float(
            mixture.components.expected_log_prob(components).sum()
        )
        term = expected - log_likelihood
    return criteria_from_sums(log_likelihood, n_rows, term, model.n_parameters())


def _criteria_by_pass(model: GaussianMixture, X, icl: str) -> dict:
    """BIC, AIC and ICL from one pass of the fitted model over the rows ``X`` (in memory)."""
    log_resp, log_density = model._mixture().log_resp(model._checked_rows(X))
    ns = namespace_of(log_resp)  # tensors come back to the host for a few sums
    log_resp, log_density = np.asarray(ns.to_numpy(log_resp)), np.asarray(ns.to_numpy(log_density))
    return criteria_from_sums(*_icl_sums(log_resp, log_density, icl), model.n_parameters())


def _criteria_on_workers(model: GaussianMixture, data: Any, icl: str) -> dict:
    """BIC, AIC and ICL from one pass of the fitted model over the partitions of ``data``
    (a :class:`~emkit.backend.dask_source.DaskSource`): a few sums per partition come back."""
    sums = partition_numbers(model._mixture(), icl, model.n_components)
    log_likelihood, n_rows, term = data.map_reduce(sums)[:3]
    return criteria_from_sums(log_likelihood, n_rows, term, model.n_parameters())


def _warn_if_pruned(models: dict[tuple[int, str], GaussianMixture]) -> None:
    """One PrunedWarning for the grid where EM removed components of some of its fits: their
    rows are those of fits of fewer components than their ``n_components``."""
    pruned = [
        f"{cov} K={k} holds {len(model.weights_)}"
        for (k, cov), model in models.items()
        if len(model.weights_) < k
    ]
    if pruned:
        shown = "; ".join(pruned[:6]) + ("; ..." if len(pruned) > 6 else "")
        warn_user(
            f"select_mixture: EM removed components in {len(pruned)} of the {len(models)} fits "
            f"({shown}): their rows are those of fits of fewer components than n_components "
            "(the fits' prune_weight or weight_concentration below 1; models_[(k, type)]."
            "structure_changes_ says when). To keep them, lower prune_weight or raise "
            "weight_concentration to 1.",
            PrunedWarning,
        )


def _warn_if_degenerate_at_every_k(table: pd.DataFrame, X) -> None:
    """One DegenerateFitWarning where some models are degenerate at every K of the grid
    (while others are not, else select_mixture raised): they never compete, so the choice is
    among the others alone; the constant columns of ``X`` named, where it is in memory."""
    kinds = table["model"] if "model" in table else table["covariance_type"]
    everywhere = table["degenerate"].astype(bool).groupby(kinds, sort=False).all()
    excluded = list(everywhere.index[everywhere])
    if not excluded:
        return
    cause = "a constant column, a column that is a combination of others, or duplicate rows"
    if not (is_dask_collection(X) or is_device_array(X)):
        values = np.asarray(X, dtype=float)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a column with no observed value
            constant = np.flatnonzero(np.nanmax(values, 0) == np.nanmin(values, 0))
        if constant.size:
            names = feature_names(X)
            shown = [repr(names[j]) if names is not None else str(j) for j in constant]
            cause = f"column{'s' if len(shown) > 1 else ''} {', '.join(shown)} constant"
    kept = [kind for kind in everywhere.index if kind not in excluded]
    warn_user(
        f"select_mixture: {', '.join(excluded)} degenerate at every number of components "
        f"(singular but for regularisation: {cause}), so the choice is among "
        f"{', '.join(kept)} alone. Drop constant or redundant columns, or raise reg_covar "
        "(table_'s degenerate column).",
        DegenerateFitWarning,
    )


def _warn_unless_converged(table: pd.DataFrame, max_iter: int) -> None:
    """One ConvergenceWarning for the grid where some of its fits stopped at ``max_iter``
    before their gain per iteration fell below their tolerance, naming them; a fit the
    screening gave up (``given_up``) stopped early by design and is not named, nor is a
    degenerate one (never chosen; it stops where it collapses, :func:`emkit.em.collapse_stops`)."""
    running = ~table["converged"].astype(bool) & ~table["degenerate"].astype(bool)
    stopped = table[running & ~table["given_up"].astype(bool)]
    if max_iter == 0 or stopped.empty:
        return
    kinds = stopped["model"] if "model" in stopped else stopped["covariance_type"]
    names = [f"{kind} K={k}" for k, kind in zip(stopped["n_components"], kinds, strict=True)]
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    warn_user(
        f"select_mixture: {len(names)} of the {len(table)} fits stopped after "
        f"max_iter={max_iter} M-steps before converging ({shown}; the table's converged "
        "column): their rows are the best points EM reached, and the choice among them may "
        "change once they converge. Raise max_iter, or check the data scale.",
        ConvergenceWarning,
    )


def _warn_on_lower_maxima(table: pd.DataFrame, screen_tol: float | None) -> None:
    """LocalMaximumWarning where, within a structure, a larger K has a lower log-likelihood;
    ``screen_tol``: the gain per row at which the unrefined fits stopped (None: all ran to
    ``tol``). A fit the screening gave up (``given_up``) stopped below its maximum by design:
    it is not named, though what it reached still counts against the larger K."""
    lower = []
    for cov, rows in table.groupby("covariance_type", sort=False):
        rows = rows.sort_values("n_components")
        best_so_far = -np.inf
        for k, ll, given_up in zip(
            rows["n_components"], rows["log_likelihood"], rows["given_up"], strict=True
        ):
            if not given_up and ll < best_so_far - 1e-6 * max(1.0, abs(best_so_far)):
                lower.append(f"{cov} K={k}")
            best_so_far = max(best_so_far, ll)
    if lower:
        warn_user(
            "a larger number of components ended with a lower log-likelihood than a smaller "
            f"one of the same covariance type ({', '.join(lower)}): those fits stopped at a "
            "lower local maximum"
            + (
                ""
                if screen_tol is None
                else f", or, screened at a gain of {screen_tol:g} per row (about mclust's stop), "
                "on a slow climb that a fit of that K alone, run to tol, continues"
            )
            + "; n_init adds k-means++ restarts that may reach a higher one",
            LocalMaximumWarning,
        )


def _fits_on_cluster(
    template: GaussianMixture, grid: list, X, icl: str, screened: bool = False
) -> list:
    """:func:`_fit_one` of every (k, cov) of ``grid``, each a Dask task; ``X`` shipped once.
    ``screened``: the fits stop as a screening's (:func:`emkit.em.screening_stops`); each
    stops where it collapses (:func:`emkit.em.collapse_stops`); both set in each task, since
    a worker does not see the context of the call."""
    if is_dask_collection(X) or is_device_array(X):
        raise ValueError(
            "on_cluster=True runs the fits of an in-memory X as Dask tasks; with a Dask "
            "collection every fit already runs on its workers, and device= keeps X elsewhere"
        )
    try:
        import dask
    except ImportError:
        raise ImportError('on_cluster=True needs Dask: pip install "emkit[dask]"') from None
    template = clone(template).set_params(callback=None)  # a progress bar stays here
    data = dask.delayed(X, traverse=False)
    task = dask.delayed(_fit_one_screened if screened else _fit_one_collapsing, pure=True)
    tasks = [task(template, k, cov, data, icl) for k, cov in grid]
    return list(dask.compute(*tasks))


def _fit_one_collapsing(*args) -> tuple[GaussianMixture, dict]:
    """:func:`_fit_one` stopping where it collapses (:func:`emkit.em.collapse_stops`; a Dask
    task's, on a worker)."""
    with collapse_stops():
        return _fit_one(*args)


def _fit_one_screened(*args) -> tuple[GaussianMixture, dict]:
    """:func:`_fit_one` stopping as a screening's fits and where it collapses (a Dask task's,
    on a worker)."""
    with screening_stops(), collapse_stops():
        return _fit_one(*args)


def _on_device(X, template: GaussianMixture):
    """``X`` copied once to the template's device (rows in memory), else as it is."""
    place = placement(template.device, X, template.dtype)
    if place is None or is_device_array(X):
        return X
    missing = "allow-nan" if template.missing == "em" else True
    refuse_inexact_integers(X, "X", "select_mixture")  # before float64 rounds them
    return place.rows(check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=missing))


def _checkpoint_file(
    folder: str | Path | None, covariance_type: str, k: int, suffix: str = ""
) -> Path | None:
    if folder is None:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder) / f"{covariance_type}-{k}{suffix}.json"
