"""Reports of a fit that lost components during EM (``prune_weight``, ``weight_concentration``
below 1): they show the components the model holds, len(weights_), not its n_components."""

import re

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

from emkit import GaussianMixture, select_mixture
from emkit.report import model_name, summarize, write_report
from emkit.report.figures import full_covariances

PRUNED = [
    pytest.param(dict(n_components=8, weight_concentration=0.2), id="concentration"),
    pytest.param(dict(n_components=5, prune_weight=0.1), id="prune_weight"),
]


def two_blobs(d: int = 2) -> np.ndarray:
    """200 rows, (100, d) around 0 and (100, d) around 4."""
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(0, 1, (100, d)), rng.normal(4, 1, (100, d))]


def pruned_fit(params: dict, x: np.ndarray) -> GaussianMixture:
    model = GaussianMixture(random_state=0, **params).fit(x)
    assert 1 < len(model.weights_) < model.n_components  # the case under test
    return model


def block(text: str, heading: str) -> list[list[float]]:
    """The numbers of the table under ``heading`` (its header row and row labels left out)."""
    lines = text.splitlines()
    start = lines.index(heading) + 2
    rows = []
    for line in lines[start:]:
        if not line.strip() or line.endswith(":"):
            break
        # a label ([1,], a column's name, se) where there is one (the weights' have none)
        words = line.split()
        labelled = not words[0].replace(".", "", 1).replace("-", "", 1).isdigit()
        rows.append([float(v) for v in words[1 if labelled else 0 :]])
    return rows


def scipy_log_likelihood(model: GaussianMixture, x: np.ndarray) -> float:
    full = full_covariances(model)
    density = sum(
        w * multivariate_normal(m, c).pdf(x)
        for w, m, c in zip(model.weights_, model.means_, full, strict=True)
    )
    return float(np.log(density).sum())


@pytest.mark.parametrize("params", PRUNED)
def test_summary_of_a_pruned_fit_shows_the_fitted_components(params):
    x = two_blobs()
    model = pruned_fit(params, x)
    k = len(model.weights_)
    text = model.summary(x, parameters=True)
    assert f"model with {k} components:" in text
    assert f"({model.n_components} at the start; EM dropped {model.n_components - k})" in text
    lines = text.splitlines()
    numbers = lines[next(i for i, line in enumerate(lines) if "log-likelihood" in line) + 1]
    loglik, n, df = (float(v) for v in numbers.split()[:3])
    assert loglik == pytest.approx(scipy_log_likelihood(model, x), abs=1e-3)
    assert (n, df) == (200, (k - 1) + 2 * k + 3 * k)
    header = lines[lines.index("Clustering table:") + 1].split()
    counts = [int(v) for v in lines[lines.index("Clustering table:") + 2].split()]
    assert header == [str(j + 1) for j in range(k)]
    np.testing.assert_array_equal(counts, np.bincount(model.predict(x), minlength=k))
    weights = block(text, "Mixing probabilities:")[0]
    np.testing.assert_allclose(weights, model.weights_, atol=1e-6)
    np.testing.assert_allclose(block(text, "Means:"), model.means_.T, atol=1e-5)
    assert text.count("[,,") == k


@pytest.mark.parametrize("params", PRUNED)
def test_classification_plot_of_a_pruned_fit_draws_the_fitted_components(params):
    x = two_blobs()
    model = pruned_fit(params, x)
    k = len(model.weights_)
    ax = model.plot(x).axes[0]
    centres = [line.get_xydata()[0] for line in ax.get_lines() if line.get_marker() == "X"]
    np.testing.assert_allclose(centres, model.means_)
    labels = model.predict(x)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    for j in range(k):
        assert f"cluster {j} (n={int((labels == j).sum())})" in legend
    assert f"cluster {k} " not in " ".join(legend)
    assert f"{k}-component" in ax.get_title()


@pytest.mark.parametrize("params", PRUNED)
def test_one_column_plots_of_a_pruned_fit(params):
    x = two_blobs(1)
    model = pruned_fit(params, x)
    k = len(model.weights_)
    ax = model.plot(x).axes[0]
    curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(curves) == k  # one weighted density per component, the mixture dashed
    for j, line in enumerate(curves):
        grid, density = line.get_data()
        sd = np.sqrt(model.covariances_.reshape(k, -1)[j, 0])
        expected = model.weights_[j] * norm.pdf(grid, model.means_[j, 0], sd)
        np.testing.assert_allclose(density, expected, rtol=1e-10)
    density_plot = model.plot(x, "density").axes[0]
    assert density_plot.get_title().endswith(f"with {k} components")
    uncertainty = model.plot(x, "uncertainty").axes[1]
    assert uncertainty.get_ylim()[1] == pytest.approx(1.02 * (1 - 1 / k))


@pytest.mark.parametrize("d", [3, 8])
def test_pairs_and_projected_plots_of_a_pruned_fit(d):
    x = two_blobs(d)
    model = pruned_fit(dict(n_components=5, prune_weight=0.1), x)
    k = len(model.weights_)
    for what in ("classification", "uncertainty", "density"):
        fig = model.plot(x, what)
        assert fig.axes
    if d == 3:  # on the diagonal: each component's marginal density and the mixture's
        diagonal = model.plot(x).axes[0]
        assert len(diagonal.get_lines()) == k + 1


def test_report_of_a_selection_whose_best_fit_was_pruned(tmp_path):
    x = two_blobs()
    selection = select_mixture(x, [4, 5], ["full"], prune_weight=0.1, random_state=0)
    model = selection.best_
    k = len(model.weights_)
    assert k < model.n_components
    name = model_name(model)
    assert name.startswith(f"Gaussian mixture, {k} components (of {model.n_components}")
    text = summarize(selection, x, ["a", "b"])
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("cluster "))
    assert lines[at].split()[1:] == [str(j) for j in range(k)]
    sizes = [int(v) for v in lines[at + 1].split()[1:]]
    np.testing.assert_array_equal(sizes, np.bincount(model.predict(x), minlength=k))
    weights = [float(v) for v in lines[at + 2].split()[1:]]
    np.testing.assert_allclose(weights, model.weights_, atol=5e-4)
    page = write_report(selection, x, ["a", "b"], tmp_path)["report"].read_text()
    table = re.search(r"<th>component</th>.*?<tbody>(.*?)</tbody>", page, re.S)
    assert table is not None
    rows = [
        [re.sub(r"<.*?>", "", cell).split()[0] for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1))
    ]  # each row: component, weight (its standard error left out), size, means, sds
    assert [row[0] for row in rows] == [str(j) for j in range(k)]
    np.testing.assert_allclose([float(row[1]) for row in rows], model.weights_, rtol=5e-4)
    np.testing.assert_array_equal(
        [int(row[2]) for row in rows], np.bincount(model.predict(x), minlength=k)
    )
    assert selection.summary(x).count(f"model with {k} components") == 1
