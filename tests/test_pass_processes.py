"""The Gaussian pass's groups of rows on worker processes (emkit.backend.pass_processes): the
same fits to the last bit as on threads, the worker's warnings and errors raised here, files
and maps released, workers restarted where they died, and the choice of processes."""

import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import emkit
from emkit.backend import pass_processes, threads
from emkit.backend.pass_processes import current, row_processes
from emkit.backend.sources import ArrayChunks
from emkit.backend.threads import SharedSetting


@pytest.fixture
def two_threads(monkeypatch):
    """Passes with two threads: the calling one and one worker process where asked."""
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")


def _rows(n=120_000, d=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    return centres[rng.integers(3, size=n)] + rng.standard_normal((n, d))


def _fit(monkeypatch, mode, x, sample_weight=None, **params):
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", mode)
    return emkit.GaussianMixture(3, random_state=0, **params).fit(x, sample_weight=sample_weight)


def _wait_for_child(pid, seconds):
    """Wait for the forked child ``pid`` to end; kill it and fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child did not end")
        time.sleep(0.02)


def _counting_runs(monkeypatch):
    """How many rounds of passes the workers took part in."""
    calls = [0]
    rounds = pass_processes.RowFiles._rounds

    def counted(self, *args):
        calls[0] += 1
        return rounds(self, *args)

    monkeypatch.setattr(pass_processes.RowFiles, "_rounds", counted)
    return calls


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fits_on_worker_processes_are_the_fits_on_threads(
    monkeypatch, two_threads, covariance_type, weighted
):
    x = _rows()
    w = np.random.default_rng(1).uniform(0.2, 3.0, x.shape[0]) if weighted else None
    on_threads = _fit(monkeypatch, "0", x, w, covariance_type=covariance_type)
    calls = _counting_runs(monkeypatch)
    apart = _fit(monkeypatch, "1", x, w, covariance_type=covariance_type)
    assert calls[0] >= on_threads.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(apart, name), getattr(on_threads, name))
    assert apart.lower_bound_ == on_threads.lower_bound_
    assert apart.n_iter_ == on_threads.n_iter_


def test_a_model_selection_grid_on_worker_processes_is_the_grid_on_threads(
    monkeypatch, two_threads
):
    # several forms per pass in lockstep, screened in float32 and finished in float64
    x = _rows(n=100_000, d=4, seed=2)
    tables = []
    for mode in ("0", "1"):
        monkeypatch.setenv("EMKIT_PASS_PROCESSES", mode)
        selection = emkit.select_mixture(
            x, n_components=[2, 3], covariance_types=["VVV", "EEE", "VII"]
        )
        tables.append(selection.table_)
    np.testing.assert_array_equal(tables[0].to_numpy(), tables[1].to_numpy())


def test_the_workers_warnings_and_errors_are_raised_here(monkeypatch, two_threads):
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.ones((4096, 2))
    x[3000] = 0.0  # in the worker's part: log(0)
    with row_processes(ArrayChunks(x)):
        files = current()
        assert files is not None and files.workers == 1
        with pytest.warns(RuntimeWarning, match="divide by zero"):
            out = files.run(np.log, x, None, 0, 1024, 1, ())
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(np.asarray(out), np.log(x))
        with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
            files.run(np.log, x, None, 0, 1024, 1, ())
        # the worker still serves
        assert files.pool.alive() and files.pool is pass_processes._pool
        out = files.run(np.sqrt, x, None, 0, 1024, 1, ())
        np.testing.assert_array_equal(np.asarray(out), np.sqrt(x))
        assert files.pool.alive()


def test_the_rows_files_go_with_the_fit(monkeypatch, two_threads):
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = _rows(n=10_000)
    with row_processes(ArrayChunks(x)):
        files = current()
        assert files is not None
        path = files.rows_path
        assert os.path.exists(path)
        np.testing.assert_array_equal(np.load(path), x)
    assert current() is None
    assert not os.path.exists(os.path.dirname(path))


def test_workers_that_died_are_started_again(monkeypatch, two_threads):
    x = _rows()
    first = _fit(monkeypatch, "1", x)
    pool = pass_processes._pool
    assert pool is not None
    for process in pool.processes:
        process.terminate()
        process.join()
    again = _fit(monkeypatch, "1", x)
    assert pass_processes._pool is not pool and pass_processes._pool.alive()
    np.testing.assert_array_equal(again.means_, first.means_)
    assert again.lower_bound_ == first.lower_bound_


def test_a_worker_that_dies_mid_fit_leaves_its_part_to_this_process(monkeypatch, two_threads):
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.abs(_rows(n=8192, d=2))
    with row_processes(ArrayChunks(x)):
        files = current()
        assert files is not None
        for process in files.pool.processes:
            process.terminate()
            process.join()
        out = files.run(np.sqrt, x, None, 0, 1024, 1, ())
        np.testing.assert_array_equal(np.asarray(out), np.sqrt(x))


def test_which_fits_take_worker_processes(monkeypatch):
    big = np.zeros((pass_processes.PROCESS_MIN_VALUES // 4, 4))
    monkeypatch.setenv("EMKIT_NUM_THREADS", "8")
    monkeypatch.delenv("EMKIT_PASS_PROCESSES", raising=False)
    assert pass_processes._workers_for(ArrayChunks(big)) == 7
    # too few rows, threads, or rows not held as the passes read them
    assert pass_processes._workers_for(ArrayChunks(big[:100])) == 0
    assert pass_processes._workers_for(ArrayChunks(np.asfortranarray(big))) == 0
    assert pass_processes._workers_for(ArrayChunks(big, dtype=np.float32)) == 0
    labels = np.zeros(big.shape[0], dtype=int)
    assert pass_processes._workers_for(ArrayChunks(big, labels=labels)) == 0
    monkeypatch.setenv("EMKIT_NUM_THREADS", "3")
    assert pass_processes._workers_for(ArrayChunks(big)) == 0
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    assert pass_processes._workers_for(ArrayChunks(big[:100])) == 2
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "0")
    monkeypatch.setenv("EMKIT_NUM_THREADS", "8")
    assert pass_processes._workers_for(ArrayChunks(big)) == 0
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "yes")
    with pytest.raises(ValueError, match="EMKIT_PASS_PROCESSES='yes': use auto"):
        pass_processes._workers_for(ArrayChunks(big))


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc (Linux)")
def test_the_workers_keep_no_map_of_the_rows_after_the_fit(monkeypatch, two_threads):
    # a map of the deleted file would hold its shared memory until the workers' next fit
    # (on Windows the file could not be deleted at all)
    _fit(monkeypatch, "1", _rows())
    pool = pass_processes._pool
    assert pool is not None and pool.alive()
    for process in pool.processes:
        with open(f"/proc/{process.pid}/maps") as maps:
            assert "emkit-rows-" not in maps.read()


def test_an_interrupt_as_the_workers_forget_the_rows_leaves_no_answer_unread(
    monkeypatch, two_threads
):
    # a "forget" answer left in a pipe would be read as the next fit's first part
    monkeypatch.setenv("EMKIT_NUM_THREADS", "3")
    x = _rows()
    expected = _fit(monkeypatch, "1", x)
    send = pass_processes._Pool.send

    def interrupted(self, messages):
        if messages and messages[0] == ("forget",):
            self.round += 1
            self.pipes[0].send((self.round, messages[0]))
            raise KeyboardInterrupt
        return send(self, messages)

    monkeypatch.setattr(pass_processes._Pool, "send", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _fit(monkeypatch, "1", x)
    monkeypatch.setattr(pass_processes._Pool, "send", send)
    again = _fit(monkeypatch, "1", x)
    np.testing.assert_array_equal(again.means_, expected.means_)
    assert again.lower_bound_ == expected.lower_bound_


def test_an_answer_of_an_earlier_pass_is_not_read_as_this_passs_part(monkeypatch, two_threads):
    # a pass interrupted after its messages went leaves their answers in the pipes
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.abs(_rows(n=8192, d=2))
    with row_processes(ArrayChunks(x)):
        files = current()
        assert files is not None and files.workers == 1
        stale = pickle.dumps((files.rows_path, None, np.negative, (), np.geterr()))
        assert files.pool.send([([(4096, 8192, ())], stale)]) == [True]  # its answer left unread
        out = files.run(np.sqrt, x, None, 0, 1024, 1, ())
        np.testing.assert_array_equal(np.asarray(out), np.sqrt(x))
        again = files.run(np.square, x, None, 0, 1024, 1, ())  # the pipe is in step after
        np.testing.assert_array_equal(np.asarray(again), np.square(x))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
@pytest.mark.parametrize("mode", ["0", "1"])
def test_a_forked_child_fits_with_threads_and_workers_of_its_own(monkeypatch, two_threads, mode):
    x = _rows(n=100_000, d=3)
    parent = _fit(monkeypatch, "1", x)  # the parent's kernel threads and workers exist
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", mode)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fit on the same rows, its lower bound back to the parent
        try:
            child = emkit.GaussianMixture(3, random_state=0).fit(x)
            os.write(write, repr(child.lower_bound_).encode())
        finally:
            os._exit(0)
    os.close(write)
    _wait_for_child(pid, 120)
    answer = os.read(read, 64).decode()
    os.close(read)
    assert float(answer) == parent.lower_bound_
    assert pass_processes._pool is not None and pass_processes._pool.alive()  # the parent's


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_forked_child_that_exits_leaves_the_parents_workers_running():
    # multiprocessing's exit in the child terminated and joined the workers it had copied
    script = """
import os, sys, time
import numpy as np
import emkit
from emkit.backend import pass_processes
x = np.random.default_rng(0).normal(size=(50_000, 3))
emkit.GaussianMixture(2, random_state=0, max_iter=3).fit(x)
if os.fork() == 0:
    sys.exit(0)  # the child's atexit handlers run
os.wait()
time.sleep(0.2)
print(pass_processes._pool.alive())
"""
    src = os.path.dirname(os.path.dirname(emkit.__file__))  # this checkout's, not an install's
    env = {**os.environ, "EMKIT_NUM_THREADS": "2", "EMKIT_PASS_PROCESSES": "1", "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "True", done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
def test_a_child_forked_in_a_fit_leaves_the_parents_rows_and_workers(monkeypatch, two_threads):
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.abs(_rows(n=8192, d=2))
    read, write = os.pipe()
    pid, ok = None, False
    try:
        with row_processes(ArrayChunks(x)):
            files = current()
            assert files is not None
            pid = os.fork()
            if pid == 0:  # the child computes its parts itself and deletes nothing
                out = files.run(np.sqrt, x, None, 0, 1024, 1, ())
                ok = bool(np.array_equal(np.asarray(out), np.sqrt(x)))
            else:
                _wait_for_child(pid, 60)
                assert os.read(read, 1) == b"1"
                assert os.path.exists(files.rows_path)  # the child left the context too
                assert files.pool.alive()
                out = files.run(np.sqrt, x, None, 0, 1024, 1, ())
                np.testing.assert_array_equal(np.asarray(out), np.sqrt(x))
    finally:
        if pid == 0:
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
    os.close(read)
    os.close(write)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork")
@pytest.mark.filterwarnings("ignore:This process.*fork:DeprecationWarning")
def test_a_forked_child_drops_the_settings_held_by_the_parents_other_threads():
    # the child has none of those threads: their holds never ended there (the BLAS limit
    # and the short switch interval stayed on for good), and a lock one of them held as the
    # fork came was never released (the child's next pass waited forever)
    entered, release = threading.Event(), threading.Event()
    calls = []

    def apply():
        calls.append("apply")
        if len(calls) == 1:  # the parent's thread applies it, holding the setting's lock
            entered.set()
            release.wait(30)
        return lambda: calls.append("undo")

    setting = SharedSetting(apply)

    def hold():
        with threads._SHORT_SWITCH.held(), setting.held():
            pass

    found = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    holder = threading.Thread(target=hold)
    read, write = os.pipe()
    try:
        holder.start()
        assert entered.wait(30)
        assert sys.getswitchinterval() == threads.KERNEL_SWITCH_INTERVAL
        pid = os.fork()
        if pid == 0:
            try:
                interval = sys.getswitchinterval()
                with setting.held():
                    pass
                os.write(write, repr((interval, calls)).encode())
            finally:
                os._exit(0)
        os.close(write)
        release.set()
        holder.join(30)
        _wait_for_child(pid, 30)
        answer = os.read(read, 256).decode()
    finally:
        release.set()
        os.close(read)
        sys.setswitchinterval(found)
    assert answer == repr((0.005, ["apply", "apply", "undo"]))
    assert calls == ["apply", "undo"]  # the parent's thread held and restored it as before


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_a_pass_over_many_chunks_is_one_round_of_messages_and_the_fit_on_threads(
    monkeypatch, two_threads, covariance_type
):
    from emkit.backend import gaussian_pass, sources

    monkeypatch.setattr(sources, "IN_MEMORY_CHUNK_ROWS", 30_000)  # 4 chunks, the last short
    x = _rows(n=100_000)
    w = np.random.default_rng(3).uniform(0.2, 3.0, x.shape[0])
    on_threads = _fit(monkeypatch, "0", x, w, covariance_type=covariance_type)
    passes, rounds = [0], [0]
    threaded, send = gaussian_pass._threaded, pass_processes._Pool.send

    def counted_pass(*args):
        passes[0] += 1
        return threaded(*args)

    def counted_send(self, messages):
        rounds[0] += bool(messages) and messages[0] != ("forget",)
        return send(self, messages)

    monkeypatch.setattr(gaussian_pass, "_threaded", counted_pass)
    monkeypatch.setattr(pass_processes._Pool, "send", counted_send)
    apart = _fit(monkeypatch, "1", x, w, covariance_type=covariance_type)
    assert rounds[0] >= apart.n_iter_ and passes[0] == 4 * rounds[0]
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_array_equal(getattr(apart, name), getattr(on_threads, name))
    assert apart.lower_bound_ == on_threads.lower_bound_


def _form(means):
    from emkit.backend.kernels import quadratic_form

    k, d = means.shape
    precisions = np.stack([np.eye(d)] * k)
    log_norm = np.full(k, -0.5 * d * np.log(2 * np.pi))
    return quadratic_form(means, precisions, log_norm, np.full(k, -np.log(k)), np.zeros(d))


def test_a_chunk_computed_ahead_serves_only_the_same_pass(monkeypatch, two_threads):
    from emkit.backend.gaussian_pass import _partial

    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.random.default_rng(4).standard_normal((4096, 2))
    ours, theirs = [_form(np.array([[0.0, 0.0], [2.0, 1.0]]))], [_form(np.eye(2))]

    def group_of(n):
        return 256

    def direct(forms, lo, hi):
        return _partial(x[lo:hi], None, forms, True, False, 256)

    with row_processes(ArrayChunks(x, chunk_rows=1024)):
        files = current()
        first = files.chunk_groups(_partial, x[:1024], None, 0, group_of, 1, (ours, True, False))
        assert _kept(files) == 3
        # another pass's chunk (other forms) is computed afresh, with its later chunks; what
        # was kept for ours stays for ours
        other = files.chunk_groups(
            _partial, x[1024:2048], None, 1024, group_of, 1, (theirs, True, False)
        )
        assert _kept(files) == 3  # a later chunk missed is computed alone: none ahead
        later = files.chunk_groups(
            _partial, x[2048:3072], None, 2048, group_of, 1, (ours, True, False)
        )
        assert _kept(files) == 2
    for got, want in [
        (first, direct(ours, 0, 1024)),
        (other, direct(theirs, 1024, 2048)),
        (later, direct(ours, 2048, 3072)),
    ]:
        assert len(got) == len(want) == 4
        for (sums, loglik, log_max), (sums_, loglik_, log_max_) in zip(got, want, strict=True):
            np.testing.assert_array_equal(sums[0], sums_[0])
            assert (loglik, log_max) == (loglik_, log_max_)


def _kept(files):
    """The chunks' groups kept ahead, of every pass."""
    return sum(len(passes) for passes in files.ahead.values())


@pytest.mark.parametrize("more", [False, True])
def test_passes_through_the_chunks_together_each_compute_every_chunk_once(
    monkeypatch, two_threads, more
):
    # a round's groups of models (em.e_step_many) each take the pass chunk by chunk, one
    # after the other: each group's later chunks were computed anew at every chunk, as the
    # other group's look-ahead had replaced them (four chunks: 20480 rows for 8192); with
    # more passes than are kept, those dropped compute their later chunks once more, alone
    from emkit.backend.gaussian_pass import _partial

    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.random.default_rng(5).standard_normal((4096, 2))
    n_passes = pass_processes.AHEAD_PASSES + 3 if more else 2
    groups = [[_form(np.array([[0.0, 0.0], [2.0, 1.0 + i]]))] for i in range(n_passes)]
    computed, rounds = [0], pass_processes.RowFiles._rounds

    def counted(self, fn, spans, least, args):
        computed[0] += spans[-1][1] - spans[0][0]
        return rounds(self, fn, spans, least, args)

    monkeypatch.setattr(pass_processes.RowFiles, "_rounds", counted)
    with row_processes(ArrayChunks(x, chunk_rows=1024)):
        files = current()
        for lo in range(0, 4096, 1024):
            for forms in groups:
                got = files.chunk_groups(
                    _partial, x[lo : lo + 1024], None, lo, lambda n: 256, 1, (forms, True, False)
                )
                want = _partial(x[lo : lo + 1024], None, forms, True, False, 256)
                for (sums, loglik, log_max), (sums_, loglik_, log_max_) in zip(
                    got, want, strict=True
                ):
                    np.testing.assert_array_equal(sums[0], sums_[0])
                    assert (loglik, log_max) == (loglik_, log_max_)
        assert _kept(files) == 0
    dropped = n_passes - pass_processes.AHEAD_PASSES if more else 0
    assert computed[0] == n_passes * 4096 + dropped * 3072


def test_the_chunks_kept_ahead_are_those_of_a_few_passes_at_most(monkeypatch, two_threads):
    # passes left after their first chunk (their later chunks never asked for) leave what
    # was kept for them to be dropped, the oldest first
    from emkit.backend.gaussian_pass import _partial

    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    x = np.random.default_rng(6).standard_normal((4096, 2))
    with row_processes(ArrayChunks(x, chunk_rows=1024)):
        files = current()
        for shift in range(3 * pass_processes.AHEAD_PASSES):
            forms = [_form(np.array([[0.0, 0.0], [2.0, 1.0 + shift]]))]
            files.chunk_groups(_partial, x[:1024], None, 0, lambda n: 256, 1, (forms, True, False))
        assert _kept(files) == 3 * pass_processes.AHEAD_PASSES


def test_a_form_made_again_with_the_same_values_takes_what_was_computed_ahead(
    monkeypatch, two_threads
):
    # batched restarts whose group form is inexact fall back to each mixture's own E-step;
    # a mixture after the first then makes its forms anew at every chunk (the components
    # keep their last form only, and the group's came between): served by identity, its
    # later chunks were computed at the first chunk and again, alone, at each
    from emkit.distributions.gaussian.full import FullGaussian
    from emkit.em import e_step_many
    from emkit.models.mixture import Mixture

    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "1")
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal((4096, 2)), 20 + 0.1 * rng.standard_normal((4096, 2))])
    near = FullGaussian.from_covariances(
        np.array([[0.0, 0.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2)
    )
    # a tight component 100 deviations from the first mixture's centre, near its own
    far = FullGaussian.from_covariances(
        np.array([[0.0, 0.0], [20.0, 20.0]]), np.stack([np.eye(2), 0.01 * np.eye(2)])
    )
    models = [Mixture(np.array([0.5, 0.5]), near), Mixture(np.array([0.05, 0.95]), far)]
    assert far.quadratic_form(models[1].log_weights(), near.means.mean(axis=0)) is None
    computed, rounds = [0], pass_processes.RowFiles._rounds

    def counted(self, fn, spans, least, args):
        computed[0] += spans[-1][1] - spans[0][0]
        return rounds(self, fn, spans, least, args)

    monkeypatch.setattr(pass_processes.RowFiles, "_rounds", counted)
    data = ArrayChunks(x, chunk_rows=2048)
    with row_processes(data):
        assert current() is not None
        got = e_step_many(models, data)
    assert computed[0] == 2 * x.shape[0]  # each mixture's rows once
    monkeypatch.setenv("EMKIT_PASS_PROCESSES", "0")
    for (stats, loglik), (stats_, loglik_) in zip(got, e_step_many(models, data), strict=True):
        assert loglik == loglik_
        np.testing.assert_array_equal(stats.resp_sum, stats_.resp_sum)
