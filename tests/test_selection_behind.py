"""select_mixture's large grids give up screened fits that have fallen far behind."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emkit import GaussianMixture, select_mixture
from emkit.estimators import selection


def _mixture_rows(rng, n):
    """The big-CSV benchmark's mixture: three clusters of scales 1, 0.7 and 1.5."""
    means = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 5.0, 2.0]])
    labels = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    return means[labels] + np.array([1.0, 0.7, 1.5])[labels, None] * rng.standard_normal((n, 3))


def test_standings_rank_cells_by_bic():
    """Each cell's criterion is the fit's own BIC (GaussianMixture.bic, -2 log L + p log n);
    a fit is behind where at least CELLS_AHEAD other cells already have a lower one than its
    ceiling's, never counting its own cell's other starts; a cell given up keeps the best
    criterion it might have reached."""
    x = _mixture_rows(np.random.default_rng(1), 900)
    fits = [GaussianMixture(k, covariance_type="full", random_state=0).fit(x) for k in range(1, 9)]
    standings = selection.CriterionStandings(len(x), "bic")
    for gm in fits:
        standings.record(gm._mixture(), gm.log_likelihood_)
    bics = sorted(gm.bic(x) for gm in fits)
    np.testing.assert_allclose(sorted(standings.best.values()), bics, rtol=1e-12)
    # the same BIC from scipy's densities and the count of free parameters of K full
    # Gaussians in d dimensions: K - 1 weights, K d means, K d (d + 1) / 2 covariances
    d = x.shape[1]
    for gm in fits:
        k = gm.n_components
        log_joint = [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_, strict=True)
        ]
        log_likelihood = logsumexp(np.column_stack(log_joint), axis=1).sum()
        p = (k - 1) + k * d + k * d * (d + 1) // 2
        expected = -2 * log_likelihood + p * np.log(len(x))
        assert standings.best["full", k] == pytest.approx(expected, rel=1e-9)
    assert set(standings.best) == {("full", k) for k in range(1, 9)}
    other = GaussianMixture(3, covariance_type="spherical", random_state=0).fit(x)
    model = other._mixture()
    penalty = other.bic(x) + 2 * other.log_likelihood_  # p log n

    def ceiling_at(bic):  # the log-likelihood at which the spherical fit's BIC is ``bic``
        return (penalty - bic) / 2

    sixth, seventh = bics[selection.CELLS_AHEAD - 1], bics[selection.CELLS_AHEAD]
    assert not standings.behind(model, ceiling_at(sixth - 1e-6 * abs(sixth)))
    assert not standings.behind(model, np.inf)  # EM not yet converging linearly
    assert standings.ceilings == {}
    between = 0.5 * (sixth + seventh)
    assert standings.behind(model, ceiling_at(between))
    assert standings.ceilings == {("spherical", 3): pytest.approx(between, rel=1e-12)}
    # a second start of the best cell: its cell's own best (the lowest of all) is not ahead
    best = min(fits, key=lambda gm: gm.bic(x))
    start, penalty = best._mixture(), best.bic(x) + 2 * best.log_likelihood_
    others = sorted(value for cell, value in standings.best.items() if cell[1] != 3)
    five = 0.5 * (others[selection.CELLS_AHEAD - 2] + others[selection.CELLS_AHEAD - 1])
    assert not standings.behind(start, (penalty - five) / 2)


GRID = dict(n_components=range(1, 9), covariance_types=["EII", "VII", "EVV", "VVV"])


@pytest.fixture(scope="module")
def grids():
    """The rows, the grid screened whole and the grid with fits given up."""
    x = _mixture_rows(np.random.default_rng(0), 12_000)
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the grid's own (lower maxima, slow refined fits)
        patch.setattr(selection, "GIVE_UP_ROWS", len(x) + 1)
        whole = select_mixture(x, **GRID, give_up=True)
        patch.setattr(selection, "GIVE_UP_ROWS", len(x))
        quick = select_mixture(x, **GRID, give_up=True)
    return x, whole, quick


def test_given_up_fits_leave_the_choice(grids):
    """On the benchmark's mixture, the grid with fits given up chooses and refines what the
    whole screening refines, to tol; every fit it gave up is one the whole screening ranks
    behind the CELLS_AHEAD best, and the grid takes fewer EM steps."""
    x, whole, quick = grids
    a, b = whole.table_, quick.table_
    assert (quick.best_.n_components, quick.best_.covariance_type) == (
        whole.best_.n_components,
        whole.best_.covariance_type,
    )
    tol_total = whole.best_.tol * len(x)
    refined = a.nsmallest(selection.REFINE, "bic").index
    assert list(b.nsmallest(selection.REFINE, "bic").index) == list(refined)
    np.testing.assert_allclose(b.log_likelihood[refined], a.log_likelihood[refined], atol=tol_total)
    assert not a.given_up.any()
    given_up = list(zip(b.n_components[b.given_up], b.covariance_type[b.given_up], strict=True))
    assert len(given_up) >= 5
    assert not b.converged[b.given_up].any()
    steps = {key: model.n_iter_ for key, model in whole.models_.items()}
    assert all(quick.models_[key].n_iter_ < steps[key] for key in given_up)
    cut = a.bic.nsmallest(selection.CELLS_AHEAD).max()
    for k, cov in given_up:
        row = (a.n_components == k) & (a.covariance_type == cov)
        assert a.bic[row].item() > cut, (k, cov)
        # stopped on the way up: its row is below the whole screening's
        assert b.log_likelihood[row].item() <= a.log_likelihood[row].item() + tol_total
    assert sum(m.n_iter_ for m in quick.models_.values()) < sum(steps.values())


