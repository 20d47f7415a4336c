"""Behaviours that docstrings and the user guide state, checked as stated."""

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emkit import Exponential, Gamma, GaussianMixture, MixtureModel
from emkit.exceptions import DegenerateFitWarning, MonotonicityWarning

FAITHFUL = pd.read_csv(resources.files("emkit") / "data/faithful.csv").to_numpy()


def test_a_raised_ridge_lowers_history_by_half_the_weight_per_flat_direction():
    # GaussianMixture's reg_covar: with reg_covar=0 and a constant column, the M-step raises
    # the ridge c; its prior term -c/2 tr(Sigma_k^-1) is -N_k/2 in the flat direction.
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(200, 2)), np.full(200, 3.0)]
    X[100:, :2] += 5
    w = rng.integers(1, 3, size=200).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        warnings.simplefilter("ignore", DegenerateFitWarning)
        gm = GaussianMixture(2, covariance_type="VVV", reg_covar=0.0, random_state=0)
        gm.fit(X, sample_weight=w)
    assert tuple(gm.structure_changes_) == (1,)
    # the fall at step 1: N / 2, less what the step gained in log-likelihood
    assert gm.history_[0] - gm.history_[1] == pytest.approx(w.sum() / 2, rel=1e-3)
    assert gm.log_likelihood_ - gm.history_[-1] == pytest.approx(w.sum() / 2, rel=1e-6)


@pytest.mark.parametrize(
    "option",
    [
        {"covariance_prior": "mclust"},
        {"weight_concentration": 0.5},
        {"assignment": "hard"},
        {"prune_weight": 0.1},
    ],
)
def test_missing_em_refuses_map_and_classification_options(option):
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing='em' supports maximum likelihood"):
        GaussianMixture(2, missing="em", random_state=0, **option).fit(X)


def test_gamma_support_excludes_zero():
    assert Gamma(shape=[0.5], rate=[1.0]).log_prob(np.array([[0.0]]))[0] == -np.inf
    rng = np.random.default_rng(0)
    X = np.r_[rng.gamma(0.5, 1, (100, 1)), rng.exponential(3, (100, 1))]
    X[0, 0] = 0.0
    mixed = MixtureModel([Gamma(), Exponential()], random_state=0).fit(X)
    assert mixed.predict_proba(X[:1])[0].tolist() == [0.0, 1.0]  # the Exponential takes it
    with pytest.raises(ValueError, match="Zeros in data: a Gamma component"):
        MixtureModel([Gamma(), Gamma()], random_state=0).fit(X)
    gammas = MixtureModel([Gamma(), Gamma()], random_state=0).fit(X[1:])
    assert gammas.score_samples(X[:1])[0] == -np.inf
    with pytest.raises(ValueError, match="outside the support of every component"):
        gammas.predict(X[:1])


