"""GenerativeClassifier's labels: unlabelled rows (-1), missing labels and the string "-1",
in memory and on Dask, against the in-memory fit of the same rows and scikit-learn's QDA.
Every recipe a label error prints is run here as printed."""

import collections
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

from emkit import GenerativeClassifier

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
NAMES = np.array(["setosa", "versicolor", "virginica"], dtype=object)


def _recipe(message: str) -> str:
    """The code a label error tells to run (``y = ...``), as printed."""
    found = re.search(r"(y = .*?)(?: \(for labels|; Dask stores|\), as SelfTraining)", message)
    assert found, message
    return found.group(1)


def _run(recipe: str, y):
    """``y`` after ``recipe``."""
    import dask.array as da

    names = {"y": y, "np": np, "pd": pd, "da": da}
    exec(recipe, names)
    return names["y"]


def _refused(X, y, pattern: str) -> str:
    """The message of fit's ValueError, which must match ``pattern``."""
    with pytest.raises(ValueError, match=pattern) as error:
        GenerativeClassifier().fit(X, y)
    return str(error.value)


def _same_fit(fit, reference, rtol=1e-9):
    np.testing.assert_array_equal(fit.classes_, reference.classes_)
    assert fit.classes_.dtype == reference.classes_.dtype
    np.testing.assert_allclose(fit.means_, reference.means_, rtol=rtol)
    np.testing.assert_allclose(fit.covariances_, reference.covariances_, rtol=rtol)
    np.testing.assert_allclose(fit.priors_, reference.priors_, rtol=rtol)
    np.testing.assert_allclose(fit.log_likelihood_, reference.log_likelihood_, rtol=rtol)


def _semi(seed=0):
    """Iris with 50 labels hidden at random: the codes (-1 for those rows)."""
    codes = Y_IRIS.copy()
    codes[np.random.default_rng(seed).permutation(150)[:50]] = -1
    return codes


def _with_missing(kind: str, hidden: np.ndarray):
    """Iris labels of one kind with the ``hidden`` rows missing, and the integer codes of
    what the recipe gives (-1 for those rows; bool classes coded 0, 1)."""
    codes = np.where(hidden, -1, Y_IRIS)
    if kind in ("boolean", "bool object array"):
        truth = Y_IRIS == 1
        codes = np.where(hidden, -1, truth.astype(int))
        if kind == "boolean":
            y = pd.Series(truth, dtype="boolean")
            y[hidden] = pd.NA
        else:
            y = np.where(hidden, None, truth.astype(object))
        return y, codes
    if kind in ("float array", "Float64", "Int64"):
        y = pd.Series(Y_IRIS, dtype="Int64" if kind == "Int64" else "Float64")
        y[hidden] = pd.NA
        return (y.to_numpy(float, na_value=np.nan) if kind == "float array" else y), codes
    text = np.where(hidden, None, NAMES[Y_IRIS])
    y = {
        "object array": text,
        "list": text.tolist(),
        "string": pd.Series(text, dtype="string"),
        "category": pd.Series(pd.Categorical(text)),
        "object": pd.Series(text, dtype=object),
    }[kind]
    return y, codes


MISSING_KINDS = [
    "float array",
    "Float64",
    "Int64",
    "object array",
    "list",
    "string",
    "category",
    "object",
    "boolean",
    "bool object array",
]
EXPECTED_CLASSES = {
    "float array": [0.0, 1.0, 2.0],
    "Float64": [0.0, 1.0, 2.0],
    "Int64": [0, 1, 2],
    "boolean": [False, True],
    "bool object array": [False, True],
}


