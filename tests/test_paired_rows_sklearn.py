"""pandas rows paired by position where scikit-learn's tools pair them so: the index checks
of the estimators (emkit.estimators._validation.paired_rows) refuse what a user misaligned,
never what scikit-learn's own model selection hands the estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import permutation_test_score

import emkit


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"], index=range(100, 100 + n))
    y = pd.Series((x["a"] + 0.3 * rng.normal(size=n) > 0).astype(int), index=x.index)
    response = 2 * x["a"] + rng.normal(size=n)
    weight = pd.Series(rng.uniform(0.5, 2.0, n), index=x.index)
    return x, y, response, weight


@pytest.mark.parametrize("kind", ["classifier", "regressions"])
def test_permutation_test_score_of_pandas_rows_matches_arrays(kind):
    # permutation_test_score shuffles y with its index (y.iloc[permutation]), and pairs it
    # with X by position: it was refused as misaligned
    x, y, response, _ = _data()
    if kind == "classifier":
        model, X, target = emkit.GenerativeClassifier(), x, y
    else:
        model, X, target = emkit.MixtureOfRegressions(2, random_state=0), x[["a"]], response
    options = dict(n_permutations=3, cv=3, random_state=0)
    got = permutation_test_score(model, X, target, **options)
    expected = permutation_test_score(model, X.to_numpy(), target.to_numpy(), **options)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def test_permuted_y_beside_pandas_weights_is_paired_by_position():
    # X an array, y shuffled by permutation_test_score, sample_weight split as X is
    x, y, _, weight = _data()
    options = dict(n_permutations=2, cv=3, random_state=0)
    got = permutation_test_score(
        emkit.GenerativeClassifier(), x.to_numpy(), y, params={"sample_weight": weight}, **options
    )
    expected = permutation_test_score(
        emkit.GenerativeClassifier(),
        x.to_numpy(),
        y.to_numpy(),
        params={"sample_weight": weight.to_numpy()},
        **options,
    )
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def test_weights_in_another_order_are_still_refused():
    # only a target may come shuffled by scikit-learn; weights and other labels are refused
    x, y, _, weight = _data()
    with pytest.raises(ValueError, match="the same labels in another order"):
        emkit.GenerativeClassifier().fit(x, y, sample_weight=weight.iloc[::-1])


def test_other_labels_say_how_to_pair_by_position():
    # .loc[X.index] (the advice for a reordering) raises a KeyError where the labels differ
    x, y, _, weight = _data()
    with pytest.raises(ValueError, match="they hold other labels") as e:
        emkit.GaussianMixture(2, random_state=0).fit(x, sample_weight=weight.reset_index(drop=True))
    said = str(e.value)
    assert ".loc[X.index]" not in said
    assert "sample_weight.to_numpy()" in said


def test_a_target_is_paired_by_position_as_scikit_learn_pairs_it():
    # a training fold of permutation_test_score holds other labels in y than in X
    x, y, _, _ = _data()
    shuffled = y.sample(frac=1, random_state=0)
    got = emkit.GenerativeClassifier().fit(x, shuffled).means_
    expected = emkit.GenerativeClassifier().fit(x.to_numpy(), shuffled.to_numpy()).means_
    np.testing.assert_array_equal(got, expected)