def test_given_up_fits_continue_where_those_ahead_end_degenerate(grids, monkeypatch):
    """The projection is not a bound: where the fits that were ahead of a given-up fit end
    degenerate (never chosen), leaving fewer than REFINE regular rows ahead of what it might
    have reached, the given-up fit continues as the others did and ends at least where the
    whole screening ends it; one still given up has REFINE regular rows ahead of it."""
    x, whole, quick = grids
    given_up = quick.table_[quick.table_.given_up]
    kept = set(zip(given_up.n_components, given_up.covariance_type, strict=True))
    real = selection._criteria

    def degenerate_but_given_up(model, *args, **kwargs):  # every fit ahead "degenerate"
        row = real(model, *args, **kwargs)
        cov = selection.covariance_structure(model.covariance_type).name
        if (model.n_components, cov) not in kept:
            row["degenerate"] = True
        return row

    monkeypatch.setattr(selection, "_criteria", degenerate_but_given_up)
    monkeypatch.setattr(selection, "GIVE_UP_ROWS", len(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = select_mixture(x, **GRID, give_up=True)
    t, w = again.table_, whole.table_
    regular = t.bic[~t.degenerate]
    continued = 0
    for k, cov in kept:
        row = (t.n_components == k) & (t.covariance_type == cov)
        if t.given_up[row].item():
            assert (regular < t.bic[row].item()).sum() >= selection.REFINE
            continue
        continued += 1
        assert again.models_[k, cov].n_iter_ > quick.models_[k, cov].n_iter_
        # continued to the screening's stop (the refined on to tol): at least where the whole
        # screening's stop left it, less what that stop may leave
        ref = (w.n_components == k) & (w.covariance_type == cov)
        left = 10 * selection.SCREEN_TOL * len(x)
        assert t.log_likelihood[row].item() >= w.log_likelihood[ref].item() - left, (k, cov)
    assert continued >= selection.REFINE


def test_no_giving_up_by_default_icl_priors_or_plain_em(monkeypatch):
    """Fits are given up only when asked (give_up=True), and then the standings read BIC or
    AIC of the log-likelihood: ICL, priors and hard assignment screen every fit to its stop."""
    captured = []
    real = selection.CriterionStandings

    def recording(*args):
        captured.append(args)
        return real(*args)

    monkeypatch.setattr(selection, "CriterionStandings", recording)
    monkeypatch.setattr(selection, "GIVE_UP_ROWS", 0)
    x = _mixture_rows(np.random.default_rng(2), 400)
    grid = dict(n_components=[1, 2, 3], covariance_types=["VII", "VVV"])
    select_mixture(x, **grid)
    select_mixture(x, **grid, criterion="icl", give_up=True)
    select_mixture(x, **grid, estimator=GaussianMixture(covariance_prior="mclust"), give_up=True)
    select_mixture(x, **grid, estimator=GaussianMixture(assignment="hard"), give_up=True)
    assert captured == []
    select_mixture(x, **grid, criterion="aic", give_up=True)
    assert captured == [(len(x), "aic")]


def test_lower_maxima_warning_leaves_given_up_fits_out():
    """A fit given up stopped below its maximum by design: the warning names only the others,
    and what a given-up fit reached still counts against a larger K."""
    import pandas as pd

    from emkit.exceptions import LocalMaximumWarning

    table = pd.DataFrame(
        {
            "n_components": [1, 2, 3, 4],
            "covariance_type": ["EII"] * 4,
            "log_likelihood": [-100.0, -90.0, -120.0, -95.0],
            "given_up": [False, True, True, False],
        }
    )
    with pytest.warns(LocalMaximumWarning, match=r"\(EII K=4\): those fits"):
        selection._warn_on_lower_maxima(table, 5e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selection._warn_on_lower_maxima(table.assign(given_up=[False, False, True, True]), None)


def test_figures_and_report_table_leave_given_up_fits_out(grids):
    """The criterion figure draws no point for a fit given up (a gap, as for a degenerate
    one) and says how many per structure; the report's table lists them after the regular
    fits, greyed."""
    import matplotlib

    matplotlib.use("Agg")
    from emkit.report.figures import criterion_figure
    from emkit.report.html import selection_table_html

    _, _, quick = grids
    table = quick.table_
    figure = criterion_figure(table, "bic", quick.best_)
    lines = {line.get_label().split(" (")[0]: line for line in figure.axes[0].get_lines()}
    for cov, rows in table.groupby("covariance_type", sort=False):
        rows = rows.sort_values("n_components")
        drawn = np.asarray(lines[cov].get_ydata(), dtype=float)
        np.testing.assert_array_equal(np.isnan(drawn), (rows.given_up | rows.degenerate).to_numpy())
        n = int(rows.given_up.sum())
        assert (f"{n} given up left out" in lines[cov].get_label()) == (n > 0)
    html = selection_table_html(table, quick.best_)
    assert html.count('class="given-up"') == int(table.given_up.sum())
    body = html.split("<tbody>")[1].split("</tr>")[:-1]
    kinds = ["given-up" in r or "degenerate" in r for r in body]
    assert kinds == sorted(kinds)  # every regular fit before the first left out