@pytest.mark.parametrize("kind", MISSING_KINDS)
def test_the_recipe_for_missing_labels_works_for_every_dtype(kind):
    # The message's advice failed for booleans (pandas refuses y.fillna(-1) for dtype
    # 'boolean'; y.astype(object).where(y.notna(), -1), of bools or Int64 numbers, was
    # scikit-learn's "Unknown label type: unknown"), so boolean classes could not be
    # semi-supervised at all. Run as printed, it now gives the fit on the integer codes.
    hidden = _semi() == -1
    y, codes = _with_missing(kind, hidden)
    message = _refused(X_IRIS, y, rf"y has {hidden.sum()} missing labels")
    marked = _run(_recipe(message), y)
    fit = GenerativeClassifier().fit(X_IRIS, marked)
    by_codes = GenerativeClassifier().fit(X_IRIS, codes)
    expected = EXPECTED_CLASSES.get(kind, NAMES.tolist())
    assert fit.classes_.tolist() == expected
    assert (
        fit.classes_.dtype.kind
        == np.asarray(expected, dtype=None if kind in EXPECTED_CLASSES else object).dtype.kind
    )
    np.testing.assert_allclose(fit.means_, by_codes.means_, rtol=1e-12)
    np.testing.assert_allclose(fit.covariances_, by_codes.covariances_, rtol=1e-12)
    np.testing.assert_allclose(fit.log_likelihood_, by_codes.log_likelihood_, rtol=1e-12)
    assert fit.n_iter_ > 1  # EM ran: the -1 rows were unlabelled, not a class
    np.testing.assert_array_equal(
        fit.predict(X_IRIS), np.asarray(expected, dtype=object)[by_codes.predict(X_IRIS)]
    )


def test_boolean_classes_fit_as_qda_and_semi_supervised():
    # An object array of bools (with -1 for unlabelled rows) was "Unknown label type";
    # fully labelled it is QDA with classes [False, True], as a bool array.
    truth = Y_IRIS == 1
    qda = QuadraticDiscriminantAnalysis().fit(X_IRIS, truth)
    for y in (truth, truth.astype(object)):
        clf = GenerativeClassifier(reg_covar=0.0).fit(X_IRIS, y)
        assert clf.classes_.tolist() == [False, True] and clf.classes_.dtype == bool
        np.testing.assert_allclose(clf.predict_proba(X_IRIS), qda.predict_proba(X_IRIS), rtol=1e-8)
        np.testing.assert_array_equal(clf.predict(X_IRIS), qda.predict(X_IRIS))
    codes = np.where(_semi() == -1, -1, truth.astype(int))
    semi = np.where(codes == -1, -1, truth.astype(object)).astype(object)
    fit = GenerativeClassifier().fit(X_IRIS, semi)
    by_codes = GenerativeClassifier().fit(X_IRIS, codes)
    assert fit.classes_.tolist() == [False, True]
    np.testing.assert_allclose(fit.means_, by_codes.means_, rtol=1e-12)
    np.testing.assert_allclose(fit.log_prob(X_IRIS, semi), by_codes.log_prob(X_IRIS, codes))
    # labels of two kinds are still refused, not merged (True is 1 to Python)
    mixed = semi.copy()
    mixed[codes == 1] = 2
    with pytest.raises(ValueError, match="Unknown label type"):
        GenerativeClassifier().fit(X_IRIS, mixed)


@pytest.mark.parametrize("kind", ["str array", "object array", "list", "str Series", "object"])
def test_the_recipe_for_the_string_minus_one_works(kind):
    codes = _semi()
    text = np.where(codes == -1, "-1", NAMES[Y_IRIS].astype(str))
    y = {
        "str array": text,
        "object array": text.astype(object),
        "list": text.tolist(),
        "str Series": pd.Series(text),  # pandas' default string dtype
        "object": pd.Series(text, dtype=object),
    }[kind]
    message = _refused(X_IRIS, y, rf'string "-1" in {(codes == -1).sum()} rows')
    fit = GenerativeClassifier().fit(X_IRIS, _run(_recipe(message), y))
    assert fit.classes_.tolist() == NAMES.tolist()
    _same_fit_as_codes(fit, GenerativeClassifier().fit(X_IRIS, codes))


def _same_fit_as_codes(fit, by_codes, rtol=1e-12):
    np.testing.assert_allclose(fit.means_, by_codes.means_, rtol=rtol)
    np.testing.assert_allclose(fit.covariances_, by_codes.covariances_, rtol=rtol)
    np.testing.assert_allclose(fit.priors_, by_codes.priors_, rtol=rtol)
    np.testing.assert_allclose(fit.log_likelihood_, by_codes.log_likelihood_, rtol=rtol)


