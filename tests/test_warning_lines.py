"""Warnings point at the user's line, however deep in emkit or scikit-learn they arise."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import emkit
from emkit import mle
from emkit.exceptions import DegenerateFitWarning

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 2))
GAPPY = X.copy()
GAPPY[::3, 0] = np.nan


def caught(call):
    """The warnings ``call()`` raises (all of them, each once)."""
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        call()
    return found


CASES = {
    "GaussianMixture.fit": lambda: emkit.GaussianMixture(2, max_iter=2).fit(X),
    "GaussianMixture.fit_predict": lambda: emkit.GaussianMixture(2, max_iter=2).fit_predict(X),
    "GaussianImputer.fit_transform": lambda: emkit.GaussianImputer(max_iter=2).fit_transform(GAPPY),
    "GaussianImputer.fit": lambda: emkit.GaussianImputer(max_iter=2).fit(GAPPY),
    "MixtureModel.fit": lambda: emkit.MixtureModel(
        [emkit.Normal(), emkit.Normal()], max_iter=2
    ).fit(X[:, :1]),
    "KMeans with init and n_init": lambda: emkit.KMeans(2, init=X[:2], n_init=3).fit(X),
    "mle.bernoulli on the boundary": lambda: mle.bernoulli([1, 1, 1]),
    "mle.categorical on the boundary": lambda: mle.categorical([0, 0, 1], 3),
    "GaussianMixture on duplicate rows": lambda: emkit.GaussianMixture(
        2, reg_covar=0, random_state=0
    ).fit(np.vstack([X, np.repeat([[3.0, 3.0]], 8, axis=0)])),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_warning_names_this_file(name):
    found = caught(CASES[name])
    assert found, f"{name} raised no warning"
    for w in found:
        assert w.filename == __file__, (name, w.category.__name__, w.filename, w.lineno)


def test_categories_are_the_documented_ones():
    assert {w.category for w in caught(CASES["GaussianMixture.fit"])} == {ConvergenceWarning}
    duplicate = caught(CASES["GaussianMixture on duplicate rows"])
    assert DegenerateFitWarning in {w.category for w in duplicate}


def test_a_module_filter_on_the_callers_module_applies():
    # filters by module match the module the warning is attributed to: this one
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=ConvergenceWarning, module=__name__)
        with pytest.raises(ConvergenceWarning):
            emkit.GaussianMixture(2, max_iter=2).fit_predict(X)


def test_warnings_under_cross_validation_name_this_file():
    # through joblib's sequential loop, the warning pointed at joblib/parallel.py
    from sklearn.model_selection import cross_val_score

    found = caught(lambda: cross_val_score(emkit.GaussianMixture(2, max_iter=2), X, cv=2))
    assert found
    for w in found:
        assert w.filename == __file__, (w.category.__name__, w.filename)
