"""select_mixture's fits apart (from APART_ROWS rows): each fit alone, spread over worker
processes, to the answer one process gives, and the same as each fit of the grid made alone."""

import warnings
from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import emkit
from emkit.backend import processes
from emkit.estimators import selection
from emkit.models.mixture import Mixture


def _rows(n=6000, seed=3):
    rng = np.random.default_rng(seed)
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]])
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return means[labels] + rng.normal(size=(n, 2)) * np.array([1.0, 0.6])


@pytest.fixture
def apart_from_few_rows(monkeypatch):
    """The apart path (and the float32 screening that large grids run) from 1,000 rows, so
    that a grid of a few thousand rows takes it."""
    monkeypatch.setattr(selection, "APART_ROWS", 1000)
    monkeypatch.setattr(selection, "SINGLE_SCREEN_ROWS", 1000)


def _select(X, monkeypatch, threads, **kwargs):
    monkeypatch.setenv("EMKIT_NUM_THREADS", str(threads))
    steps, done = [], []
    template = emkit.GaussianMixture(
        init_params="hc", random_state=0, max_iter=200, callback=steps.append
    )
    sel = emkit.select_mixture(
        X,
        range(1, 5),
        ["VVV", "EII", "VEV"],
        estimator=template,
        callback=lambda d, total, model: done.append((d, total)),
        **kwargs,
    )
    return sel, steps, done


@pytest.mark.filterwarnings("ignore::emkit.LocalMaximumWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_worker_processes_give_the_answer_of_one(monkeypatch, apart_from_few_rows):
    X = _rows()
    one, one_steps, one_done = _select(X, monkeypatch, threads=1)
    two, two_steps, two_done = _select(X, monkeypatch, threads=2)
    pd.testing.assert_frame_equal(one.table_, two.table_, check_exact=True)
    # the chosen fit's log-likelihood and BIC against scipy's densities at its parameters
    best = two.best_
    density = sum(
        w * multivariate_normal(m, c).pdf(X)
        for w, m, c in zip(best.weights_, best.means_, best.covariances_, strict=True)
    )
    row = two.table_.loc[two.table_["bic"].idxmin()]
    assert row["log_likelihood"] == pytest.approx(np.log(density).sum(), rel=1e-10)
    penalty = best.n_parameters() * np.log(len(X))
    assert row["bic"] == pytest.approx(-2 * np.log(density).sum() + penalty, rel=1e-10)
    for key, model in one.models_.items():
        other = two.models_[key]
        np.testing.assert_array_equal(model.means_, other.means_)
        np.testing.assert_array_equal(model.covariances_, other.covariances_)
        np.testing.assert_array_equal(model.history_, other.history_)
    # every fit's steps reached the template's callback here, relayed from the workers
    assert len(two_steps) == len(one_steps) > len(one.models_)
    key = lambda s: (s.iteration, s.objective, s.start)  # noqa: E731
    assert sorted(map(key, two_steps)) == sorted(map(key, one_steps))
    assert [d for d, _ in two_done] == list(range(1, 13)) and {t for _, t in two_done} == {12}


@pytest.mark.filterwarnings("ignore::emkit.LocalMaximumWarning")
def test_each_screened_fit_apart_is_the_fit_alone(monkeypatch, apart_from_few_rows):
    """Apart, no fit shares a pass with another: each screened cell of the grid (one not
    refined) is, to the last bit, the fit of that cell alone in this process at the
    screening's tolerance (float32 rounds, a float64 final pass)."""
    from emkit.em import screening_stops

    X = _rows(4000, seed=5)
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    sel = emkit.select_mixture(X, range(1, 4), ["VVV", "EEI"])
    table = sel.table_
    refined = set(table.nsmallest(selection.REFINE, "bic").index)
    screened = [i for i in table.index if i not in refined]
    assert len(screened) == 3
    for i in screened:
        k, cov = int(table.at[i, "n_components"]), table.at[i, "covariance_type"]
        template = emkit.GaussianMixture(
            k, covariance_type=cov, init_params="hc", random_state=0, tol=selection.SCREEN_TOL
        )
        with screening_stops():
            ((alone, row),) = selection._fits_in_lockstep([template], X, single=True)
        fitted = sel.models_[(k, cov)]
        assert row["log_likelihood"] == table.at[i, "log_likelihood"]
        np.testing.assert_array_equal(alone.means_, fitted.means_)
        np.testing.assert_array_equal(alone.history_, fitted.history_)


def test_warnings_a_fit_raises_on_a_worker_reach_the_caller(monkeypatch):
    """A warning raised inside a fit on a worker (here: its start's first M-step) is raised
    again here, attributed to the caller's line, as the fit in this process raises it."""
    from emkit.estimators.gaussian_mixture import SharedStarts

    X = _rows(2000, seed=9)
    plan = emkit.GaussianMixture(2, init_params="hc", random_state=0)._fit_plan(
        X, shared=SharedStarts()
    )
    start = WarningMixture(**{f.name: getattr(plan.starts[0], f.name) for f in fields(Mixture)})
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")  # two fits: two workers
    results = []
    with pytest.warns(UserWarning, match="first M-step here") as caught:
        selection._fits_apart(
            [[start], [start]], plan.data, plan.options, False, _append_to(results)
        )
    assert sorted(i for i, _ in results) == [0, 1]
    assert all(record.filename == __file__ for record in caught)


def _append_to(results):
    return lambda i, fit: results.append((i, fit))


class WarningMixture(Mixture):
    """A Gaussian mixture whose M-step warns (the M-step's mixture is a plain one)."""

    def m_step(self, stats):
        warnings.warn("first M-step here", UserWarning, stacklevel=2)
        return super().m_step(stats)


def _no_room(*args, **kwargs):
    raise OSError(28, "No space left on device")


def _no_semaphores(*args, **kwargs):
    raise processes.NoWorkers("OSError: [Errno 38] Function not implemented")


@pytest.mark.filterwarnings("ignore::emkit.LocalMaximumWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "module, name, failing, said",
    [
        (processes.np, "save", _no_room, "rows could not be written.*No space left"),
        (selection, "run_apart", _no_semaphores, "not implemented"),
    ],
)
def test_no_room_for_the_rows_or_no_workers_leaves_the_fits_here_with_a_warning(
    monkeypatch, apart_from_few_rows, module, name, failing, said
):
    X = _rows(3000, seed=7)
    want, _, _ = _select(X, monkeypatch, threads=1)
    monkeypatch.setattr(module, name, failing)
    with pytest.warns(RuntimeWarning, match=f"one after another.*{said}"):
        got, _, _ = _select(X, monkeypatch, threads=2)
    pd.testing.assert_frame_equal(want.table_, got.table_, check_exact=True)


def test_a_failing_task_stops_the_workers_and_the_next_run_starts_afresh():
    with pytest.raises(ValueError, match="no negative counts"):
        processes.run_apart(_count_to, [(-1,), (2,), (3,)], lambda i, r: None, workers=2)
    seen = []
    processes.run_apart(_count_to, [(2,), (1,)], lambda i, r: seen.append(r), workers=2)
    assert sorted(seen) == [1, 2]


def test_run_apart_relays_reports_before_each_result():
    seen = []
    processes.run_apart(
        _count_to,
        [(3,), (1,), (2,)],
        lambda i, result: seen.append(("result", i, result)),
        workers=2,
        relayed=lambda value: seen.append(("report", value)),
    )
    results = [(i, result) for kind, *rest in seen if kind == "result" for i, result in [rest]]
    assert sorted(results) == [(0, 3), (1, 1), (2, 2)]
    for position, event in enumerate(seen):
        if event[0] == "result":  # every report of that task came before its result, in order
            total = event[2]
            before = [e[1][1] for e in seen[:position] if e[0] == "report" and e[1][0] == total]
            assert before == list(range(total))


def test_run_apart_raises_a_task_error_here():
    with pytest.raises(ValueError, match="no negative counts"):
        processes.run_apart(_count_to, [(2,), (-1,)], lambda i, r: None, workers=2)


def test_worker_count_follows_the_cores_and_stays_here_in_a_started_process(monkeypatch):
    import multiprocessing

    from joblib.externals.loky import cpu_count

    monkeypatch.delenv("EMKIT_NUM_THREADS", raising=False)
    assert processes.worker_count() == min(cpu_count(), processes.num_threads())
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())  # a pool's worker
    assert processes.worker_count() == 1
    monkeypatch.setenv("EMKIT_NUM_THREADS", "3")  # said outright
    assert processes.worker_count() == 3


