from importlib import resources

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def faithful() -> np.ndarray:
    """Old Faithful, 272 x 2 (eruptions, waiting), as shipped inside the package."""
    with resources.files("emkit").joinpath("data/faithful.csv").open() as f:
        return pd.read_csv(f).to_numpy(dtype=np.float64)


@pytest.fixture(scope="session")
def dask_cluster():
    """One local Dask cluster of two single-threaded worker processes for the whole run.

    Starting a cluster and importing emkit on its workers took seconds a module; the workers
    are started once. A module that fits on it opens a client of its own (``Client(cluster)``,
    the default scheduler only while that module runs) or passes ``cluster.scheduler_address``
    to ``--scheduler``; the other modules still see Dask's local schedulers.
    """
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        yield cluster


# Scripts that computed stored reference numbers once (they need PyMC, R, ...): not test modules.
collect_ignore_glob = ["reference/*.py"]


def pytest_addoption(parser):
    parser.addoption(
        "--runslow", action="store_true", help="also run tests marked slow (minutes each)"
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes long; run with --runslow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


class _AllThreads:
    """A stand-in for the passes' TimedThreads: every call on all the kernel threads."""

    @staticmethod
    def run(key, fn):
        return fn()

    run_as = run

    @staticmethod
    def run_split(key, fn, rows, unit, min_rows=1, probe_rows=0):
        return fn(0, rows)


@pytest.fixture
def all_threads(monkeypatch):
    """The CPU passes run on every kernel thread they are given (kernel_threads,
    EMKIT_NUM_THREADS) rather than on the count their timing chose, so that a test of thread
    counts runs each count it names."""
    from emkit.backend import family_pass, gaussian_pass, nearest_pass

    for module, name in (
        (family_pass, "FAMILY_THREADS"),
        (gaussian_pass, "GAUSSIAN_THREADS"),
        (nearest_pass, "NEAREST_THREADS"),
    ):
        monkeypatch.setattr(module, name, _AllThreads())


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread():
    """scikit-learn's and torch's OpenMP loops on one thread. On a shared two-core machine an
    OpenMP thread spins waiting for a core another process holds: scikit-learn's KMeans took
    0.2 to 0.9 s for a 272-row fit it makes in 8 ms on one thread. emkit's own kernel threads
    (EMKIT_NUM_THREADS) and BLAS are left as they are."""
    import importlib.util

    import sklearn.cluster  # noqa: F401  (threadpoolctl limits the libraries loaded now)
    from threadpoolctl import threadpool_limits

    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401
    with threadpool_limits(limits=1, user_api="openmp"):
        yield