@pytest.mark.parametrize("init", ["k-means++", "kmeans", "random", "random_from_data"])
def test_random_starts_differ_between_weights_and_repeated_rows(init):
    # GaussianMixture's init_params: "random" and "random_from_data" draw per row as given.
    w = np.random.default_rng(0).integers(0, 4, len(FAITHFUL))
    repeated = np.repeat(FAITHFUL, w, axis=0)
    kw = {"init_params": init, "random_state": 0, "max_iter": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = GaussianMixture(3, **kw).fit(FAITHFUL, sample_weight=w)
        b = GaussianMixture(3, **kw).fit(repeated)
    same = np.allclose(np.sort(a.means_, axis=0), np.sort(b.means_, axis=0), rtol=1e-10)
    assert same == (init in ("k-means++", "kmeans"))


ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "user_guide"


def _prose(path: Path) -> str:
    """A page's text with its line breaks and runs of spaces read as one space."""
    return " ".join(path.read_text().split())


def _fit_help() -> str:
    from emkit.cli import build_parser

    parser = build_parser()
    fit = parser._subparsers._group_actions[0].choices["fit"]  # argparse keeps no public map
    return " ".join(fit.format_help().split())


def test_scikit_learns_stopping_defaults_end_short_of_faithfuls_tied_maximum():
    # README ("stop short: ... by 0.7 to 14 log-likelihood units (its random_state 0 to 9)")
    # and the EM guide ("by 14 ... from most of its seeds"), against scikit-learn itself.
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    for page, claim in [
        (ROOT / "README.md", "by 0.7 to 14 log-likelihood units (its `random_state` 0 to 9)"),
        (GUIDE / "em.rst", "by 14 log-likelihood units on Old Faithful's three-component"),
    ]:
        assert claim in _prose(page), (page.name, claim)
    best = max(
        GaussianMixture(3, covariance_type="tied", reg_covar=0.0, random_state=seed)
        .fit(FAITHFUL)
        .log_likelihood_
        for seed in range(3)
    )
    gaps = np.array(
        [
            best
            - len(FAITHFUL)
            * SklearnGaussianMixture(3, covariance_type="tied", random_state=seed)
            .fit(FAITHFUL)
            .score(FAITHFUL)
            for seed in range(10)
        ]
    )
    assert round(gaps.min(), 1) == 0.7, gaps
    assert round(gaps.max()) == 14, gaps
    assert (gaps > 13.5).sum() > 5, gaps  # "most of its seeds"


def test_the_guide_quotes_the_local_maximum_it_warns_about():
    # gaussian_mixtures.rst: "``tied`` K = 5 at -1132.62, below K = 3"
    import re

    from emkit import LocalMaximumWarning, select_mixture

    quoted = re.search(
        r"``tied`` K = 5 at (-[\d.]+), below K = 3", _prose(GUIDE / "gaussian_mixtures.rst")
    )
    assert quoted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel = select_mixture(pd.DataFrame(FAITHFUL), n_components=range(1, 6))
    assert any("tied K=5" in str(w.message) for w in caught if w.category is LocalMaximumWarning)
    tied = sel.table_.set_index(["covariance_type", "n_components"]).loc["tied", "log_likelihood"]
    assert round(tied[5], 2) == float(quoted.group(1))
    assert tied[5] < tied[3]


def test_the_numbers_the_pages_quote_are_the_codes():
    # Thresholds the user guide and `emkit fit --help` state, against the constants that set
    # them: a change to one must change the other.
    from emkit import em
    from emkit.backend import nearest_pass, pass_processes, threads, validation
    from emkit.estimators import gaussian_mixture, selection

    large = _prose(GUIDE / "large_data.rst")
    for claim in [
        f"from {selection.APART_ROWS:,} rows in memory runs each fit alone",
        f"On fewer than {nearest_pass.NEAR_FEW_ROWS:,} rows it does so only where each row's "
        f"distances take {nearest_pass.NEAR_FEW_ROWS_PRODUCTS} multiply-adds or more",
        f"of at least {pass_processes.PROCESS_MIN_VALUES:,} values (``PROCESS_MIN_VALUES``)",
        f"over the last {em.RATE_CYCLES + 1} cycles",
        f"values beyond {validation.MAX_MAGNITUDE:.0e}, or all below "
        f"{validation.MIN_MAGNITUDE:.0e}".replace("e+", "e"),
        f"at most {gaussian_mixture.PLOT_ROWS:,} rows".replace(",", " "),
        f"is at most {threads.KERNEL_SWITCH_INTERVAL * 1000:g} ms",
    ]:
        assert claim in large, claim
    assert pass_processes.PROCESS_MIN_THREADS == 4 and "On four threads or more" in large
    assert pass_processes.IDLE_SECONDS == 60 and "leave after a minute" in large

    mixtures = _prose(GUIDE / "gaussian_mixtures.rst")
    for claim in [
        f"fitted to a gain of {selection.SCREEN_TOL:.0e} per sample".replace("e-0", "e-"),
        f"From {selection.LARGE_GRID_ROWS:,} rows the screening stops at "
        f"{selection.LARGE_SCREEN_TOL:.0e} per sample".replace("e-0", "e-"),
    ]:
        assert claim in mixtures, claim
    assert selection.REFINE == 3 and "the three best by the criterion" in mixtures
    assert selection.CELLS_AHEAD == 6 and "six other cells already" in mixtures
    assert em.BEHIND_MARGIN == 10 and "at ten times the gain" in mixtures

    assert f"from {selection.GIVE_UP_ROWS:,} rows (BIC or AIC, squarem)" in _fit_help()


def test_the_development_page_names_what_exists():
    # docs/development.rst names modules and constants in double backticks.
    import importlib
    import re

    text = (ROOT / "docs" / "development.rst").read_text()
    modules = set(re.findall(r"``(emkit(?:\.\w+)+)``", text))
    assert "emkit.backend.threads" in modules
    for name in sorted(modules):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError:  # a function or class in a module
            module, _, attribute = name.rpartition(".")
            assert hasattr(importlib.import_module(module), attribute), name
    source = "\n".join(p.read_text() for p in (ROOT / "src" / "emkit").rglob("*.py"))
    constants = set(re.findall(r"``([A-Z][A-Z0-9_]{3,})``", text))
    assert "MIN_BLOCK_FLOPS" in constants
    for name in sorted(constants):
        assert re.search(rf"^\s*{name}\b.*=|[\"']{name}[\"']", source, re.M), name


def test_the_readme_layout_names_files_that_exist():
    import re

    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    package = ROOT / "src" / "emkit"
    files = re.findall(r"\b(\w+\.py)\b", layout)
    pairs = re.findall(r"^ {2}(\w+)/(?:, (\w+)/)?", layout, re.M)  # "  cli/, report/"
    folders = [name for pair in pairs for name in pair if name]
    assert "sources.py" in files and "backend" in folders
    present = {p.name for p in package.rglob("*.py")}
    assert not set(files) - present, set(files) - present
    assert all((package / f).is_dir() for f in folders), folders


def test_a_checkpointed_fit_agrees_with_the_lockstep_one_as_the_readme_says(tmp_path):
    # README: "agrees with a run without one to rounding (about 1e-13 of the means) ...; where
    # that rounding moves SQUAREM's stop by a cycle ..., both stop within about `tol` times the
    # rows of the maximum"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"n_init": 2, "random_state": 0}
        lockstep = GaussianMixture(3, **kw).fit(FAITHFUL)
        alone = GaussianMixture(3, **kw).fit(FAITHFUL, checkpoint=tmp_path / "faithful.json")
        scale = np.abs(lockstep.means_).max()
        np.testing.assert_allclose(alone.means_, lockstep.means_, rtol=0, atol=1e-13 * scale)

        rng = np.random.default_rng(0)
        centres = [[0, 0, 0], [2, 2, 2], [4, 0, 0]]
        X = np.vstack([rng.normal(c, 1, (300, 3)) for c in centres])  # three clusters, K = 4
        kw = {"covariance_type": "tied", "n_init": 3, "random_state": 0}
        lockstep = GaussianMixture(4, **kw).fit(X)
        alone = GaussianMixture(4, **kw).fit(X, checkpoint=tmp_path / "flat.json")
        top = GaussianMixture(4, tol=1e-14, max_iter=100_000, **kw).fit(X).log_likelihood_
    within = 10 * lockstep.tol * len(X)
    for fit in (lockstep, alone):
        assert 0 <= top - fit.log_likelihood_ < within, top - fit.log_likelihood_
