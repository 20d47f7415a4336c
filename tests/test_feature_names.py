"""Feature names follow scikit-learn's rules for every kind of input.

A fit sets ``feature_names_in_`` from the data's names (a DataFrame's, a Dask DataFrame's, a
Parquet file's, a list of DataFrames'); a query raises or warns exactly as scikit-learn's own
GaussianMixture does on the same rows in pandas. The one rule a file adds: a Parquet file is
read by the fitted names where it has them all (in any order, beside other columns).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.mixture import GaussianMixture as SklearnMixture

from emkit import GaussianImputer, GaussianMixture

dd = pytest.importorskip("dask.dataframe")
da = pytest.importorskip("dask.array")

FRAME = pd.DataFrame(
    np.random.default_rng(0).normal(size=(90, 3)) + [[0.0, 5.0, -3.0]], columns=["a", "b", "c"]
)
# The rows a query is asked about: the fitted table with its columns changed.
QUERIES = {
    "same": lambda f: f,
    "swapped": lambda f: f[["c", "b", "a"]],
    "renamed": lambda f: f.rename(columns={"a": "z"}),
    "missing": lambda f: f[["a", "b"]],
    "extra": lambda f: f.assign(d=1.0),
}
NAMED = ("DataFrame", "dask DataFrame", "parquet path", "list of DataFrames")
KINDS = ("ndarray", "dask array", "list of arrays", *NAMED)


def as_kind(kind, frame, folder):
    """``frame`` as the input ``kind``: the same rows, with or without its column names."""
    if kind == "ndarray":
        return frame.to_numpy()
    if kind == "DataFrame":
        return frame
    if kind == "dask array":
        return da.from_array(frame.to_numpy(), chunks=(40, -1))
    if kind == "dask DataFrame":
        return dd.from_pandas(frame, npartitions=3)
    if kind == "parquet path":
        path = folder / f"{len(list(folder.iterdir()))}.parquet"
        frame.to_parquet(path)
        return path
    parts = [frame[:50], frame[50:]]
    return [p.to_numpy() for p in parts] if kind == "list of arrays" else parts


def in_pandas(kind, frame, fitted=None):
    """What scikit-learn is given for the same rows: the DataFrame where ``kind`` names its
    columns, else its values. A Parquet file is read by the ``fitted`` names where it has
    them all."""
    if kind not in NAMED:
        return frame.to_numpy()
    if kind == "parquet path" and fitted is not None and set(fitted) <= set(frame.columns):
        return frame[list(fitted)]
    return frame


def outcome(call):
    """("raises", type, message), or ("warns", the feature-name warnings) of ``call()``
    (a lazy result computed, so that warnings raised on the blocks count)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            result = call()
            if hasattr(result, "compute"):
                result.compute()
        except (ValueError, TypeError) as exc:
            return ("raises", type(exc), str(exc))
    named = {(w.category, str(w.message)) for w in seen if "feature names" in str(w.message)}
    return ("warns", sorted(named, key=str))