def test_rows_go_to_shared_memory_only_where_it_has_room(monkeypatch, tmp_path):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(processes, "SHARED_MEMORY", tmp_path)
    monkeypatch.setattr(processes.shutil, "disk_usage", lambda path: usage(64, 0, 64 << 20))
    assert processes._rows_folder(10 << 20) == tmp_path
    assert processes._rows_folder(40 << 20) is None  # 64 MB, a container's: the temp folder


def test_shared_rows_maps_the_same_blocks_and_cleans_up():
    from emkit.backend.sources import ArrayChunks

    x = np.asfortranarray(np.random.default_rng(0).normal(size=(1000, 3)))
    data = ArrayChunks(x, chunk_rows=300, dtype=np.float32)
    with processes.shared_rows(data) as rows:
        mapped = rows.chunks()
        for (a, _), (b, _) in zip(data, mapped, strict=True):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)
        path = rows.path
        assert path.exists()
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(ValueError, match="rows only"):
        with processes.shared_rows(ArrayChunks(x, sample_weight=np.ones(1000))):
            pass


def _count_to(total, report):
    if total < 0:
        raise ValueError("no negative counts")
    for j in range(total):
        if report is not None:
            report((total, j))
    return total


INTERRUPTED_GRID = """
import sys
from pathlib import Path
import numpy as np
import emkit
from emkit.backend import processes
from emkit.estimators import selection

processes.SHARED_MEMORY = Path(sys.argv[1])
selection.APART_ROWS = 1000
rng = np.random.default_rng(0)
X = rng.normal(size=(300_000, 3))
try:  # mclust's 14 models, K 1 to 9: some 40 s on two cores uninterrupted
    emkit.select_mixture(X)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_stops_the_workers_and_removes_the_rows(tmp_path):
    """A terminal's Ctrl-C (SIGINT to the whole process group) while the fits run apart: the
    run stops at once, the workers with it, and the rows' file is gone."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "grid.py"
    script.write_text(INTERRUPTED_GRID)
    env = {**os.environ, "EMKIT_NUM_THREADS": "2"}
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's job
        # Ctrl-C handled as on a terminal, even where this run inherited it ignored (a
        # background job of a shell without job control)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("emkit-rows-*/rows.npy")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.glob("emkit-rows-*")), "the fits never reached the workers"
    time.sleep(0.5)  # the workers at work
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 130 and "interrupted" in out, err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    assert not list(tmp_path.glob("emkit-rows-*"))
    deadline = time.monotonic() + 10  # loky's resource tracker ends once it has cleaned up
    while time.monotonic() < deadline:
        left = subprocess.run(
            ["pgrep", "-a", "-g", str(child.pid)], capture_output=True, text=True
        ).stdout.splitlines()
        if not left:
            break
        time.sleep(0.2)
    assert left == [], f"processes left in the group: {left}"