def test_priors_that_are_not_numbers_are_refused_by_name():
    for priors in ({"a": 1}, ["a", "b", "c"], [[0.5, 0.5], [0.5]]):
        with pytest.raises(ValueError, match=r"priors must be 3 positive numbers summing to 1"):
            GenerativeClassifier(priors=priors).fit(X_IRIS, Y_IRIS)


def _blobs_with_text_classes(seed=0):
    """Two blobs, classes "a" and "b", about 70% unlabelled (the number -1)."""
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    lab = np.repeat(np.array(["a", "b"], dtype=object), 100)
    lab[rng.uniform(size=200) < 0.7] = -1
    return pd.DataFrame(x, columns=["x1", "x2"]).assign(lab=lab)


def test_string_classes_with_unlabelled_rows_fit_on_dask_by_the_recipe():
    # Dask's default (dataframe.convert-string) stores the number -1 of a text column as
    # the string "-1": the fit was refused, "in 1 rows" (distinct values, not rows), and the
    # advice, y.astype(object), left "-1" as it was, so no route fitted. The recipe printed,
    # run as printed, gives the in-memory fit of the object column with the number -1.
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")

    pdf = _blobs_with_text_classes()
    unlabelled = int((pdf.lab.to_numpy() == -1).sum())
    memory = GenerativeClassifier().fit(pdf[["x1", "x2"]], pdf.lab)
    assert memory.n_iter_ > 1
    text = pdf.lab.to_numpy().astype(str)
    with dask.config.set({"dataframe.convert-string": True, "scheduler": "sync"}):
        ddf = dd.from_pandas(pdf, npartitions=4)
        targets = {
            "column of X's frame": ddf.lab,  # read with X, in the pass counting its rows
            "Series of another frame": dd.from_pandas(pdf[["lab"]], npartitions=4).lab,
            "dask array": da.from_array(text, chunks=50),
        }
        for name, y in targets.items():
            assert (y.compute() == "-1").sum() == unlabelled, name
            message = _refused(ddf[["x1", "x2"]], y, rf'string "-1" in {unlabelled} rows')
            fit = GenerativeClassifier().fit(ddf[["x1", "x2"]], _run(_recipe(message), y))
            _same_fit(fit, memory)
            np.testing.assert_array_equal(
                fit.predict(ddf[["x1", "x2"]]).compute(), memory.predict(pdf[["x1", "x2"]])
            )
        assert "dataframe.convert-string" in _refused(ddf[["x1", "x2"]], ddf.lab, "-1")
    # The other route the message names: the number -1 kept as it is read.
    with dask.config.set({"dataframe.convert-string": False, "scheduler": "sync"}):
        ddf = dd.from_pandas(pdf, npartitions=4)
        _same_fit(GenerativeClassifier().fit(ddf[["x1", "x2"]], ddf.lab), memory)


@pytest.mark.parametrize("kind", ["float array", "object array", "Int64", "string", "boolean"])
def test_label_errors_on_dask_count_rows_as_in_memory(kind):
    # A Dask target's label errors counted distinct values: "y has 1 missing labels" for 50
    # rows of NaN. They count rows now, and the recipe for a Dask target works as printed.
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")

    hidden = _semi() == -1
    source = {"float array": "float array", "object array": "object array"}.get(kind, kind)
    y, codes = _with_missing(source, hidden)
    in_memory = _refused(X_IRIS, y, rf"y has {hidden.sum()} missing labels")
    memory = GenerativeClassifier().fit(X_IRIS, _run(_recipe(in_memory), y))
    with dask.config.set({"scheduler": "sync"}):
        if isinstance(y, pd.Series):
            frame = pd.DataFrame(X_IRIS, columns=list("abcd")).assign(y=y)
            ddf = dd.from_pandas(frame, npartitions=3)
            X, lazy = ddf[list("abcd")], ddf.y
        else:
            X, lazy = da.from_array(X_IRIS, chunks=50), da.from_array(y, chunks=50)
        message = _refused(X, lazy, rf"y has {hidden.sum()} missing labels")
        _same_fit(GenerativeClassifier().fit(X, _run(_recipe(message), lazy)), memory)
    # the string "-1" too: rows, not distinct values
    text = np.where(hidden, "-1", NAMES[Y_IRIS].astype(str))
    lazy_text = da.from_array(text, chunks=50)
    _refused(da.from_array(X_IRIS, chunks=50), lazy_text, rf'string "-1" in {hidden.sum()} rows')


