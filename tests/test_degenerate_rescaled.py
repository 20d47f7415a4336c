"""Rescaling the columns leaves a fit, and its degenerate flag, as it was.

A structure whose family of covariances a diagonal change of units maps onto itself (VVV,
EEE, VEE, EVV and the axis-aligned EEI, VEI, EVI, VVI; every structure with one component,
where the full ones are all VVV) has, on data whose column j is multiplied by s_j, the
maximum-likelihood fit of the original data carried over: means times s, covariances
S Sigma S (S = diag s), the log-likelihood less n sum_j log s_j. Regular data stay regular
on any scale float64 holds (here 1e-12 to 1e12). References: the unscaled fit (an exact
identity) and R's mclust 6 on the unscaled data (``Mclust(x, G, modelNames)``).
"""

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_wine

import emkit

DATA = Path(__file__).parent / "data" / "mclust"
STRUCTURES = "EII VII EEI VEI EVI VVI EEE VEE EVE VVE EEV VEV EVV VVV".split()
# Families a diagonal change of units maps onto themselves (EII, VII: only a uniform one;
# EVE, VVE, EEV, VEV: only a rotation or a uniform one, so their fit with K > 1 depends on the
# columns' units).
PER_COLUMN = "EEI VEI EVI VVI EEE VEE EVV VVV".split()


def _data(name: str) -> np.ndarray:
    if name == "wine":
        return load_wine().data
    return pd.read_csv(DATA / f"{name}.csv").to_numpy(dtype=float)


def _scales(d: int, pattern: tuple[float, ...]) -> np.ndarray:
    return np.resize(np.array(pattern), d)


# Each case: the data and a pattern of column scales, repeated over its columns. The single
# columns at 1e-9 are where VEE, EVE, VVE, EEV, VEV and EVV with one component were flagged.
CASES = {
    "iris-mixed": ("iris", (1e-12, 1e9, 1.0, 1e-7)),
    "iris-second-small": ("iris", (1.0, 1e-9)),
    "iris-third-large": ("iris", (1.0, 1.0, 1e12, 1.0)),
    "wine-mixed": ("wine", (1e-7, 1e12, 1e-12, 1.0, 1e5)),
    "faithful-small": ("faithful", (1e-12, 1.0)),
    "faithful-large": ("faithful", (1.0, 1e12)),
}


