"""Regression tests for named starts, transforms and refusals of the emkit.mle fits."""

import warnings

import numpy as np
import pytest
from scipy import optimize

from emkit import mle


def _decay(x, a, k):
    return a * np.exp(-k * x)


def _decay_data():
    x = np.linspace(0, 4, 30)
    y = 3.0 * np.exp(-0.7 * x) + np.random.default_rng(0).normal(0, 0.05, size=30)
    return x, y


@pytest.mark.parametrize("p0", [{"a": 1.0, "k": 1.0}, {"k": 1.0, "a": 1.0}])
def test_nonlinear_dict_start_is_matched_to_f_by_name(p0):
    x, y = _decay_data()
    popt, pcov = optimize.curve_fit(_decay, x, y, p0=[1.0, 1.0])
    est = mle.nonlinear_regression(_decay, x, y, p0=p0, variance="unbiased")
    assert est.params["a"] == pytest.approx(popt[0], rel=1e-8)
    assert est.params["k"] == pytest.approx(popt[1], rel=1e-8)
    assert est.stderr["a"] == pytest.approx(np.sqrt(pcov[0, 0]), rel=1e-5)
    assert list(est.summary().index) == ["a", "k", "variance"]


def test_nonlinear_dict_bounds_are_matched_to_f_by_name():
    x, y = _decay_data()
    # k's bound binds below its optimum 0.711: the fit is curve_fit's with the same bound
    popt, _ = optimize.curve_fit(_decay, x, y, p0=[1.0, 0.9], bounds=([-np.inf, 0.8], np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est = mle.nonlinear_regression(
            _decay, x, y, p0={"k": 0.9, "a": 1.0}, bounds={"k": (0.8, None)}
        )
    assert est.params["k"] == pytest.approx(popt[1], rel=1e-6)
    assert est.params["a"] == pytest.approx(popt[0], rel=1e-6)


@pytest.mark.parametrize(
    ("p0", "match"),
    [
        ({"a": 1.0, "rate": 1.0}, r"\['rate'\], which f does not take.*\['a', 'k'\]"),
        ({"a": 1.0}, r"no start for f's parameter\(s\) \['k'\]"),
        ([1.0, 1.0, 1.0], r"p0 has 3 value\(s\) but f takes 2 parameter\(s\) after x \(a, k\)"),
        ([1.0], r"p0 has 1 value\(s\) but f takes 2"),
    ],
)
def test_nonlinear_refuses_a_start_that_does_not_fit_f(p0, match):
    x, y = _decay_data()
    with pytest.raises(ValueError, match=match):
        mle.nonlinear_regression(_decay, x, y, p0)
    with pytest.raises(ValueError, match=match):  # before the count of observations
        mle.nonlinear_regression(_decay, x[:3], y[:3], p0)


@pytest.mark.parametrize("m", [2, 9])
def test_nonlinear_refuses_x_and_y_of_different_lengths(m):
    x, y = _decay_data()
    with pytest.raises(ValueError, match=f"x has 30 values but y has {m}"):
        mle.nonlinear_regression(_decay, x, y[:m], [1.0, 1.0])


def test_nonlinear_keeps_a_positional_start_for_varargs_f():
    x, y = _decay_data()
    popt, _ = optimize.curve_fit(_decay, x, y, p0=[1.0, 1.0])
    est = mle.nonlinear_regression(lambda x, *t: _decay(x, *t), x, y, [1.0, 1.0])
    np.testing.assert_allclose(est.params["coef"], popt, rtol=1e-8)
