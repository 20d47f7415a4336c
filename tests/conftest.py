from importlib import resources

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def faithful() -> np.ndarray:
    """Old Faithful, 272 x 2 (eruptions, waiting), as shipped inside the package."""
    with resources.files("emkit").joinpath("data/faithful.csv").open() as f:
        return pd.read_csv(f).to_numpy(dtype=np.float64)


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
