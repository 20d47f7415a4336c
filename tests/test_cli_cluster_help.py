"""``--scheduler`` and ``--workers`` say what each command does on the cluster."""

import argparse

import pytest

from emkit.cli import build_parser


def _option_help(command: str, option: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if option in a.option_strings)
    return " ".join(action.help.split())


@pytest.mark.parametrize("option", ["--scheduler", "--workers"])
def test_predict_cluster_options_do_not_say_fit(option):
    text = _option_help("predict", option)
    assert "fit" not in text
    assert "label the rows" in text


@pytest.mark.parametrize("option", ["--scheduler", "--workers"])
def test_fit_cluster_options_say_fit(option):
    assert _option_help("fit", option).startswith(
        "address of a running Dask scheduler (tcp://host:8786): fit on that cluster"
        if option == "--scheduler"
        else "fit on a local Dask cluster"
    )


@pytest.mark.parametrize("where", [[], ["--scheduler", "tcp://127.0.0.1:1"]])
@pytest.mark.parametrize("command", ["fit", "predict"])
def test_memory_limit_without_workers_is_refused(tmp_path, where, command):
    """--memory-limit sizes a local cluster's workers: alone (or with --scheduler) it would
    be ignored, and is refused before any data are read or any cluster is reached."""
    from cli_run import run_main

    argv = [command, *(["model.json"] if command == "predict" else []), tmp_path / "absent.csv"]
    status, _, err = run_main([*argv, "--memory-limit", "2GB", *where])
    assert status == 2
    assert "--memory-limit 2GB applies with --workers" in err
    assert "absent.csv" not in err
