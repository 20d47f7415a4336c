"""emkit.mle refuses pandas inputs whose indexes disagree, as statsmodels does: paired by
position, their rows were silently the wrong pairs."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from emkit import mle


def _frame():
    rng = np.random.default_rng(21)
    frame = pd.DataFrame({"x": rng.normal(size=20)})
    frame["y"] = 2 * frame.x + rng.normal(size=20) * 0.1
    return frame


def test_misaligned_pandas_rows_are_refused_as_by_statsmodels():
    frame = _frame()
    X, shuffled = frame[["x"]], frame["y"].sort_values()  # the same rows, in another order
    with pytest.raises(ValueError, match="indices for endog and exog are not aligned"):
        sm.OLS(shuffled, sm.add_constant(X)).fit()
    with pytest.raises(ValueError, match=r"X and y are pandas objects whose indexes differ"):
        mle.linear_regression(X, shuffled)
    with pytest.raises(ValueError, match=r"x and y .* y = y.loc\[x.index\]"):
        mle.nonlinear_regression(lambda x, a: a * x, frame["x"], shuffled, p0=[1.0])
    k, n = pd.Series([3, 5, 7], index=[0, 1, 2]), pd.Series([10, 20, 8], index=[2, 1, 0])
    with pytest.raises(ValueError, match=r"k and n are pandas objects whose indexes differ"):
        mle.binomial(k, n)


def test_aligned_pandas_rows_and_arrays_fit_as_statsmodels():
    frame = _frame()
    X, y = frame[["x"]], frame["y"]
    coef = sm.OLS(y, sm.add_constant(X)).fit().params["x"]
    realigned = y.sort_values().loc[X.index]  # the same index as X again
    for rows in ((X, y), (X, realigned), (X.to_numpy(), y.to_numpy())):
        np.testing.assert_allclose(mle.linear_regression(*rows).params["coef"][0], coef)
