"""NIST StRD problems read from NIST's own files in ``tests/data/nist``, and the LRE measure.

Run ``PYTHONPATH=src python tests/nist_strd.py`` to print the table of correct digits for every
linear problem and every nonlinear problem from both of NIST's starts.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "nist"

LINEAR = [
    "Norris",
    "Pontius",
    "NoInt1",
    "NoInt2",
    "Filip",
    "Longley",
    "Wampler1",
    "Wampler2",
    "Wampler3",
    "Wampler4",
    "Wampler5",
]

# NIST's model statements, written with NumPy functions so that complex arguments pass through.
_TWO_PI = 2 * np.pi
MODELS = {
    "Misra1a": lambda x, b1, b2: b1 * (1 - np.exp(-b2 * x)),
    "Chwirut2": lambda x, b1, b2, b3: np.exp(-b1 * x) / (b2 + b3 * x),
    "Chwirut1": lambda x, b1, b2, b3: np.exp(-b1 * x) / (b2 + b3 * x),
    "Lanczos3": lambda x, b1, b2, b3, b4, b5, b6: (
        b1 * np.exp(-b2 * x) + b3 * np.exp(-b4 * x) + b5 * np.exp(-b6 * x)
    ),
    "Gauss1": lambda x, b1, b2, b3, b4, b5, b6, b7, b8: (
        b1 * np.exp(-b2 * x)
        + b3 * np.exp(-((x - b4) ** 2) / b5**2)
        + b6 * np.exp(-((x - b7) ** 2) / b8**2)
    ),
    "DanWood": lambda x, b1, b2: b1 * x**b2,
    "Misra1b": lambda x, b1, b2: b1 * (1 - (1 + b2 * x / 2) ** (-2)),
    "Kirby2": lambda x, b1, b2, b3, b4, b5: (b1 + b2 * x + b3 * x**2) / (1 + b4 * x + b5 * x**2),
    "Hahn1": lambda x, b1, b2, b3, b4, b5, b6, b7: (
        (b1 + b2 * x + b3 * x**2 + b4 * x**3) / (1 + b5 * x + b6 * x**2 + b7 * x**3)
    ),
    "Nelson": lambda x, b1, b2, b3: b1 - b2 * x[:, 0] * np.exp(-b3 * x[:, 1]),
    "MGH17": lambda x, b1, b2, b3, b4, b5: b1 + b2 * np.exp(-x * b4) + b3 * np.exp(-x * b5),
    "Misra1c": lambda x, b1, b2: b1 * (1 - (1 + 2 * b2 * x) ** (-0.5)),
    "Misra1d": lambda x, b1, b2: b1 * b2 * x * ((1 + b2 * x) ** (-1)),
    "Roszman1": lambda x, b1, b2, b3, b4: b1 - b2 * x - np.arctan(b3 / (x - b4)) / np.pi,
    "ENSO": lambda x, b1, b2, b3, b4, b5, b6, b7, b8, b9: (
        b1
        + b2 * np.cos(_TWO_PI * x / 12)
        + b3 * np.sin(_TWO_PI * x / 12)
        + b5 * np.cos(_TWO_PI * x / b4)
        + b6 * np.sin(_TWO_PI * x / b4)
        + b8 * np.cos(_TWO_PI * x / b7)
        + b9 * np.sin(_TWO_PI * x / b7)
    ),
    "MGH09": lambda x, b1, b2, b3, b4: b1 * (x**2 + x * b2) / (x**2 + x * b3 + b4),
    "Thurber": lambda x, b1, b2, b3, b4, b5, b6, b7: (
        (b1 + b2 * x + b3 * x**2 + b4 * x**3) / (1 + b5 * x + b6 * x**2 + b7 * x**3)
    ),
    "BoxBOD": lambda x, b1, b2: b1 * (1 - np.exp(-b2 * x)),
    "Rat42": lambda x, b1, b2, b3: b1 / (1 + np.exp(b2 - b3 * x)),
    "MGH10": lambda x, b1, b2, b3: b1 * np.exp(b2 / (x + b3)),
    "Eckerle4": lambda x, b1, b2, b3: (b1 / b2) * np.exp(-0.5 * ((x - b3) / b2) ** 2),
    "Rat43": lambda x, b1, b2, b3, b4: b1 / ((1 + np.exp(b2 - b3 * x)) ** (1 / b4)),
    "Bennett5": lambda x, b1, b2, b3: b1 * (b2 + x) ** (-1 / b3),
}
MODELS["Gauss2"] = MODELS["Gauss3"] = MODELS["Gauss1"]
MODELS["Lanczos1"] = MODELS["Lanczos2"] = MODELS["Lanczos3"]
NONLINEAR = [
    "Misra1a",
    "Chwirut2",
    "Chwirut1",
    "Lanczos3",
    "Gauss1",
    "Gauss2",
    "DanWood",
    "Misra1b",
    "Kirby2",
    "Hahn1",
    "Nelson",
    "MGH17",
    "Lanczos1",
    "Lanczos2",
    "Gauss3",
    "Misra1c",
    "Misra1d",
    "Roszman1",
    "ENSO",
    "MGH09",
    "Thurber",
    "BoxBOD",
    "Rat42",
    "MGH10",
    "Eckerle4",
    "Rat43",
    "Bennett5",
]

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"


@dataclass(frozen=True)
class Problem:
    """One StRD problem: data, NIST's starts and its certified values."""

    name: str
    y: np.ndarray  # (n,)
    x: np.ndarray  # (n,) or (n, m)
    starts: np.ndarray  # (2, k); empty for linear problems
    params: np.ndarray  # (k,) certified estimates
    sd: np.ndarray  # (k,) certified standard deviations
    residual_sd: float
    rss: float  # nonlinear only; NaN for linear problems
    r2: float  # linear only; NaN for nonlinear problems


