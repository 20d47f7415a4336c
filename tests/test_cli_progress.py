"""``emkit fit --progress``: the fits done and the time left, on a terminal or into a log."""

import io

import pytest

from emkit.cli.progress import ProgressBar


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_left_weighs_each_fit_by_its_work():
    clock = FakeClock()
    # two fits of K = 1 done in 2 s; K = 2 and K = 4 left: 6 units of work at 1 s per unit
    bar = ProgressBar(total=4, stream=io.StringIO(), clock=clock, costs=[1, 1, 2, 4])
    assert bar.time_left() is None  # nothing done yet
    clock.now = 2.0
    bar.models(2, 4)
    assert bar.time_left() == pytest.approx(6.0)
    assert bar.text().endswith("0:02 elapsed, about 0:06 left")
    bar.models(4, 4)
    assert bar.time_left() is None and "left" not in bar.text()
    clock = FakeClock()
    plain = ProgressBar(total=4, stream=io.StringIO(), clock=clock)  # all fits alike
    clock.now = 3.0
    plain.models(1, 4)
    assert plain.time_left() == pytest.approx(9.0)


def test_time_left_counts_each_fit_reported_with_its_model_by_its_k():
    from types import SimpleNamespace

    clock = FakeClock()
    # fits apart end larger K first: K = 4 done in 4 s leaves 1 + 1 + 2 = 4 units: 4 s
    bar = ProgressBar(total=4, stream=io.StringIO(), clock=clock, costs=[1, 1, 2, 4])
    clock.now = 4.0
    bar.models(1, 4, SimpleNamespace(n_components=4))
    assert bar.time_left() == pytest.approx(4.0)
    clock.now = 6.0
    bar.models(2, 4, SimpleNamespace(n_components=2))
    assert bar.time_left() == pytest.approx(2.0)


def test_lines_mode_writes_one_line_per_fit_for_logs():
    clock, stream = FakeClock(), io.StringIO()  # StringIO is no terminal
    bar = ProgressBar(total=3, stream=stream, clock=clock, lines=True, delay=0.0)
    for done in (1, 2, 3):
        clock.now = 10.0 * done
        bar.models(done, 3)
        bar.em_iteration(type("Step", (), {"iteration": 5})())  # no redraw between lines
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "emkit: fitted 1/3 models [########----------------], 0:10 elapsed, about 0:20 left",
        "emkit: fitted 2/3 models [################--------], 0:20 elapsed, about 0:10 left",
        "emkit: fitted 3/3 models [########################], 0:30 elapsed",
    ]
    assert "\r" not in stream.getvalue()
    quiet = ProgressBar(total=3, stream=io.StringIO(), lines=True, enabled=False)
    quiet.models(1, 3)
    assert quiet.stream.getvalue() == ""