def test_label_errors_and_recoded_labels_read_each_partition_as_numeric_labels_do():
    # The rows of each label are counted in the pass that counts the rows of X: no read of
    # its own, with the labels a column of X's frame or not.
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")

    pdf = _blobs_with_text_classes().assign(code=lambda f: np.where(f.lab == "a", 0, 1))
    pdf.loc[pdf.lab.to_numpy() == -1, "code"] = -1
    reads = collections.Counter()
    bounds = [0, 50, 100, 150, 200]

    def load(i, tag, columns=None):
        reads[i] += 1
        part = pdf.iloc[bounds[i] : bounds[i + 1]]
        return part if columns is None else part[list(columns)]

    with dask.config.set({"dataframe.convert-string": True, "scheduler": "sync"}):
        ddf = dd.from_map(
            load, range(4), [id(reads)] * 4, meta=pdf.iloc[:0], divisions=(0, 50, 100, 150, 199)
        )
        X = ddf[["x1", "x2"]]
        by_codes = GenerativeClassifier().fit(X, ddf.code)
        counted = max(reads.values())
        reads.clear()
        _refused(X, ddf.lab, rf'string "-1" in {(pdf.code == -1).sum()} rows')
        assert max(reads.values()) == 1  # the pass counting the rows, which found them
        reads.clear()
        recoded = ddf.lab.astype(object).mask(ddf.lab == "-1", -1)
        fit = GenerativeClassifier().fit(X, recoded)
        assert max(reads.values()) == counted
    _same_fit_as_codes(fit, by_codes, rtol=1e-9)
    assert fit.classes_.tolist() == ["a", "b"]


def test_score_leaves_unlabelled_rows_out_as_fit_does():
    # score(X, y_semi) counted each -1 row as a miss: 0.165 for a model right on every
    # labelled row, and cross_val_score on semi-supervised labels was meaningless.
    from sklearn.metrics import accuracy_score

    X, y, y_semi = X_IRIS, Y_IRIS, _semi()
    labelled = y_semi != -1
    w = np.random.default_rng(3).uniform(0.5, 2.0, y.size)
    fitted = GenerativeClassifier(unlabelled=-1).fit(X, y_semi)
    predicted = fitted.predict(X)
    assert fitted.score(X, y_semi) == accuracy_score(y[labelled], predicted[labelled])
    np.testing.assert_allclose(
        fitted.score(X, y_semi, sample_weight=w),
        accuracy_score(y[labelled], predicted[labelled], sample_weight=w[labelled]),
        rtol=1e-15,
    )
    assert fitted.score(X, y) == accuracy_score(y, predicted)  # every row labelled
    with pytest.raises(ValueError, match=r"every row of y is unlabelled \(-1\)"):
        fitted.score(X, np.full(y.size, -1))
    # where -1 is a class, it is scored as one
    as_class = GenerativeClassifier(unlabelled=None).fit(X, y_semi)
    assert as_class.score(X, y_semi) == accuracy_score(y_semi, as_class.predict(X))


def test_score_on_dask_leaves_unlabelled_rows_out_as_in_memory():
    import dask.array as da

    X, y_semi = X_IRIS, _semi()
    w = np.random.default_rng(3).uniform(0.5, 2.0, y_semi.size)
    fitted = GenerativeClassifier(unlabelled=-1).fit(X, y_semi)
    lazy = da.from_array(X, chunks=(len(X) // 3, X.shape[1]))
    lazy_y = da.from_array(y_semi, chunks=lazy.chunks[0])
    np.testing.assert_allclose(fitted.score(lazy, lazy_y), fitted.score(X, y_semi), rtol=1e-15)
    np.testing.assert_allclose(
        fitted.score(lazy, y_semi, sample_weight=w),
        fitted.score(X, y_semi, sample_weight=w),
        rtol=1e-15,
    )
    with pytest.raises(ValueError, match="every row of y is unlabelled"):
        fitted.score(lazy, np.full(y_semi.size, -1))
