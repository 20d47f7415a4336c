"""A row of weight 0 is the same as leaving the row out, also where the fit rules it out.

A count above 0 where every Poisson rate is 0, a 1 where a Bernoulli probability is 0 and a
category of probability 0 have log density -inf under every component: the E-step's 0/0
responsibilities and 0 times -inf must not turn the fit's parameters or log-likelihood into NaN.
"""

import warnings

import numpy as np
import pytest

from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import Gamma
from emkit.distributions.poisson import Poisson
from emkit.estimators.mixture_model import MixtureModel


def _cases():
    rng = np.random.default_rng(0)
    # Weighted rows all 0: every fitted rate is 0, the weight-0 counts have probability 0.
    zeros = np.r_[np.zeros(10), np.arange(1, 11)][:, None]
    zeros_w = np.r_[rng.uniform(0.5, 2.0, 10), np.zeros(10)]
    # The second column is 0 in every weighted row: its probability is 0 in every component.
    binary = np.r_[np.c_[rng.integers(0, 2, 40), np.zeros(40)], [[1, 1], [0, 1]]]
    binary_w = np.r_[rng.uniform(0.5, 2.0, 40), 0.0, 0.0]
    # Category 3 only in weight-0 rows.
    codes = np.r_[rng.integers(0, 3, 40), [3, 3]][:, None].astype(float)
    codes_w = np.r_[rng.uniform(0.5, 2.0, 40), 0.0, 0.0]
    # Continuous rows far out, with weight 0 (in the support: finite log densities).
    spread = np.r_[rng.exponential(1.0, 40), rng.exponential(20.0, 40), [1e6, 3e5]][:, None]
    positive = np.r_[rng.gamma(2.0, 1.0, 40), rng.gamma(9.0, 3.0, 40), [1e-300, 1e6]][:, None]
    cont_w = np.r_[rng.uniform(0.5, 2.0, 80), 0.0, 0.0]
    cat4 = Categorical(n_categories=4)  # the weight-0 rows must not add a category
    return {
        "poisson-1": ([Poisson()], zeros, zeros_w, {}),
        "poisson-2": ([Poisson(), Poisson()], zeros, zeros_w, {}),
        "poisson-2-hard": ([Poisson(), Poisson()], zeros, zeros_w, {"assignment": "hard"}),
        "bernoulli-1": ([Bernoulli()], binary, binary_w, {}),
        "bernoulli-2": ([Bernoulli(), Bernoulli()], binary, binary_w, {}),
        "categorical-1": ([cat4], codes, codes_w, {}),
        "categorical-2": ([cat4, cat4], codes, codes_w, {}),
        "exponential-1": ([Exponential()], spread, cont_w, {}),
        "exponential-2": ([Exponential(), Exponential()], spread, cont_w, {}),
        "gamma-1": ([Gamma()], positive, cont_w, {}),
        "gamma-2": ([Gamma(), Gamma()], positive, cont_w, {}),
        # Bernoulli and Categorical: code 3 lies in the Categorical's support only.
        "bernoulli-categorical": ([Bernoulli(), cat4], codes, codes_w, {}),
        "poisson-exponential": ([Poisson(), Exponential()], zeros, zeros_w, {}),
    }


CASES = _cases()


