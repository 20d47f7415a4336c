"""A fit of ``select_mixture``'s grid stops where it collapses, as mclust's do
(:func:`emkit.em.collapse_stops`): at the first accepted model, its start included, that is
degenerate, instead of climbing on towards an unbounded likelihood held up by the ridge.

References: R's mclust 6.0.0, whose ``me`` stops a fit whose covariance turns singular and
whose ``mclustBIC`` reports that cell as NA.
"""

import importlib.util
import shutil
import subprocess
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine

import emkit
from emkit.em import collapse_stops, in_collapse_stops
from emkit.estimators import selection


def _r_has_mclust() -> bool:
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True)
    return done.returncode == 0


def _select(X, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emkit.select_mixture(X, *args, **kwargs)


WINE = load_wine().data


def test_collapsed_cells_stop_where_they_collapse():
    """Wine (178 x 13) from the hierarchical start: EVE K=8's start already holds a
    component on fewer rows than dimensions, VVV K=9's first EM step makes one; each fit
    stops there, degenerate. Before, EVE K=8 ran 22 M-steps of EVE's inner solve at its
    500-sweep cap, and VVV K=9 went on climbing towards the unbounded likelihood."""
    sel = _select(WINE, [3, 8, 9], covariance_types=["EVE", "VVV"])
    eve, vvv = sel.models_[(8, "EVE")], sel.models_[(9, "full")]
    assert eve.degenerate_ and vvv.degenerate_
    assert eve.n_iter_ == 0
    assert vvv.n_iter_ == 1
    table = sel.table_.set_index(["model", "n_components"])
    assert table.loc[("EVE", 8), "degenerate"] and table.loc[("VVV", 9), "degenerate"]
    assert not table.loc[("EVE", 8), "converged"]
    assert not table.loc[("EVE", 3), "degenerate"]


def test_the_stop_is_select_mixtures_only():
    """A fit on its own runs as before (its ``degenerate_`` says it collapsed); within
    ``collapse_stops`` the same fit stops at the first degenerate model, here the plain step
    of SQUAREM's first cycle (no extrapolation from a collapsed model)."""
    template = dict(n_components=9, covariance_type="VVV", init_params="hc", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = emkit.GaussianMixture(**template).fit(WINE)
        plain = emkit.GaussianMixture(**template, accelerate=None).fit(WINE)
        with collapse_stops():
            stopped = emkit.GaussianMixture(**template).fit(WINE)
    assert alone.degenerate_ and stopped.degenerate_
    assert alone.n_iter_ > 1
    assert stopped.n_iter_ == 1
    # SQUAREM's cycle ends at its plain step, which collapsed: EM's first step
    assert stopped.history_[1] == plain.history_[1]


def test_a_refit_that_stays_regular_is_still_kept():
    """Iris, the default grid's EVV K=7: SQUAREM's screened fit collapses (it now stops
    there), plain EM's from the same start does not, and the cell keeps plain EM's regular
    fit, as before (session 34: -159.39); the choice stays mclust's, VEV with 2."""
    sel = _select(load_iris().data)
    model = sel.models_[(7, "EVV")]
    assert not model.degenerate_
    assert model.accelerate is None
    assert model.log_likelihood_ == pytest.approx(-159.3897, abs=1e-4)
    assert (sel.best_.n_components, sel.best_.covariance_type) == (2, "VEV")


@pytest.mark.skipif(not _r_has_mclust(), reason="needs R with mclust")
def test_cells_that_stop_on_wine_are_mclusts_na(tmp_path):
    """Every wine cell of K = 7 to 9 that emkit's grid stops on a collapse is one mclust
    reports NA (it stops those fits too); the choice is mclust's, VVE with 3 components."""
    path = tmp_path / "wine.csv"
    np.savetxt(path, WINE, delimiter=",")
    script = (
        "suppressPackageStartupMessages(library(mclust));"
        f"x <- as.matrix(read.csv('{path}', header = FALSE));"
        "b <- mclustBIC(x, verbose = FALSE);"
        "na <- which(is.na(b), arr.ind = TRUE);"
        "cat(paste(colnames(b)[na[, 2]], rownames(b)[na[, 1]]), sep = '\\n')"
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    na = {(line.split()[0], int(line.split()[1])) for line in out.stdout.split("\n") if line}
    sel = _select(WINE)
    table = sel.table_
    stopped = table[table["degenerate"] & (table["n_components"] >= 7)]
    cells = {(m, int(k)) for m, k in zip(stopped["model"], stopped["n_components"], strict=True)}
    assert cells  # EVE, VVE, EVV, VVV at K = 7, 8, 9
    assert cells <= na
    chosen = table[~table["degenerate"]].nsmallest(1, "bic").iloc[0]
    assert (chosen["model"], chosen["n_components"]) == ("VVE", 3)


def test_the_stop_reaches_worker_processes_and_dask_tasks(monkeypatch):
    """The stop is a ContextVar of the calling thread, which neither a worker process nor a
    Dask task sees: ``select_mixture`` carries it to each fit it runs apart (worker
    processes, from ``APART_ROWS`` rows, here from 100) and to each task of
    ``on_cluster=True``, where wine's VVV K=9 stops at EM's first step, as in this process;
    and it is off again once ``select_mixture`` returns or raises."""
    here = _select(WINE, [3, 9], covariance_types=["VVV"])
    assert here.models_[(9, "full")].n_iter_ == 1
    with monkeypatch.context() as patched:
        patched.setattr(selection, "APART_ROWS", 100)
        patched.setenv("EMKIT_NUM_THREADS", "2")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", UserWarning)  # workers that fail to start warn
            apart = emkit.select_mixture(WINE, [3, 9], covariance_types=["VVV"])
    assert apart.models_[(9, "full")].n_iter_ == 1
    assert apart.models_[(9, "full")].degenerate_
    if importlib.util.find_spec("dask") is not None:
        import dask

        # worker processes: Dask's threads would see this thread's context
        with dask.config.set(scheduler="processes", num_workers=2):
            tasks = _select(WINE, [3, 9], covariance_types=["VVV"], on_cluster=True)
        assert tasks.models_[(9, "full")].n_iter_ == 1
    with pytest.raises(ValueError):
        _select(WINE, [3], covariance_types=["no such type"])
    assert not in_collapse_stops()
    template = dict(n_components=9, covariance_type="VVV", init_params="hc", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = emkit.GaussianMixture(**template).fit(WINE)
    assert alone.n_iter_ > 1
