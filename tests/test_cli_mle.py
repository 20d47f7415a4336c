"""``emkit mle``: through its own parser, and end to end through ``emkit.cli.main``."""

import argparse
import importlib.util
import sys
import types

import numpy as np
import pandas as pd
import pytest

import emkit.cli
from emkit.cli import mle as cli_mle
from emkit.exceptions import DataError


def run_mle(argv):
    parser = argparse.ArgumentParser(prog="emkit")
    cli_mle.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mle", *argv])
    return args.func(args)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame(
        {
            "x": [5, 0, 1, 1, 0, 3, 2, 3, 4, 1],
            "coin": [1, 0, 0, 1, 1, 0, 1, 0, 0, 0],
            "z": np.linspace(-1, 2, 10) ** 2,
            "neg": [-1, 0, 1, 1, 0, 3, 2, 3, 4, 1],
        }
    ).to_csv(path, index=False)
    return path


def test_poisson_table(table, capsys):
    assert run_mle(["poisson", str(table), "--column", "x"]) == 0
    out = capsys.readouterr().out
    assert "Poisson maximum likelihood" in out
    row = next(line for line in out.splitlines() if line.startswith("rate"))
    values = [float(v) for v in row.split()[1:]]
    assert values[0] == 2
    assert values[1] == pytest.approx(np.sqrt(0.2), rel=1e-5)


@pytest.mark.parametrize(
    "family, column",
    [("bernoulli", "coin"), ("exponential", "z"), ("normal", "z"), ("categorical", "x")],
)
def test_each_one_column_family(table, capsys, family, column):
    assert run_mle([family, str(table), "--column", column]) == 0
    assert "std_err" in capsys.readouterr().out


def test_multivariate_normal_columns(table, capsys):
    assert run_mle(["multivariate_normal", str(table), "--columns", "x,z", "--level", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "covariance[0,1]" in out and "mean[1]" in out


def test_bad_data_become_data_errors(table):
    with pytest.raises(DataError, match="'neg'.*non-negative integer"):
        run_mle(["poisson", str(table), "--column", "neg"])
    with pytest.raises(DataError, match="0 and 1"):
        run_mle(["bernoulli", str(table), "--column", "x"])
    with pytest.raises(DataError, match="choose one with --column"):
        run_mle(["poisson", str(table)])
    with pytest.raises(DataError, match="no column"):
        run_mle(["poisson", str(table), "--column", "nope"])


@pytest.fixture
def other_subcommands(monkeypatch):
    """Stand-ins for the dispatcher's other subcommand modules while they are not written."""
    for name in ("fit", "predict", "demo"):
        if importlib.util.find_spec(f"emkit.cli.{name}") is None:
            stub = types.ModuleType(f"emkit.cli.{name}")
            stub.register = lambda subparsers: None
            monkeypatch.setitem(sys.modules, f"emkit.cli.{name}", stub)
            monkeypatch.setattr(emkit.cli, name, stub, raising=False)


def test_end_to_end_through_main(table, capsys, other_subcommands):
    from emkit.cli import main

    assert main(["mle", "poisson", str(table), "--column", "x"]) == 0
    assert "rate" in capsys.readouterr().out
    assert main(["mle", "poisson", str(table), "--column", "neg"]) == 2
    assert "non-negative integer" in capsys.readouterr().err
    assert main(["mle", "poisson", str(table.parent / "missing.csv"), "--column", "x"]) == 2
