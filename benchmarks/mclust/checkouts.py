"""``select_mixture(X)`` with its defaults from two source trees, in alternating fresh processes.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/mclust/checkouts.py OLD_SRC NEW_SRC --data wine --rounds 2

OLD_SRC and NEW_SRC are ``src`` folders of two checkouts. Each round runs one process per tree
(old first, then new); each process makes ``--calls`` calls (after a first, untimed one where
``--warm``) and reports the fastest in CPU seconds (``time.process_time()``, BLAS on one
thread as the grid's passes ask). Prints each tree's fastest over the rounds, and compares the
two trees' ``table_``: how many rows differ, and, among the rows neither tree flags
degenerate, the largest relative difference of the log-likelihood (0 where they are equal
bit for bit), the degenerate flags and the chosen model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import json, sys, time, warnings
sys.path.insert(0, {here!r})
from speed import bundled, faithful
import emkit
X = faithful() if {data!r} == "faithful" else bundled({data!r})
warnings.simplefilter("ignore")
if {warm}:
    emkit.select_mixture(X)
best = None
for _ in range({calls}):
    t = time.process_time()
    sel = emkit.select_mixture(X)
    cpu = time.process_time() - t
    best = cpu if best is None else min(best, cpu)
table = sel.table_
rows = [[r.covariance_type, int(r.n_components), float(r.log_likelihood), bool(r.degenerate)]
        for r in table.itertuples()]
chosen = [sel.best_.covariance_type, int(sel.best_.n_components)]
json.dump({{"cpu": best, "rows": rows, "chosen": chosen}}, open({out!r}, "w"))
"""


def run(src: str, data: str, calls: int, warm: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "out.json")
        code = CHILD.format(here=str(HERE), data=data, calls=calls, warm=warm, out=out)
        env = {**os.environ, "PYTHONPATH": src}
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--data", choices=["iris", "wine", "faithful"], default="wine")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=1, help="timed calls per process")
    parser.add_argument("--warm", action="store_true", help="an untimed call first")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    ends = {}
    for _ in range(args.rounds):
        for name in ("old", "new"):
            ends[name] = run(getattr(args, name), args.data, args.calls, args.warm)
            seconds[name].append(ends[name]["cpu"])
            print(f"{name}: {ends[name]['cpu']:.2f} CPU s", flush=True)
    old, new = ends["old"], ends["new"]
    print(
        f"{args.data}: old {min(seconds['old']):.2f} CPU s, new {min(seconds['new']):.2f} CPU s "
        f"(fastest of {args.rounds} rounds, {args.calls} call(s) a process)"
    )
    differ = sum(a != b for a, b in zip(old["rows"], new["rows"], strict=True))
    flags = sum(a[3] != b[3] for a, b in zip(old["rows"], new["rows"], strict=True))
    regular = [(a[2], b[2]) for a, b in zip(old["rows"], new["rows"], strict=True) if not a[3]]
    moved = max((abs(a - b) / abs(a) for a, b in regular), default=0.0)
    print(
        f"rows differing {differ} of {len(old['rows'])}; degenerate flags differing {flags}; "
        f"regular rows {len(regular)}, largest relative log-likelihood difference {moved:.1e}; "
        f"chosen old {old['chosen']}, new {new['chosen']}"
    )


if __name__ == "__main__":
    main()