def _fit(x, structure, k, **options):
    options = {"tol": 1e-12, **options}  # both fits at the maximum, not where EM stopped
    gm = emkit.GaussianMixture(
        k, covariance_type=structure, init_params="hc", reg_covar=0.0, **options
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.fit(x)


def _full(gm) -> np.ndarray:
    """The fit's covariances as (k, d, d) matrices."""
    k, d = gm.means_.shape
    c = np.asarray(gm.covariances_)
    if gm.covariance_type in ("tied", "EEE"):
        return np.broadcast_to(c, (k, d, d))
    if c.ndim == 1:  # one variance per component
        return c[:, None, None] * np.eye(d)
    if c.ndim == 2:  # per-feature variances
        return c[:, :, None] * np.eye(d)
    return c


def _assert_carried_over(scaled, plain, s, n):
    """``scaled`` (a fit of x * s) is ``plain`` (of x) in the new units."""
    assert not plain.degenerate_
    assert not scaled.degenerate_
    shift = n * np.log(s).sum()
    assert scaled.log_likelihood_ + shift == pytest.approx(plain.log_likelihood_, abs=1e-6 * n)
    order = np.argsort(plain.weights_)
    back = np.argsort(scaled.weights_)
    np.testing.assert_allclose(scaled.weights_[back], plain.weights_[order], rtol=1e-5)
    np.testing.assert_allclose(scaled.means_[back] / s, plain.means_[order], rtol=1e-5)
    # Covariances compared in units of the unscaled fit's largest variance of each feature.
    root = np.sqrt(np.diagonal(_full(plain), axis1=1, axis2=2).max(axis=0))
    unit = np.outer(root, root)
    np.testing.assert_allclose(
        _full(scaled)[back] / np.outer(s, s) / unit,
        _full(plain)[order] / unit,
        rtol=1e-5,
        atol=1e-8,
    )


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("structure", STRUCTURES)
def test_one_component_is_carried_over_to_any_column_scales(structure, case):
    """With one component every full structure is VVV and every axis-aligned one VVI: the
    fit of rescaled columns is the unscaled one's, whatever the structure's solver. (VEE,
    EVE, VVE, EEV, VEV and EVV were flagged degenerate from single columns at 1e-7 to 1e-9:
    their solvers' eigen-decompositions and VEE's test of its shared matrix read the
    columns' scales as singularity.)"""
    x = _data(CASES[case][0])
    n, d = x.shape
    s = _scales(d, CASES[case][1])
    if structure in ("EII", "VII") and np.ptp(np.log10(s)) > 0:
        s = np.full(d, s[0])  # a sphere is carried over by one scale for every column
    _assert_carried_over(_fit(x * s, structure, 1), _fit(x, structure, 1), s, n)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("structure", PER_COLUMN)
def test_structures_closed_under_column_scales_carry_fits_over(structure, k):
    """VEE and EVV with several components, from mclust's hierarchical start (itself
    invariant to the columns' scales): the fit on iris with columns at 1e-12, 1e9, 1, 1e-7
    is the unscaled one (mclust 6 reports NA for every structure but EII and VII there)."""
    x = _data("iris")
    n, d = x.shape
    s = _scales(d, CASES["iris-mixed"][1])
    _assert_carried_over(_fit(x * s, structure, k), _fit(x, structure, k), s, n)


@pytest.mark.parametrize("scale", [1e-12, 1e12])
@pytest.mark.parametrize("structure", STRUCTURES)
def test_every_structure_carries_fits_over_to_one_scale(structure, scale):
    """Every structure's family is closed under one scale for all the columns."""
    x = _data("iris")
    n, d = x.shape
    s = np.full(d, scale)
    _assert_carried_over(_fit(x * s, structure, 3), _fit(x, structure, 3), s, n)


def test_select_mixture_one_component_table_is_carried_over():
    """select_mixture's own verdicts (its fits stop where they collapse): with one
    component no cell of wine with rescaled columns is degenerate, and each row's
    log-likelihood but the spheres' (EII, VII) is the unscaled one's shifted."""
    x = _data("wine")
    n, d = x.shape
    s = _scales(d, CASES["wine-mixed"][1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = emkit.select_mixture(x, [1], reg_covar=0.0).table_
        scaled = emkit.select_mixture(x * s, [1], reg_covar=0.0).table_
    assert not plain["degenerate"].any()
    assert not scaled["degenerate"].any()
    kept = ~plain["model"].isin(["EII", "VII"]).to_numpy()
    assert kept.sum() == 12
    np.testing.assert_allclose(
        scaled["log_likelihood"][kept] + n * np.log(s).sum(),
        plain["log_likelihood"][kept],
        atol=1e-6 * n,
    )


def _r_has_mclust() -> bool:
    if shutil.which("Rscript") is None:
        return False
    done = subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not _r_has_mclust(), reason="needs R with mclust")
def test_rescaled_fits_are_mclusts_unscaled_ones(tmp_path):
    """VEE and EVV with two components on iris with columns at 1e-12, 1e9, 1, 1e-7: emkit's
    plain EM from the hierarchical start ends at mclust's fit of the unscaled data (its
    log-likelihood shifted); mclust's own fit of the rescaled data is NA."""
    x = _data("iris")
    n, d = x.shape
    s = _scales(d, CASES["iris-mixed"][1])
    path = tmp_path / "iris.csv"
    np.savetxt(path, x, delimiter=",")
    script = (
        "suppressPackageStartupMessages(library(mclust));"
        f"x <- as.matrix(read.csv('{path}', header = FALSE));"
        "for (m in c('VEE', 'EVV')) cat(m, Mclust(x, G = 2, modelNames = m,"
        " verbose = FALSE)$loglik, '\\n')"
    )
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    reference = {line.split()[0]: float(line.split()[1]) for line in out.stdout.splitlines()}
    for structure in ("VEE", "EVV"):
        gm = _fit(x * s, structure, 2, accelerate=None, tol=1e-10)
        assert not gm.degenerate_
        # mclust stops at a relative gain of 1e-5: its log-likelihood is within 1e-3 here
        loglik = gm.log_likelihood_ + n * np.log(s).sum()
        assert loglik == pytest.approx(reference[structure], abs=1e-2)


@pytest.mark.parametrize("pattern", [(1.0, 1e-7, 1.0, 1.0), (1e8, 1.0, 1.0, 1e-5)])
def test_a_start_rescued_in_the_data_units_is_rescued_on_any_scale(pattern):
    """Iris setosa (50 rows) from the hierarchical start with 5 and 6 clusters, some on rows
    that hold no spread in some direction: each such cluster starts from the covariance of
    all the data where that is regular (init.components_from_responsibilities). Judged
    against its largest eigenvalue, the data's covariance with a column at 1e-7 of the
    others read as singular, the clusters started singular, and VVV with 5 and 6, EVV with 6
    (regular unscaled) were flagged degenerate; judged in the features' own units, the
    verdicts and the regular rows are the unscaled ones."""
    x = _data("iris")[:50]
    n, d = x.shape
    s = np.array(pattern)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = emkit.select_mixture(x, [5, 6], ["VVV", "EVV"], reg_covar=0.0).table_
        scaled = emkit.select_mixture(x * s, [5, 6], ["VVV", "EVV"], reg_covar=0.0).table_
    assert plain["degenerate"].tolist() == scaled["degenerate"].tolist()
    regular = ~plain["degenerate"].to_numpy()
    assert regular.sum() == 3
    np.testing.assert_allclose(
        scaled["log_likelihood"][regular] + n * np.log(s).sum(),
        plain["log_likelihood"][regular],
        atol=1e-6 * n,
    )