def _fit(components, x, w, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate components, convergence: alike in both
        return MixtureModel(components, random_state=0, **options).fit(x, sample_weight=w)


def _assert_same_fit(with_zeros, dropped, atol=1e-12):
    """The same fit up to rounding; ``atol``: of log-likelihoods near 0 (sums of rows' rounding)."""
    assert with_zeros.log_likelihood_ == pytest.approx(dropped.log_likelihood_, rel=1e-12, abs=atol)
    # The objective at every iteration (a hard fit's classification log-likelihood, too).
    assert np.isfinite(with_zeros.history_).all()
    np.testing.assert_allclose(with_zeros.history_, dropped.history_, rtol=1e-11, atol=atol)
    np.testing.assert_allclose(with_zeros.weights_, dropped.weights_, rtol=1e-11, atol=1e-12)
    assert len(with_zeros.component_params_) == len(dropped.component_params_)
    for a, b in zip(with_zeros.component_params_, dropped.component_params_, strict=True):
        assert a.keys() == b.keys() and a["family"] == b["family"]
        for key in a.keys() - {"family"}:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-11, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", CASES)
def test_weight_zero_rows_are_left_out(name):
    components, x, w, options = CASES[name]
    keep = w > 0
    with_zeros = _fit(components, x, w, options)
    dropped = _fit(components, x[keep], w[keep], options)
    assert np.isfinite(with_zeros.log_likelihood_)
    _assert_same_fit(with_zeros, dropped)


def test_weight_zero_rows_left_out_of_the_start():
    """Families of different kinds start from the arrangement of clusters with the highest
    log-likelihood: weight-0 rows of probability 0 there must not make every score NaN."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.integers(0, 2, 30), rng.choice(3, 30, p=[0.1, 0.2, 0.7]), [3, 3]][:, None]
    w = np.r_[rng.uniform(0.5, 2.0, 60), 0.0, 0.0]
    components = [Bernoulli(), Categorical(n_categories=4)]
    keep = w > 0
    with_zeros = _fit(components, x.astype(float), w, {})
    _assert_same_fit(with_zeros, _fit(components, x[keep].astype(float), w[keep], {}))


def test_weight_zero_rows_left_out_on_distinct_rows():
    """Counts of many rows run on their distinct rows with total weights (some totals 0)."""
    rng = np.random.default_rng(1)
    n = 40_000
    x = np.where(rng.random(n) < 0.5, 0.0, rng.integers(1, 9, n).astype(float))[:, None]
    w = np.where(x[:, 0] == 0, 1.0, 0.0)
    with_zeros = _fit([Poisson(), Poisson()], x, w, {})
    dropped = _fit([Poisson(), Poisson()], x[w > 0], w[w > 0], {})
    # The start's log-likelihood is the rounding of the start's weights over 20,000 rows.
    _assert_same_fit(with_zeros, dropped, atol=1e-10)
    np.testing.assert_array_equal(with_zeros.components_[0].rate, [0.0])


def test_weight_zero_rows_left_out_on_the_linear_pass():
    """Rows of a fit kept in memory over several units of the linear pass (threads), with
    weight-0 rows far out among them."""
    rng = np.random.default_rng(2)
    n = 150_000
    x = np.r_[rng.exponential(1.0, n // 2), rng.exponential(30.0, n // 2)][:, None]
    w = rng.uniform(0.5, 2.0, n)
    far = rng.choice(n, 50, replace=False)
    x[far], w[far] = 1e7, 0.0
    keep = w > 0
    for components in ([Exponential(), Exponential()], [Gamma(), Gamma()]):
        with_zeros = _fit(components, x, w, {})
        dropped = _fit(components, x[keep], w[keep], {})
        assert with_zeros.log_likelihood_ == pytest.approx(dropped.log_likelihood_, rel=1e-11)
        for a, b in zip(with_zeros.components_, dropped.components_, strict=True):
            np.testing.assert_allclose(a.to_vector(), b.to_vector(), rtol=1e-8)


def test_predict_refuses_rows_of_probability_zero():
    """A count above 0 where every rate is 0: log density -inf, no posterior (as rows outside
    every component's support)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(np.zeros((20, 1)))
    x = np.array([[0.0], [3.0], [0.0], [5.0]])
    np.testing.assert_allclose(model.score_samples(x), [0.0, -np.inf, 0.0, -np.inf], atol=1e-15)
    for query in (model.predict_proba, model.predict):
        with pytest.raises(ValueError, match=r"2 rows of X have probability 0.*row 1: \[3.0\]"):
            query(x)
    np.testing.assert_allclose(model.predict_proba(x[[0, 2]]).sum(axis=1), 1.0, rtol=1e-15)


def test_predict_refuses_a_category_of_probability_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixtureModel([Categorical(n_categories=3)], random_state=0).fit(
            np.array([[0.0], [1.0], [1.0]])
        )
    assert model.score_samples([[2.0]])[0] == -np.inf
    with pytest.raises(ValueError, match="probability 0 under every fitted component"):
        model.predict([[0.0], [2.0]])
    np.testing.assert_allclose(model.predict_proba([[0.0], [1.0]]), [[1.0], [1.0]])


def test_weight_zero_rows_left_out_on_dask():
    """Partitions of a dask Array run the same E-step on the workers (a category seen only in
    weight-0 rows, in a partition of its own)."""
    da = pytest.importorskip("dask.array")
    components, x, w, options = CASES["bernoulli-categorical"]
    keep = w > 0
    on_dask = _fit(components, da.from_array(x, chunks=(15, 1)), da.from_array(w, chunks=15), {})
    _assert_same_fit(on_dask, _fit(components, x[keep], w[keep], options))