@pytest.mark.parametrize("kind", NAMED)
def test_a_warm_start_checks_the_names_of_every_kind_as_of_a_dataframe(tmp_path, kind):
    # A warm start continues the stored fit, so other names are refused; Parquet files and
    # lists of DataFrames were not checked (renamed columns went unnoticed).
    model = GaussianMixture(2, warm_start=True, max_iter=200, random_state=0)
    model.fit(as_kind(kind, FRAME, tmp_path))
    renamed = as_kind(kind, QUERIES["renamed"](FRAME), tmp_path)
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        model.fit(renamed)
    # Data without names: the names follow them, as in scikit-learn's refit (warm or not),
    # and the rows fitted on are then queried without a warning.
    unnamed = as_kind("list of arrays" if kind == "list of DataFrames" else "ndarray", FRAME, None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(unnamed)
        model.predict(FRAME.to_numpy())
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize("estimator", [GaussianMixture, GaussianImputer])
def test_a_list_of_dataframes_with_mixed_column_names_is_refused_as_one_dataframe(estimator):
    # A list of DataFrames whose columns mixed strings and numbers was fitted without names,
    # where the same rows as one DataFrame (or a Dask DataFrame) are refused.
    mixed = FRAME.set_axis(["a", 1, "c"], axis=1)
    message = "Feature names are only supported if all input features have string names"
    with pytest.raises(TypeError, match=message):
        SklearnMixture(2).fit(mixed)
    for data in (mixed, dd.from_pandas(mixed, npartitions=2), [mixed[:50], mixed[50:]]):
        with pytest.raises(TypeError, match=message):
            estimator().fit(data)


def test_multiple_imputation_of_a_dask_dataframe_does_not_warn_on_its_blocks():
    # The blocks of a named collection were checked where it was queried: transform's draws
    # warned "X does not have valid feature names" once per partition.
    holes = np.random.default_rng(1).random(FRAME.shape) < 0.2
    lazy = dd.from_pandas(FRAME.mask(holes), npartitions=3)
    imputer = GaussianImputer().fit(lazy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        draws = imputer.transform(lazy, n_draws=2, random_state=0, parameters="fitted").compute()
    assert draws.shape == (2, *FRAME.shape)
    wrong = lazy[["c", "b", "a"]]
    draws_of_wrong = outcome(lambda: imputer.transform(wrong, n_draws=2, parameters="fitted"))
    assert draws_of_wrong[1] is ValueError


def test_reports_query_checked_rows_without_warnings():
    # Summaries and plots check the names of X once, then query the model on its rows.
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from emkit import select_mixture

    model = GaussianMixture(2, random_state=0).fit(FRAME)
    selection = select_mixture(FRAME, n_components=[1, 2], covariance_types=["VVV"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        for data in (FRAME, dd.from_pandas(FRAME, npartitions=3)):
            model.summary(data)
            model.plot(data)
            selection.summary(data)
            selection.plot("classification", data)
            plt.close("all")
    swapped = QUERIES["swapped"](FRAME)
    for report in (model.summary, selection.summary):
        with pytest.raises(ValueError, match="Feature names must be in the same order"):
            report(swapped)
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]  # the model keeps its names


@pytest.mark.parametrize("query", list(QUERIES))
@pytest.mark.parametrize("kind", KINDS)
def test_a_query_with_other_columns_is_answered_as_scikit_learn_answers(tmp_path, kind, query):
    rows = QUERIES[query](FRAME)
    model = GaussianMixture(2, random_state=0).fit(as_kind(kind, FRAME, tmp_path))
    reference = SklearnMixture(2, random_state=0).fit(in_pandas(kind, FRAME))
    asked = as_kind(kind, rows, tmp_path)
    got = outcome(lambda: model.predict(asked))
    want = outcome(lambda: reference.predict(in_pandas(kind, rows, FRAME.columns)))
    assert got == want


@pytest.mark.parametrize("asked", KINDS)
@pytest.mark.parametrize("fitted", KINDS)
def test_names_on_one_side_only_warn_as_scikit_learn_warns(tmp_path, fitted, asked):
    model = GaussianMixture(2, random_state=0).fit(as_kind(fitted, FRAME, tmp_path))
    reference = SklearnMixture(2, random_state=0).fit(in_pandas(fitted, FRAME))
    names = getattr(reference, "feature_names_in_", None)
    np.testing.assert_array_equal(getattr(model, "feature_names_in_", None), names)
    rows = as_kind(asked, FRAME, tmp_path)
    got = outcome(lambda: model.predict(rows))
    assert got == outcome(lambda: reference.predict(in_pandas(asked, FRAME, names)))


def test_a_tensor_is_checked_as_an_array_without_names():
    # A tensor's columns have no names: a model fitted with names warns as for an ndarray.
    torch = pytest.importorskip("torch")
    model = GaussianMixture(2, random_state=0).fit(FRAME)
    rows = torch.tensor(FRAME.to_numpy())
    assert outcome(lambda: model.predict(rows)) == outcome(lambda: model.predict(FRAME.to_numpy()))
    assert outcome(lambda: model.predict(rows))[1]  # the warning is there
