"""The text summary, the PNG figures and the HTML report, for 1-D, 2-D and 5-D data."""

import base64
import html
import re
import warnings
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.contour import ContourSet
from sklearn.decomposition import PCA

from emkit import GaussianMixture, select_mixture
from emkit.cli.fit import figure_rows
from emkit.report import (
    BOOTSTRAP_MAX_VALUES,
    bootstrap_errors,
    geometry,
    model_name,
    summarize,
    write_report,
)
from emkit.report.figures import (
    clusters_figure,
    criterion_figure,
    full_covariances,
    history_figure,
    project,
    save_figures,
)
from emkit.report.html import components_html, selection_table_html
from emkit.report.rows import FIGURE_ROWS

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
    assert set(paths) == {"report"}
    page = paths["report"].read_text()
    images = page_references(page).images
    assert len(images) == 4
    for src in images:
        data = base64.b64decode(src.split(",", 1)[1])
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 10_000
    assert html.escape(model_name(selection.best_)) in page
    models = page[page.index("All fitted models") :]
    assert models.count("<tr") == len(selection.table_) + 1
    assert 'class="chosen"' in page
    # mclust's names and words: E and V on one column (the report said EII and VII), and the
    # one-column figure is a histogram (its caption told of ellipses)
    alias = "V" if d == 1 else "VII"
    assert f"spherical ({alias})" in page or f"full ({'V' if d == 1 else 'VVV'})" in page
    assert ("Histogram of the data" in page) == (d == 1)
    assert ("standard-deviation ellipses" in page) == (d > 1)
    if d == 1:
        assert "univariate, " in page and "(mclust EII)" not in page
    if d == 2:  # the same figures as PNG files, for whoever wants them apart
        for path in save_figures(selection, x, columns, tmp_path / "png").values():
            assert path.read_bytes().startswith(PNG_SIGNATURE)


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


# ---- one self-contained page, sorted models, components with errors, pairs and contours -------


class References(HTMLParser):
    """Every address an HTML page refers to (src, href, CSS url(...)) and its tags."""

    def __init__(self):
        super().__init__()
        self.addresses: list[str] = []
        self.tags: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "data", "srcset", "poster", "action") and value:
                self.addresses.append(value)
            if tag == "img" and name == "src":
                self.images.append(value)

    def handle_data(self, data):
        self.addresses.extend(re.findall(r"url\(([^)]*)\)", data))
        self.addresses.extend(re.findall(r"@import\s+([^;]+)", data))


def page_references(text: str) -> References:
    parser = References()
    parser.feed(text)
    return parser


def test_report_is_one_self_contained_file(tmp_path):
    x = blobs(2)
    selection = select_mixture(x, [1, 2], ["full", "tied"], random_state=0)
    paths = write_report(selection, x, ["a", "b"], tmp_path / "r")
    assert list(paths) == ["report"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report.html"]
    refs = page_references(paths["report"].read_text())
    assert len(refs.images) == 4
    assert refs.addresses == refs.images  # no link, script, stylesheet or anchor elsewhere
    for src in refs.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert not {"link", "script", "iframe", "object", "embed"} & set(refs.tags)


def test_models_table_sorted_by_the_criterion(tmp_path):
    x = blobs(2)
    selection = select_mixture(x, [1, 2, 3], ["spherical", "full"], "aic", random_state=0)
    table = selection_table_html(selection.table_, selection.best_, "aic")
    header = re.findall(r"<th>([^<]*)</th>", table)
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in re.findall(r"<tr.*?</tr>", table)[1:]]
    aic = [float(row[header.index("aic")]) for row in rows]
    degenerate = [row[header.index("degenerate")] == "yes" for row in rows]
    good = [a for a, bad in zip(aic, degenerate, strict=True) if not bad]
    assert good == sorted(good) and degenerate == sorted(degenerate)
    assert good[0] == pytest.approx(selection.table_["aic"].min(), abs=1e-3)
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    assert '<tr class="chosen"><td>1</td>' in table