def _lines(name: str) -> list[str]:
    return (DATA / f"{name}.dat").read_text().splitlines()


def _block(lines: list[str], label: str) -> list[str]:
    """The lines NIST's header says ``label (lines a to b)`` holds (1-based, inclusive)."""
    for line in lines[:40]:
        m = re.search(label + r"\s+\(lines\s+(\d+)\s+to\s+(\d+)\)", line)
        if m:
            return lines[int(m.group(1)) - 1 : int(m.group(2))]
    raise ValueError(f"no '{label}' block in the header")


def _data(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([[float(v) for v in line.split()] for line in _block(lines, "Data")])
    y, x = table[:, 0], table[:, 1:]
    return y, x[:, 0] if x.shape[1] == 1 else x


def _value(lines: list[str], label: str) -> float:
    for line in lines:
        m = re.search(label + r"\s*:?\s+(" + _NUMBER + r")\s*$", line)
        if m:
            return float(m.group(1).replace("D", "E").replace("d", "e"))
    raise ValueError(f"no certified '{label}'")


def load(name: str) -> Problem:
    """Parse one NIST file (linear or nonlinear) into a :class:`Problem`."""
    lines = _lines(name)
    y, x = _data(lines)
    if name in LINEAR:
        cert = _block(lines, "Certified Values")
        rows = [
            [float(v) for v in line.split()[1:3]]
            for line in cert
            if re.match(r"\s*B\d+\s+" + _NUMBER, line)
        ]
        params, sd = np.array(rows).T
        # "Residual" and "Standard Deviation <value>" are on two lines in these files
        return Problem(
            name,
            y,
            x,
            np.empty((2, 0)),
            params,
            sd,
            _value(cert, "Standard Deviation"),
            np.nan,
            _value(cert, "R-Squared"),
        )
    cert = _block(lines, "Certified Values")
    rows = [
        [float(v) for v in line.split("=")[1].split()]
        for line in cert
        if re.match(r"\s*b\d+\s*=", line)
    ]
    table = np.array(rows)  # (k, 4): start 1, start 2, estimate, sd
    if name == "Nelson":  # NIST's model is for log(y)
        y = np.log(y)
    return Problem(
        name,
        y,
        x,
        table[:, :2].T.copy(),
        table[:, 2],
        table[:, 3],
        _value(lines, "Residual Standard Deviation"),
        _value(lines, "Residual Sum of Squares"),
        np.nan,
    )


def design(p: Problem) -> tuple[np.ndarray, bool]:
    """The columns NIST's linear model regresses on, and whether it has an intercept."""
    if p.name in ("NoInt1", "NoInt2"):
        return p.x[:, None], False
    if p.x.ndim == 2:  # Longley
        return p.x, True
    degree = p.params.size - 1
    return np.column_stack([p.x**d for d in range(1, degree + 1)]), True


def lre(estimate, certified) -> np.ndarray:
    """Log relative error (correct significant digits), capped at 15; absolute where certified 0."""
    estimate = np.asarray(estimate, dtype=np.float64)
    certified = np.asarray(certified, dtype=np.float64)
    err = np.abs(estimate - certified)
    rel = np.where(certified == 0, err, err / np.where(certified == 0, 1, np.abs(certified)))
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.where(rel == 0, 15.0, -np.log10(rel))
    return np.clip(np.nan_to_num(digits, nan=0.0), 0.0, 15.0)


def linear_digits(p: Problem) -> dict[str, float]:
    """Fit one linear problem with emkit; the fewest correct digits of each certified kind."""
    from emkit import mle

    X, intercept = design(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = mle.linear_regression(X, p.y, fit_intercept=intercept, variance="unbiased")
    coef = np.r_[est.params["intercept"], est.params["coef"]] if intercept else est.params["coef"]
    sd = np.r_[est.stderr["intercept"], est.stderr["coef"]] if intercept else est.stderr["coef"]
    return {
        "coef": float(lre(coef, p.params).min()),
        "sd": float(lre(sd, p.sd).min()),
        "residual_sd": float(lre(est.residual_sd, p.residual_sd)),
        "r2": float(lre(est.r2, p.r2)),
    }


def nonlinear_fit(p: Problem, start: int, **options):
    """Fit one nonlinear problem from NIST's start 1 or 2 with emkit's defaults."""
    from emkit import mle

    return mle.nonlinear_regression(
        MODELS[p.name], p.x, p.y, p.starts[start - 1], variance="unbiased", **options
    )


def nonlinear_digits(p: Problem, est) -> dict[str, float]:
    """The fewest correct digits of the parameters and their SDs, and those of the RSS."""
    return {
        "params": float(lre(est.params["coef"], p.params).min()),
        "sd": float(lre(est.stderr["coef"], p.sd).min()),
        "rss": float(lre(est.rss, p.rss)),
    }


def main() -> None:
    import time

    print(f"{'linear':10s} {'coef':>6s} {'sd':>6s} {'res_sd':>6s} {'R2':>6s}")
    for name in LINEAR:
        d = linear_digits(load(name))
        print(f"{name:10s} " + " ".join(f"{v:6.1f}" for v in d.values()))
    print(f"\n{'nonlinear':10s} start {'params':>6s} {'sd':>6s} {'rss':>6s} {'conv':>5s} time")
    for name in NONLINEAR:
        p = load(name)
        for start in (1, 2):
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                est = nonlinear_fit(p, start)
            d = nonlinear_digits(p, est)
            dt = time.perf_counter() - t0
            flag = "yes" if est.converged else "NO"
            print(
                f"{name:10s} {start:5d} "
                + " ".join(f"{v:6.1f}" for v in d.values())
                + f" {flag:>5s} {dt:5.2f}s {len(caught)} warning(s)"
            )


if __name__ == "__main__":
    main()
