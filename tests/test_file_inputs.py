"""Estimators reading files: a Fortran-ordered .npy, Parquet column names, predict on a path."""

import numpy as np
import pandas as pd
import pytest

import emkit


@pytest.fixture
def frame(faithful):
    return pd.DataFrame(faithful, columns=["eruptions", "waiting"])


def test_fortran_ordered_npy_fits_as_the_array(tmp_path, faithful):
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(faithful))
    assert not np.load(path, mmap_mode="r").flags.c_contiguous
    from_file = emkit.GaussianMixture(2, random_state=0).fit(path)
    in_memory = emkit.GaussianMixture(2, random_state=0).fit(faithful)
    np.testing.assert_allclose(from_file.means_, in_memory.means_, rtol=1e-10)
    assert from_file.log_likelihood_ == pytest.approx(in_memory.log_likelihood_, rel=1e-12)
    np.testing.assert_array_equal(from_file.predict(path), in_memory.predict(faithful))


def test_parquet_fit_names_features_and_predict_reads_them(tmp_path, frame):
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    model = emkit.GaussianMixture(2, random_state=0).fit(path)
    assert model.feature_names_in_.tolist() == ["eruptions", "waiting"]
    reference = emkit.GaussianMixture(2, random_state=0).fit(frame)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
    # another file: columns in another order, one more text column
    other = tmp_path / "g.parquet"
    frame[["waiting", "eruptions"]].assign(site="x").to_parquet(other)
    np.testing.assert_array_equal(model.predict(other), reference.predict(frame))
    np.testing.assert_allclose(model.predict_proba(str(other)), reference.predict_proba(frame))
    imputer = emkit.GaussianImputer().fit(path)
    assert imputer.feature_names_in_.tolist() == ["eruptions", "waiting"]


def test_predict_on_a_file_of_another_kind_says_what_to_do(tmp_path, frame):
    model = emkit.GaussianMixture(1).fit(frame.to_numpy())
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"must be \.npy or Parquet"):
        model.predict(path)