def test_component_table_and_bootstrap_errors_against_closed_forms():
    """Two separated clusters: the bootstrap errors of a mean and a weight are about
    sd / sqrt(n_k) and sqrt(w (1 - w) / n), as with known memberships."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0.0, 1.0, 300), rng.normal(10.0, 2.0, 200)])[:, None]
    model = GaussianMixture(2, random_state=0).fit(x)
    errors = bootstrap_errors(model, x, n_boot=60, seed=1)
    n_k = np.bincount(model.predict(x))
    sd = np.sqrt(model.covariances_[:, 0, 0])
    np.testing.assert_allclose(errors["means"][:, 0], sd / np.sqrt(n_k), rtol=0.3)
    w = model.weights_
    np.testing.assert_allclose(errors["weights"], np.sqrt(w * (1 - w) / x.shape[0]), rtol=0.3)
    # the sd of a normal sample has standard error about sd / sqrt(2 n)
    np.testing.assert_allclose(errors["sds"][:, 0], sd / np.sqrt(2 * n_k), rtol=0.35)
    page = components_html(model, ["value"], x, errors, n_boot=60)
    cells = re.findall(r"<tr><td>(\d)</td><td>([^ <]+)", page)
    assert [(int(j), float(v)) for j, v in cells] == [
        (j, float(f"{model.weights_[j]:.4g}")) for j in range(2)
    ]
    assert f"{model.means_[1, 0]:.4g}" in page and "bootstrap standard errors" in page


@pytest.mark.parametrize("d, panels", [(2, 1), (3, 9), (6, 36), (7, 1)])
def test_pairs_plot_up_to_six_columns_then_pca(d, panels):
    x = blobs(d, n=120)
    model = GaussianMixture(2, random_state=0).fit(x)
    fig = clusters_figure(model, x, [f"c{j}" for j in range(d)])
    assert len(fig.axes) == panels
    if d == 7:
        assert fig.axes[0].get_xlabel().startswith("PC1")
    contoured = [ax for ax in fig.axes if any(isinstance(c, ContourSet) for c in ax.collections)]
    # density contours on the scatter (2-D, PCA) or above the diagonal (pairs)
    assert len(contoured) == (1 if panels == 1 else d * (d - 1) // 2)


def test_geometry_reads_like_mclust():
    assert geometry("full") == "ellipsoidal, varying volume, shape and orientation"
    assert geometry("tied") == "ellipsoidal, equal volume, shape and orientation"
    assert geometry("diag") == "diagonal, varying volume and shape"
    assert geometry("spherical") == "spherical, varying volume"
    assert geometry("VEV") == "ellipsoidal, equal shape, varying volume and orientation"
    assert geometry("EII") == "spherical, equal volume"
    assert geometry("EII", 1) == "univariate, equal variance"  # mclust's E
    assert geometry("full", 1) == "univariate, unequal variance"  # mclust's V


def test_history_titles_read_right(faithful):
    model = GaussianMixture(3, covariance_type="tied", random_state=0).fit(faithful)
    titles = [ax.get_title() for ax in history_figure(model).axes]
    assert "never decreases it" not in " ".join(titles)
    assert titles[1] == "Increase per iteration (varies, never negative)"


# Names matplotlib would read as mathtext: the first drew as "cost 5or6", the second failed.
DOLLAR_NAMES = ["cost $5 or $6", r"a$\frac$b", "c_$x$"]


@pytest.mark.parametrize("d", [1, 2, 3])
def test_figures_show_the_data_names_as_written(d):
    from emkit.report.figures import draw_figures, png_bytes

    columns = DOLLAR_NAMES[:d]
    x = blobs(d)
    selection = select_mixture(x, [1, 2], ["full"], random_state=0)
    for key, fig in draw_figures(selection, x, columns).items():
        assert png_bytes(fig).startswith(PNG_SIGNATURE), key  # drawn, no mathtext error
        labels = [t for ax in fig.axes for t in (ax.xaxis.label, ax.yaxis.label)]
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes)]
        texts = [
            *labels,
            *fig.texts,
            *(ax.title for ax in fig.axes),
            *(t for legend in legends if legend is not None for t in legend.get_texts()),
        ]
        for text in texts:
            assert not text.get_parse_math() and not text.get_usetex(), (key, text.get_text())
        if key == "clusters" or (key == "uncertainty" and d <= 2):  # beyond, PCA axes
            shown = {t.get_text() for t in labels}
            assert {n for n in columns if n in "\n".join(shown)} == set(columns), (key, shown)


def test_figure_names_stay_literal_under_usetex():
    import matplotlib

    x = blobs(2)
    model = GaussianMixture(2, random_state=0).fit(x)
    with matplotlib.rc_context({"text.usetex": True}):
        fig = clusters_figure(model, x, DOLLAR_NAMES[:2])
    assert fig.axes[0].get_xlabel() == DOLLAR_NAMES[0]
    assert not fig.axes[0].xaxis.label.get_usetex()
    assert not fig.axes[0].yaxis.label.get_parse_math()


def test_log_axis_ticks_still_use_mathtext(faithful):
    # the increases are on a log axis, whose tick labels are written in mathtext
    fig = history_figure(GaussianMixture(2, random_state=0).fit(faithful))
    fig.canvas.draw()
    ticks = [t for t in fig.axes[1].get_yticklabels() if t.get_text()]
    assert ticks and all(t.get_parse_math() for t in ticks)
    assert any("$" in t.get_text() for t in ticks)


@pytest.mark.parametrize("d", [1, 2])
def test_legend_of_many_components_is_beside_the_data(d):
    # 15 clusters on a 5 x 3 grid: a legend placed inside ("best") covered one of them
    rng = np.random.default_rng(0)
    centres = np.array([(5.0 * i, 5.0 * j) for i in range(5) for j in range(3)])[:, :d]
    if d == 1:
        centres = np.arange(15.0)[:, None] * 5.0
    x = np.repeat(centres, 30, axis=0) + 0.4 * rng.normal(size=(450, d))
    model = GaussianMixture(15, random_state=0).fit(x)
    assert len(model.weights_) == 15
    fig = clusters_figure(model, x, ["a", "b"][:d])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert len(legend.get_texts()) >= 15
    box, area = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.x0 >= area.x1  # entirely to the right of the axes' data area
    assert box.y1 <= fig.bbox.y1 and box.x1 <= fig.bbox.x1  # and within the figure


# ---- mclust's names of one-component models, labelled parameters, shared matrices, plurals ----

# Recorded from R (mclust 6.1): Mclust(faithful, G=1, modelNames=m)$modelName and
# mclustModelNames(...)$type; on one column (waiting) both E and V give X.
ONE_COMPONENT_NAMES = {
    **{m: "XII" for m in ("EII", "VII", "spherical")},
    **{m: "XXI" for m in ("EEI", "VEI", "EVI", "VVI", "diag")},
    **{m: "XXX" for m in ("EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV", "full", "tied")},
}
ONE_COMPONENT_TYPES = {
    "X": "univariate normal",
    "XII": "spherical multivariate normal",
    "XXI": "diagonal multivariate normal",
    "XXX": "ellipsoidal multivariate normal",
}


@pytest.mark.parametrize("cov", sorted(ONE_COMPONENT_NAMES) + ["E", "V"])
def test_one_component_models_are_named_as_mclust_names_them(cov, faithful):
    x = faithful[:, 1:] if cov in ("E", "V") else faithful
    model = GaussianMixture(1, covariance_type=cov).fit(x)
    name = "X" if x.shape[1] == 1 else ONE_COMPONENT_NAMES[cov]
    kind = ONE_COMPONENT_TYPES[name]
    assert f"Mclust {name} ({kind}) model with 1 component:" in model.summary(x)
    assert model_name(model).endswith(f"(mclust {name})")
    assert geometry(cov, x.shape[1], 1) == kind
    assert f"({name}) mixture" in history_figure(model)._suptitle.get_text()
    # two components keep the structure's own name
    two = GaussianMixture(2, covariance_type=cov, random_state=0).fit(x)
    assert f"(mclust {name})" not in model_name(two)


def test_cli_summary_of_one_component_reads_like_mclust(faithful):
    selection = select_mixture(faithful, [1], ["full"])
    lines = summarize(selection, faithful, ["eruptions", "waiting"]).splitlines()
    assert lines[0] == "Gaussian mixture, 1 component, covariance 'full' (mclust XXX)"
    assert lines[1] == "  ellipsoidal multivariate normal"
    assert "Top 1 model by BIC:" in lines


def _block(text: str, heading: str) -> list[str]:
    lines = [*text.splitlines(), ""]
    start = lines.index(heading) + 1
    return lines[start : lines.index("", start)]


def test_summary_parameters_are_labelled_by_the_columns_as_mclust(faithful):
    """mclust labels the rows of the means and variances by the data's names (R's [1,], [2,]
    without names) and leaves the mixing probabilities' row unlabelled."""
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    model = GaussianMixture(2, covariance_type="VVV", random_state=0).fit(frame)
    text = model.summary(frame, parameters=True)
    mixing = _block(text, "Mixing probabilities:")
    assert mixing[1].startswith(" ") and mixing[2].startswith("se ")
    means = _block(text, "Means:")
    # summary(Mclust(faithful, G=2, modelNames="VVV"), parameters=TRUE), recorded from R
    mclust_means = {"eruptions": [4.289781, 2.036523], "waiting": [79.969549, 54.479886]}
    order = np.argsort(-model.means_[:, 0])  # mclust's first component erupts longer
    for name, values in mclust_means.items():
        row = next(line for line in means if line.startswith(name + " ")).split()[1:]
        np.testing.assert_allclose(np.array(row, dtype=float)[order], values, rtol=1e-4)
    errors = means[means.index("Standard errors of the means:") + 1 :]
    assert [line.split()[0] for line in errors[1:]] == ["eruptions", "waiting"]
    variances = _block(text, "Variances:")
    assert variances[1].split() == ["eruptions", "waiting"]
    assert [variances[i].split()[0] for i in (2, 3, 6, 7)] == ["eruptions", "waiting"] * 2
    plain = GaussianMixture(2, covariance_type="VVV", random_state=0).fit(faithful)
    text = plain.summary(faithful, parameters=True)
    assert [line.split()[0] for line in _block(text, "Means:")[1:3]] == ["[1,]", "[2,]"]
    assert _block(text, "Variances:")[1].split() == ["[,1]", "[,2]"]


