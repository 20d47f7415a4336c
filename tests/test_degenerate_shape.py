"""A component collapsing under a shared volume (EVV, EVE, EVI) is flagged as VVV's is.

Where the components share one volume and each has its own shape, a component on fewer rows
than dimensions cannot shrink: its shape stretches, its smallest variance stays far above
rounding while its largest grows past the data's spread. The degenerate test reads such a
covariance's spectrum relative to its largest eigenvalue. References: VVV's (and VVI's)
verdicts on the same statistics, and R's mclust 6 (``mclustBIC``), which reports NA where
an EVV shape falls below sqrt(eps).
"""

import shutil
import subprocess
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine

import emkit
from emkit.distributions.gaussian import covariance_structure
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.regularization import Regularization

SCALES = np.array([1e3, 1.0, 1e-2, 10.0, 1.0, 0.1])


def _collapsing(scale: float, diagonal: bool, tiny: float = 1e-15) -> GaussianStats:
    """Two components on 60 rows of 6 features: the first holds all but three rows, the
    second those three and every other row at a responsibility of ``tiny`` (what a
    component on three rows holds in EM), columns times ``scale``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)) * SCALES * scale
    if diagonal:  # three rows that agree in the fourth feature: a diagonal collapse
        x[:3, 3] = x[0, 3]
    resp = np.zeros((60, 2))
    resp[:3, 1] = 1.0
    resp[3:] = [1.0 - tiny, tiny]
    return GaussianStats.from_data(x, resp, diagonal)


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
@pytest.mark.parametrize(("structure", "reference"), [("EVV", "VVV"), ("EVE", "VVV")])
def test_a_shape_that_stretches_is_flagged_as_vvv_is(structure, reference, scale):
    stats = _collapsing(scale, diagonal=False)
    verdicts = []
    for name in (structure, reference):
        cls = covariance_structure(name, 6)
        verdicts.append(cls.from_stats(stats, Regularization(0.0)).degenerate(stats).tolist())
    assert verdicts[1] == [False, True]
    assert verdicts[0] == verdicts[1]


@pytest.mark.parametrize("scale", [1.0, 1e-9, 1e9])
def test_an_axis_aligned_shape_that_stretches_is_flagged_as_vvi_is(scale):
    stats = _collapsing(scale, diagonal=True)
    verdicts = []
    for name in ("EVI", "VVI"):
        cls = covariance_structure(name, 6)
        verdicts.append(cls.from_stats(stats, Regularization(0.0)).degenerate(stats).tolist())
    assert verdicts[1] == [False, True]
    assert verdicts[0] == verdicts[1]


@pytest.mark.parametrize("structure", ["EVV", "EVE", "EVI", "VVV", "VVI"])
def test_a_component_that_holds_its_rows_is_regular(structure):
    """The same three rows with the others at 1e-6: a regular component in every one."""
    stats = _collapsing(1.0, diagonal=structure in ("EVI", "VVI"), tiny=1e-6)
    cls = covariance_structure(structure, 6)
    assert not cls.from_stats(stats, Regularization(0.0)).degenerate(stats).any()


def _r_has_mclust() -> bool:
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not _r_has_mclust(), reason="needs R with mclust")
def test_wine_evv_starts_that_collapse_stop_there_as_mclusts(tmp_path):
    """Wine's hierarchical start for EVV with 7 to 9 components holds a cluster of three
    rows in 13 features; the start's E-step leaves that component its three rows and the
    others' below 1e-14, EVV's covariance stretched (smallest eigenvalue 2e-5 of the data's
    variance, largest 4e9 times it). mclust reports the three cells NA; emkit's grid stops
    each at its start (n_iter_ 0), as it stops EVE with 8 there."""
    x = load_wine().data
    path = tmp_path / "wine.csv"
    np.savetxt(path, x, delimiter=",")
    script = (
        "suppressPackageStartupMessages(library(mclust));"
        f"x <- as.matrix(read.csv('{path}', header = FALSE));"
        "b <- mclustBIC(x, G = 7:9, modelNames = 'EVV', verbose = FALSE);"
        "cat(is.na(b[, 'EVV']))"
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["TRUE"] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = emkit.select_mixture(x, [6, 7, 8, 9], covariance_types=["EVV"])
    for k in (7, 8, 9):
        model = sel.models_[(k, "EVV")]
        assert model.degenerate_
        assert model.n_iter_ == 0
    assert not sel.models_[(6, "EVV")].degenerate_
