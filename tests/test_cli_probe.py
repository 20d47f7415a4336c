"""``emkit fit`` / ``predict`` against hostile inputs: compressed tables, odd Parquet columns,
hand-edited model files, very wide tables and runaway warnings."""

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

import emkit
from emkit.cli import main
from emkit.cli.fit import read_features
from emkit.cli.table import sniff


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def two_clusters(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    values = rng.normal(size=(n, 2)) + 6.0 * group[:, None]
    return pd.DataFrame(values.round(4), columns=["length", "width"])


FAST = ["-k", "2", "--covariance", "VVV", "--quiet", "--no-report"]
COMPRESSIONS = ["gz", "bz2", "xz", "zip"]


@pytest.mark.parametrize("suffix", COMPRESSIONS)
@pytest.mark.parametrize(("sep", "decimal"), [(";", ","), ("\t", "."), (",", ".")])
def test_a_compressed_csv_is_sniffed_in_its_decompressed_text(tmp_path, suffix, sep, decimal):
    frame = two_clusters()
    path = tmp_path / f"table.csv.{suffix}"
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)  # pandas compresses by suffix
    assert sniff(path) == (sep, decimal)
    table = read_features(path)
    reference = pd.read_csv(path, sep=sep, decimal=decimal)  # pandas, told the format
    assert table.names == ["length", "width"]
    np.testing.assert_array_equal(table.values, reference.to_numpy())


def test_fit_and_predict_read_a_compressed_semicolon_csv(tmp_path):
    frame = two_clusters()
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    frame.to_csv(plain, index=False)
    frame.to_csv(packed, sep=";", decimal=",", index=False)
    for path, out in ((plain, "plain"), (packed, "packed")):
        status, _, err = run_main(["fit", path, "--out", tmp_path / out, *FAST])
        assert status == 0, err
    plain_model = emkit.load(tmp_path / "plain" / "model.json")
    packed_model = emkit.load(tmp_path / "packed" / "model.json")
    np.testing.assert_allclose(packed_model.means_, plain_model.means_, rtol=1e-12)
    status, text, err = run_main(["predict", tmp_path / "plain" / "model.json", packed])
    assert status == 0, err
    labels = pd.read_csv(io.StringIO(text))["label"].to_numpy()
    np.testing.assert_array_equal(labels, plain_model.predict(frame))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"hello", "Not a gzipped file"), (None, "ended before the end-of-stream")],
)
def test_a_damaged_gzip_csv_is_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "t.csv.gz"
    two_clusters().to_csv(path, sep=";", index=False)
    path.write_bytes(content if content is not None else path.read_bytes()[:200])
    status, _, err = run_main(["fit", path, "--out", tmp_path / "out", *FAST])
    assert status == 2
    assert err.startswith(f"emkit: error: {path}: cannot be read as a table") and expected in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