@pytest.mark.parametrize(
    ("cov", "shared"),
    [("full", False), ("VII", False), ("VEI", False), ("tied", True), ("EEI", True), ("EII", True)],
)
def test_components_share_one_matrix_only_where_the_structure_says(cov, shared, faithful):
    """Covariances of order 1e-9 differ (3.6e-9 against 3.4e-9 for full); an absolute tolerance
    of 1e-8 called them one shared matrix."""
    x = faithful * 1e-5
    model = GaussianMixture(2, covariance_type=cov, reg_covar=0, random_state=0).fit(x)
    page = components_html(model, ["eruptions", "waiting"], x)
    full = full_covariances(model)
    differ = not np.allclose(full[0], full[1], rtol=1e-6, atol=0)
    assert differ != shared
    assert ("Covariance matrix (shared by every component)" in page) == shared
    assert ("Component 1</p>" in page) != shared


def test_titles_count_one_iteration_and_one_model(faithful):
    model = GaussianMixture(1, max_iter=1).fit(faithful)
    assert model.n_iter_ == 1
    assert ": 1 iteration, " in history_figure(model)._suptitle.get_text()


def _errors_line(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Standard errors")]


def test_summary_says_why_it_gives_no_standard_errors(faithful):
    """A missing="em" or assignment="hard" fit (which standard_errors refuses), other rows and
    a singular information left the errors out without a word; a line now says why."""
    rows = np.asarray(faithful)
    for settings, why in [
        ({"missing": "em"}, 'for a missing="em" fit'),
        ({"assignment": "hard"}, 'for an assignment="hard" fit'),
    ]:
        model = GaussianMixture(2, random_state=0, **settings).fit(rows)
        with pytest.raises(ValueError, match="soft-assignment fit of complete data"):
            model.standard_errors(rows)
        assert _errors_line(model.summary(rows, parameters=True)) == [
            f"Standard errors: not available {why}; see emkit.bootstrap."
        ]
        assert "Standard errors" not in model.summary(rows)  # only with the parameters
    soft = GaussianMixture(2, random_state=0).fit(rows)
    text = soft.summary(rows, parameters=True)
    assert _errors_line(text) == ["Standard errors of the means:"]
    # the printed errors are Louis': the weights' se at least the binomial's sqrt(p (1 - p) / n)
    # of known labels, and within a factor 1.5 of it (the clusters overlap little)
    se = soft.standard_errors(rows)
    assert float(_block(text, "Mixing probabilities:")[2].split()[1]) == pytest.approx(
        se["weights"][0], rel=1e-5
    )
    p = soft.weights_[0]
    assert 1 <= se["weights"][0] / np.sqrt(p * (1 - p) / len(rows)) < 1.5
    weighted = soft.summary(rows, parameters=True, sample_weight=np.full(len(rows), 2.0))
    assert _errors_line(weighted) == [
        "Standard errors: not available, the rows or sample_weight given are not the fit's; "
        "pass those, or see emkit.bootstrap."
    ]
    # one component on a single repeated point: the information is singular there
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(60, 2)), np.repeat([[4.0, 4.0]], 3, axis=0)])
    collapsed = GaussianMixture(2, covariance_type="spherical", random_state=0, reg_covar=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collapsed.fit(x)
    assert _errors_line(collapsed.summary(x, parameters=True)) == [
        "Standard errors: not available, the observed information is singular; see emkit.bootstrap."
    ]


def test_history_figure_shows_a_fall_it_cannot_put_on_a_log_scale(faithful):
    """A last step that fell by 4.5e-13 (rounding) was left off the log-scale plot of the
    increases, titled "never negative"; it is marked at the axis floor, and the titles say
    there was a fall and how large."""
    model = GaussianMixture(2, random_state=0).fit(faithful)
    history = np.asarray(model.history_, dtype=float)
    history[-1] = history[-2] - 4.5e-13
    model.history_ = history.tolist()
    fig = history_figure(model)
    left, right = fig.axes
    assert left.get_title().endswith("it rises but for 1 fall of at most 4.5e-13")
    assert "never negative" not in right.get_title()
    gains = np.diff(history)
    increases, marked = right.lines
    np.testing.assert_array_equal(increases.get_ydata(), gains[gains > 0])
    np.testing.assert_array_equal(marked.get_xdata(), [history.size - 1])
    floor = marked.get_ydata()[0]
    assert floor == pytest.approx(gains[gains > 0].min() / 10, rel=1e-12)
    assert right.get_ylim()[0] < floor  # inside the axes, below every increase
    assert "a fall of up to 4.5e-13" in marked.get_label()
    # a fit whose every step rose keeps its titles and has no marks (its last step may gain
    # exactly 0 on some machines' rounding: every step here rises)
    rising = GaussianMixture(2, random_state=0).fit(faithful)
    steps = np.maximum(np.diff(rising.history_), 1e-12)
    rising.history_ = (rising.history_[0] + np.r_[0.0, np.cumsum(steps)]).tolist()
    plain = history_figure(rising)
    assert plain.axes[1].get_title() == "Increase per iteration (varies, never negative)"
    assert len(plain.axes[1].lines) == 1


def test_report_from_the_command_lines_sample_is_the_report_of_all_rows(tmp_path):
    """Where no bootstrap runs (n x d beyond BOOTSTRAP_MAX_VALUES), ``emkit fit`` keeps only
    figure_rows' sample of the rows for the report, so that the data can go before the figures
    are drawn: the page is byte for byte the one all the rows give, missing values and all."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0.0, 1.0, (40_000, 8)), rng.normal(4.0, 1.0, (30_000, 8))])
    selection = select_mixture(x, [1, 2], ["spherical"], random_state=0)
    x[::9, 3] = np.nan  # rows the figures cannot place, counted in their captions
    names = [f"c{j}" for j in range(8)]
    sizes = np.bincount(selection.best_.predict(np.nan_to_num(x)), minlength=2)
    assert x.size > BOOTSTRAP_MAX_VALUES
    whole = write_report(selection, x, names, tmp_path / "all", summary="s", sizes=sizes)
    drawn = figure_rows(x)
    assert (drawn.rows, drawn.missing, drawn.x.shape) == (70_000, 7778, (FIGURE_ROWS, 8))
    sampled = write_report(
        selection, drawn.x, names, tmp_path / "sample", summary="s", sizes=sizes,
        rows=drawn.rows, missing=drawn.missing,
    )  # fmt: skip
    page = sampled["report"].read_text()
    assert page == whole["report"].read_text()
    assert "The 7778 rows with a missing value cannot be placed" in page
    assert f"random sample of {FIGURE_ROWS:,} of the 62,222 rows with no missing value" in page
    small = x[:1000]
    assert figure_rows(small).x is small and figure_rows(small).rows is None
