"""The text summary, the PNG figures and the HTML report, for 1-D, 2-D and 5-D data."""

import html

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from emkit import GaussianMixture, select_mixture
from emkit.report import model_name, summarize, write_report
from emkit.report.figures import criterion_figure, history_figure, project

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def blobs(d: int, n: int = 150, seed: int = 0) -> np.ndarray:
    """Two well separated Gaussian clusters in d dimensions, shape (n, d)."""
    rng = np.random.default_rng(seed)
    centres = np.stack([np.zeros(d), np.full(d, 6.0)])
    labels = rng.integers(0, 2, size=n)
    return centres[labels] + rng.normal(size=(n, d)) @ np.triu(np.full((d, d), 0.4) + np.eye(d))


@pytest.mark.parametrize("d", [1, 2, 5])
def test_report_files_for_each_dimension(tmp_path, d):
    x = blobs(d)
    columns = [f"col_{j}" for j in range(d)]
    selection = select_mixture(x, [1, 2, 3], ["full", "spherical"], random_state=0)
    paths = write_report(selection, x, columns, tmp_path / "report", source="blobs")
    assert set(paths) == {"criterion", "history", "clusters", "uncertainty", "report"}
    page = paths["report"].read_text()
    for key in ("criterion", "history", "clusters", "uncertainty"):
        data = paths[key].read_bytes()
        assert data.startswith(PNG_SIGNATURE), key
        assert len(data) > 10_000, key
        assert paths[key].parent == paths["report"].parent
        assert f'src="{paths[key].name}"' in page
    assert html.escape(model_name(selection.best_)) in page
    assert page.count("<tr") == len(selection.table_) + 1
    assert 'class="chosen"' in page


def test_summary_states_the_fit(faithful):
    selection = select_mixture(faithful, [2, 3], ["tied", "diag"], random_state=0)
    text = summarize(selection, faithful, ["eruptions", "waiting"])
    model = selection.best_
    lines = text.splitlines()
    assert lines[0] == model_name(model)
    assert "272 rows x 2 columns (eruptions, waiting)" in text
    row = lines[lines.index(next(line for line in lines if line.split()[:2] == ["n", "df"])) + 1]
    n, df, loglik, bic, mclust_bic, icl, aic = map(float, row.split())
    assert (n, df) == (272, model.n_parameters())
    assert loglik == pytest.approx(model.log_likelihood_, abs=1e-3)
    # BIC = -2 log L + p log n, by hand
    assert bic == pytest.approx(-2 * model.log_likelihood_ + df * np.log(n), abs=1e-3)
    assert mclust_bic == -bic
    assert aic == pytest.approx(-2 * model.log_likelihood_ + 2 * df, abs=1e-3)
    assert icl >= bic
    sizes = list(map(int, next(x for x in lines if x.startswith("size")).split()[1:]))
    assert sum(sizes) == 272
    weights = list(map(float, next(x for x in lines if x.startswith("weight")).split()[1:]))
    np.testing.assert_allclose(weights, model.weights_, atol=5e-4)
    top = lines[lines.index("Top 3 models by BIC:") + 2 :]
    values = [float(line.split()[-2]) for line in top]
    assert values == sorted(values) and len(values) == 3
    assert values[0] == pytest.approx(selection.table_["bic"].min(), abs=1e-3)


def test_pca_projection_of_components():
    """Projected mean and covariance agree with PCA applied to the data and to samples."""
    rng = np.random.default_rng(1)
    x = blobs(5, n=400, seed=2)
    model = GaussianMixture(2, covariance_type="full", random_state=0).fit(x)
    view = project(model, x, [f"c{j}" for j in range(5)])
    pca = PCA(n_components=2).fit(x)
    np.testing.assert_allclose(view.points, pca.transform(x), atol=1e-10)
    np.testing.assert_allclose(view.means, pca.transform(model.means_), atol=1e-10)
    samples = rng.multivariate_normal(model.means_[0], model.covariances_[0], size=200_000)
    empirical = np.cov(pca.transform(samples), rowvar=False)
    np.testing.assert_allclose(view.covariances[0], empirical, rtol=0.02, atol=0.02)
    assert view.axis_labels[0].startswith("PC1")


@pytest.mark.parametrize("cov", ["tied", "diag", "spherical"])
def test_projection_expands_each_covariance_layout(cov, faithful):
    model = GaussianMixture(2, covariance_type=cov, random_state=0).fit(faithful)
    view = project(model, faithful, ["a", "b"])
    assert view.covariances.shape == (2, 2, 2)
    assert view.axis_labels == ("a", "b")
    if cov == "tied":
        np.testing.assert_array_equal(view.covariances[0], model.covariances_)
    elif cov == "diag":
        np.testing.assert_array_equal(
            np.diagonal(view.covariances, axis1=1, axis2=2), model.covariances_
        )
    else:
        np.testing.assert_array_equal(view.covariances[:, 0, 0], model.covariances_)


def test_degenerate_fits_are_gaps():
    table = pd.DataFrame(
        {
            "n_components": [1, 2, 3, 1, 2, 3],
            "covariance_type": ["full"] * 3 + ["tied"] * 3,
            "bic": [10.0, 8.0, 9.0, 11.0, 7.5, 12.0],
            "degenerate": [False, False, True, False, False, False],
        }
    )
    fig = criterion_figure(table, "bic")
    full_line = fig.axes[0].lines[0]
    assert "1 degenerate left out" in full_line.get_label()
    y = np.asarray(full_line.get_ydata(), dtype=float)
    assert np.isnan(y[2]) and not np.isnan(y[:2]).any()


def test_history_figure_of_a_single_iteration(faithful):
    model = GaussianMixture(1, max_iter=0).fit(faithful)
    fig = history_figure(model)
    assert len(fig.axes) == 2
    assert "0 iterations" in fig._suptitle.get_text()
