"""The PyTorch backend gives the NumPy path's numbers (on the CPU), behind ``device=``.

Skipped where PyTorch is not installed (``pip install "emkit[torch]"``). A CUDA device is
never needed: ``device="cpu"`` runs the same torch code as ``"cuda"`` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import emkit
from emkit.distributions.gaussian import COVARIANCES
from emkit.exceptions import DegenerateFitWarning, MonotonicityWarning

torch = pytest.importorskip("torch")

STRUCTURES = ["full", "tied", "diag", "spherical"]


def blobs(n=300, seed=0):
    rng = np.random.RandomState(seed)
    parts = [
        rng.normal(size=(n, 3)) * s + c
        for c, s in (([0, 0, 0], 1.0), ([4, 4, 0], 0.5), ([0, 5, 5], 2.0))
    ]
    return np.vstack(parts)


def with_holes(x, share=0.2, seed=1):
    rng = np.random.RandomState(seed)
    x = x.copy()
    x[rng.uniform(size=x.shape) < share] = np.nan
    return x[~np.isnan(x).all(axis=1)]


def assert_close(got, want, rtol=1e-8):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=rtol, atol=rtol * 1e-3)


def assert_same_mixture(a, b, rtol=1e-8):
    assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=rtol)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert isinstance(getattr(b, name), np.ndarray), name
        assert_close(getattr(b, name), getattr(a, name), rtol)


@pytest.mark.parametrize("cov", STRUCTURES)
def test_cpu_device_gives_the_numpy_fit(cov):
    x = blobs()
    params = dict(covariance_type=cov, random_state=0, n_init=2)
    want = emkit.GaussianMixture(3, **params).fit(x)
    got = emkit.GaussianMixture(3, device="cpu", **params).fit(x)
    assert_same_mixture(want, got)
    assert got.n_iter_ == want.n_iter_
    assert_close(got.history_, want.history_, 1e-10)


@pytest.mark.parametrize("accelerate", [None, "squarem"])
def test_missing_values_on_the_device(accelerate):
    x = with_holes(blobs(200))
    params = dict(random_state=0, missing="em", accelerate=accelerate)
    want = emkit.GaussianMixture(3, **params).fit(x)
    got = emkit.GaussianMixture(3, device="cpu", **params).fit(torch.from_numpy(x))
    assert_same_mixture(want, got)
    proba = got.predict_proba(torch.from_numpy(x))
    assert isinstance(proba, torch.Tensor)
    assert_close(proba.numpy(), want.predict_proba(x))


def test_a_tensor_is_fitted_and_answered_on_its_device():
    x = blobs()
    want = emkit.GaussianMixture(3, random_state=0).fit(x)
    tensor = torch.from_numpy(x)
    got = emkit.GaussianMixture(3, random_state=0).fit(tensor)  # device from the tensor
    assert_same_mixture(want, got)
    for method in ("predict_proba", "score_samples", "predict"):
        out = getattr(got, method)(tensor)
        assert isinstance(out, torch.Tensor) and out.device == tensor.device, method
        assert_close(out.numpy(), getattr(want, method)(x), 1e-10)
    assert got.score(tensor) == pytest.approx(want.score(x), rel=1e-12)
    assert got.bic(tensor) == pytest.approx(want.bic(x), rel=1e-12)
    np.testing.assert_array_equal(got.predict(x), want.predict(x))  # NumPy in, NumPy out


def test_float32_on_the_device_gives_the_float64_answer():
    x = blobs(500)
    want = emkit.GaussianMixture(3, random_state=0).fit(x)
    got = emkit.GaussianMixture(3, random_state=0, device="cpu", dtype=np.float32).fit(x)
    assert got.log_likelihood_ == pytest.approx(want.log_likelihood_, rel=1e-5)
    np.testing.assert_allclose(got.means_, want.means_, rtol=1e-4, atol=1e-4)


def test_streamed_file_equals_resident_rows(tmp_path):
    x = blobs()
    path = tmp_path / "rows.npy"
    np.save(path, x)
    want = emkit.GaussianMixture(3, random_state=0).fit(path)
    got = emkit.GaussianMixture(3, random_state=0, device="cpu").fit(path)
    assert_same_mixture(want, got)


def test_kmeans_on_the_device():
    x = blobs()
    want = emkit.KMeans(3, n_init=2, random_state=0).fit(x)
    got = emkit.KMeans(3, n_init=2, random_state=0, device="cpu").fit(torch.from_numpy(x))
    assert_close(got.cluster_centers_, want.cluster_centers_, 1e-10)
    assert got.inertia_ == pytest.approx(want.inertia_, rel=1e-10)
    np.testing.assert_array_equal(got.labels_, want.labels_)
    labels = got.predict(torch.from_numpy(x))
    assert isinstance(labels, torch.Tensor)
    np.testing.assert_array_equal(labels.numpy(), want.predict(x))


@pytest.mark.parametrize("missing", ["error", "em"])
def test_generative_classifier_on_the_device(missing):
    x = blobs(150)
    y = np.repeat([0, 1, 2], 150)
    y[::3] = -1  # a third unlabelled: EM
    if missing == "em":
        x = with_holes(x, 0.1)
        y = y[: x.shape[0]]
    want = emkit.GenerativeClassifier("full", missing=missing).fit(x, y)
    got = emkit.GenerativeClassifier("full", missing=missing, device="cpu").fit(x, y)
    assert got.log_likelihood_ == pytest.approx(want.log_likelihood_, rel=1e-8)
    assert_close(got.means_, want.means_)
    assert_close(got.covariances_, want.covariances_)
    proba = got.predict_proba(torch.from_numpy(x))
    assert isinstance(proba, torch.Tensor)
    assert_close(proba.numpy(), want.predict_proba(x))


@pytest.mark.parametrize("structure", ["tied", "full"])
def test_generative_classifier_predicts_tensors_as_arrays(structure):
    # every row labelled: the closed form; tied scores rows by its linear discriminant
    x = blobs(150)
    y = np.repeat([0, 1, 2], 150)
    clf = emkit.GenerativeClassifier(structure).fit(x, y)
    for dtype, tol in [(torch.float64, 1e-12), (torch.float32, 1e-5)]:
        rows = torch.from_numpy(x).to(dtype)
        proba = clf.predict_proba(rows)
        assert isinstance(proba, torch.Tensor)
        assert_close(proba.double().numpy(), clf.predict_proba(x), tol)
        np.testing.assert_array_equal(clf.predict(rows).numpy(), clf.predict(x))
        odds = emkit.GenerativeClassifier(structure).fit(x[:300], y[:300]).decision_function
        assert_close(odds(rows).double().numpy(), odds(x), tol)


def test_imputer_on_the_device():
    x = with_holes(blobs(150), 0.3)
    want = emkit.GaussianImputer().fit(x)
    got = emkit.GaussianImputer(device="cpu").fit(torch.from_numpy(x))
    assert got.log_likelihood_ == pytest.approx(want.log_likelihood_, rel=1e-8)
    assert_close(got.mean_, want.mean_)
    assert_close(got.covariance_, want.covariance_)
    filled = got.transform(torch.from_numpy(x))
    assert isinstance(filled, torch.Tensor)
    assert_close(filled.numpy(), want.transform(x), 1e-10)


def test_select_mixture_on_the_device():
    x = blobs(100)
    want = emkit.select_mixture(x, n_components=[1, 2, 3], covariance_types=["full", "diag"])
    got = emkit.select_mixture(
        x, n_components=[1, 2, 3], covariance_types=["full", "diag"], device="cpu"
    )
    assert_close(got.table_["bic"].to_numpy(), want.table_["bic"].to_numpy())


def test_degenerate_components_are_flagged_on_the_device():
    rng = np.random.RandomState(0)
    x = np.vstack([rng.normal(size=(100, 2)), np.tile([[5.0, 5.0]], (20, 1))])
    with pytest.warns(DegenerateFitWarning):
        want = emkit.GaussianMixture(2, random_state=0).fit(x)
    with pytest.warns(DegenerateFitWarning):
        got = emkit.GaussianMixture(2, random_state=0, device="cpu").fit(x)
    np.testing.assert_array_equal(got.degenerate_components_, want.degenerate_components_)
    assert_close(got.covariances_, want.covariances_, 1e-6)


@pytest.mark.parametrize("assignment", ["soft", "hard"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_objective_never_decreases_on_the_device(dtype, assignment):
    x = blobs(400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        fit = emkit.GaussianMixture(
            3, random_state=0, device="cpu", dtype=dtype, assignment=assignment
        ).fit(x)
        emkit.KMeans(3, random_state=0, device="cpu", dtype=dtype).fit(x)
    assert fit.converged_
    floor = -(1e-6 if dtype == np.float32 else 1e-10) * np.abs(fit.history_[:-1])
    assert np.all(np.diff(fit.history_) >= floor)


def test_clear_errors_on_the_device():
    x = blobs(50)
    bad = torch.from_numpy(x.copy())
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match='missing="em"'):
        emkit.GaussianMixture(2).fit(bad)
    bad[3, 1] = float("inf")
    with pytest.raises(ValueError, match="infinity"):
        emkit.GaussianMixture(2).fit(bad)
    with pytest.raises(ValueError, match="2-D"):
        emkit.GaussianMixture(2).fit(torch.zeros(10))
    with pytest.raises(ValueError, match="device"):
        emkit.GaussianMixture(2, device="no-such-device").fit(x)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            emkit.GaussianMixture(2, device="cuda").fit(x)
    fitted = emkit.GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(torch.zeros((4, 5), dtype=torch.float64))


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


def test_import_and_help_do_not_import_torch():
    out = _run(
        "import sys, contextlib, io\n"
        "import emkit, emkit.cli\n"
        "from emkit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('torch' in sys.modules)\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_missing_torch_names_the_extra():
    out = _run(
        "import sys, importlib.abc\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.partition('.')[0] == 'torch':\n"
        "            raise ImportError('No module named torch')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import numpy as np, emkit\n"
        "try:\n"
        "    emkit.GaussianMixture(2, device='cpu').fit(np.random.rand(20, 2))\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert 'pip install "emkit[torch]"' in out.stdout, out.stderr


def test_a_device_fit_saves_and_loads(tmp_path):
    x = blobs(100)
    fit = emkit.GaussianMixture(3, random_state=0, device=torch.device("cpu"), dtype=np.float32)
    fit.fit(x)
    fit.save(tmp_path / "model.json")
    back = emkit.load(tmp_path / "model.json")
    assert back.get_params()["device"] == "cpu"
    np.testing.assert_array_equal(back.predict(x), fit.predict(x))


def test_cli_fit_on_the_device(tmp_path):
    from emkit.cli import main

    path = tmp_path / "rows.csv"
    np.savetxt(path, blobs(60), delimiter=",", header="a,b,c", comments="")
    out = tmp_path / "out"
    args = [str(path), "-k", "1-3", "--covariance", "full", "--out", str(out), "--quiet"]
    assert main(["fit", *args, "--device", "cpu"]) == 0
    assert (out / "model.json").is_file()


def test_cuda_out_of_memory_becomes_a_clear_error():
    from emkit.backend import torch_backend

    with pytest.raises(MemoryError, match=r"1000000 x 50 rows in torch.float32.*\.npy path"):
        with torch_backend.memory_message(1_000_000, 50, torch.float32):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")


def test_streamed_chunks_reach_the_device_in_order():
    from emkit.backend import torch_backend
    from emkit.backend.sources import ArrayChunks

    x = blobs(50)
    source = ArrayChunks(x, np.arange(x.shape[0], dtype=float), chunk_rows=40)
    moved = torch_backend.HostToDevice(source, torch.device("cpu"), torch.float32)
    chunks = list(moved)
    assert [c.shape[0] for c, _ in chunks] == [40, 40, 40, 30]
    assert all(c.dtype == torch.float32 and w.dtype == torch.float32 for c, w in chunks)
    np.testing.assert_array_equal(torch.cat([c for c, _ in chunks]).numpy(), x.astype(np.float32))
    assert moved.total_weight == source.total_weight and moved.n_rows == 150


@pytest.mark.parametrize("name", sorted(COVARIANCES))
def test_every_covariance_structure_runs_on_the_device(name):
    """mclust's fourteen models (and scikit-learn's four names) fit on torch as on NumPy."""
    x = blobs(60)
    want = emkit.GaussianMixture(3, covariance_type=name, random_state=0).fit(x)
    got = emkit.GaussianMixture(3, covariance_type=name, random_state=0, device="cpu").fit(x)
    assert_same_mixture(want, got)


@pytest.mark.parametrize("cov", ["full", "tied"])
def test_a_device_fit_warns_of_nothing(cov):
    # Every device="cpu" fit with a full covariance warned torch's "The given NumPy array is
    # not writable" (the cached quadratic pairs), and `emkit fit` printed it.
    x = blobs(300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        got = emkit.GaussianMixture(2, covariance_type=cov, device="cpu", random_state=0).fit(x)
    want = emkit.GaussianMixture(2, covariance_type=cov, random_state=0).fit(x)
    np.testing.assert_allclose(got.means_, want.means_, rtol=1e-8)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_complex_tensors_are_refused_as_complex_arrays_are(device):
    # A complex tensor was fitted on its real part (torch's cast warned and went on).
    x = blobs(40)
    z = torch.from_numpy(x + 1j * np.random.RandomState(0).normal(0, 100, x.shape))
    fits = [
        lambda: emkit.GaussianMixture(2, device=device).fit(z),
        lambda: emkit.KMeans(2, device=device).fit(z),
        lambda: emkit.GaussianImputer(device=device).fit(z),
        lambda: emkit.GenerativeClassifier(device=device).fit(z, (x[:, 0] > 1).astype(int)),
    ]
    for fit in fits:
        with pytest.raises(ValueError, match="Complex data not supported"):
            fit()
    fitted = emkit.GaussianMixture(2, random_state=0, device=device).fit(x)
    with pytest.raises(ValueError, match="Complex data not supported"):
        fitted.predict(z)
    with pytest.raises(ValueError, match="Complex data not supported"):
        emkit.GaussianMixture(2).fit(x + 1j)  # NumPy's own message, for comparison


@pytest.mark.parametrize(
    "params", [{}, {"device": "cpu"}, {"init_params": "hc"}, {"missing": "em"}]
)
def test_a_tensor_that_requires_grad_is_fitted_on_its_values(params):
    # GaussianMixture crashed: "Can't call numpy() on Tensor that requires grad".
    x = blobs(60)
    leaf = torch.tensor(x, requires_grad=True)
    got = emkit.GaussianMixture(3, random_state=0, **params).fit(leaf)
    want = emkit.GaussianMixture(3, random_state=0, **params).fit(torch.tensor(x))
    assert_same_mixture(want, got, rtol=1e-12)
    assert leaf.requires_grad and leaf.grad is None


@pytest.mark.parametrize("device", [None, "cpu"])
def test_dtype_is_checked_and_may_be_a_torch_dtype(device):
    # float16 on a device was a raw KeyError; torch.float32 a TypeError from NumPy.
    x = blobs(40)
    for cls in (emkit.GaussianMixture, emkit.KMeans):
        for bad in (np.float16, torch.float16, torch.bfloat16, np.int32, "no-such-type"):
            with pytest.raises(ValueError, match="dtype.* must be None, float32 or float64"):
                cls(2, device=device, dtype=bad).fit(x)
    for torch_dtype, numpy_dtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
        params = dict(random_state=0, device=device)
        got = emkit.GaussianMixture(3, dtype=torch_dtype, **params).fit(x)
        want = emkit.GaussianMixture(3, dtype=numpy_dtype, **params).fit(x)
        assert got.log_likelihood_ == want.log_likelihood_
        np.testing.assert_array_equal(got.means_, want.means_)
        km = emkit.KMeans(3, dtype=torch_dtype, **params).fit(x)
        assert km.inertia_ == emkit.KMeans(3, dtype=numpy_dtype, **params).fit(x).inertia_


def test_a_fit_with_a_torch_dtype_saves_and_loads(tmp_path):
    x = blobs(40)
    for cls in (emkit.GaussianMixture, emkit.KMeans):
        fitted = cls(2, dtype=torch.float32, random_state=0).fit(x)
        fitted.save(tmp_path / "m.json")
        loaded = emkit.load(tmp_path / "m.json")
        assert loaded.dtype == "float32"
        np.testing.assert_array_equal(loaded.predict(x), fitted.predict(x))


def test_a_device_torch_cannot_use_is_a_clear_error():
    # device="mps" on a PyTorch without MPS was torch's RuntimeError from the first copy.
    x = blobs(40)
    unusable = [d for d in ("mps", "xpu") if not getattr(torch, d).is_available()]
    if not torch.cuda.is_available():
        unusable.append("cuda:0")
    for device in unusable:
        for cls in (emkit.GaussianMixture, emkit.KMeans, emkit.GaussianImputer):
            with pytest.raises(ValueError, match=f"device='{device}'"):
                cls(device=device).fit(x)
    with pytest.raises(ValueError, match="device='meta'"):
        emkit.GaussianMixture(2, device="meta").fit(x)


def test_tensors_without_features_or_values_are_refused_clearly():
    # 0 columns: "zero-size array to reduction operation maximum" (KMeans fitted them);
    # a meta tensor: "Tensor.item() cannot be called on meta tensors".
    empty = torch.zeros(10, 0, dtype=torch.float64)
    meta = torch.zeros(10, 3, dtype=torch.float64, device="meta")
    fitted = emkit.GaussianMixture(2, random_state=0).fit(blobs(20))
    estimators = (emkit.GaussianMixture(2), emkit.KMeans(2), emkit.GaussianImputer())
    for estimator in estimators:
        with pytest.raises(ValueError, match=r"0 feature\(s\)"):
            estimator.fit(empty)
        with pytest.raises(ValueError, match="meta tensor"):
            estimator.fit(meta)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        emkit.GaussianMixture(2).fit(np.zeros((10, 0)))  # NumPy's words, for comparison
    with pytest.raises(ValueError, match="meta tensor"):
        fitted.predict(meta)


def test_tensors_that_require_grad_fit_as_their_values_in_the_numpy_estimators():
    # MixtureModel, MixtureOfRegressions, ZeroInflatedPoisson and BayesianMixture compute in
    # NumPy: a tensor (or weights) requiring grad crashed in NumPy's asarray.
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(200, 1))) * 3
    y = np.where(rng.random(200) < 0.5, 2 * x[:, 0], -x[:, 0]) + rng.normal(0, 0.1, 200)
    w = rng.uniform(0.5, 2.0, 200)

    def grad(a):
        return torch.tensor(a, requires_grad=True)

    normals = emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0)
    fitted = clone(normals).fit(grad(x), sample_weight=grad(w))
    assert fitted.score(x) == normals.fit(x, sample_weight=w).score(x)
    lines = emkit.MixtureOfRegressions(2, random_state=0)
    fitted = clone(lines).fit(grad(x), grad(y))
    np.testing.assert_array_equal(fitted.coef_, lines.fit(x, y).coef_)
    counts = rng.poisson(2, (100, 1)).astype(float)
    zip_fit = emkit.ZeroInflatedPoisson().fit(grad(counts))
    assert zip_fit.rate_ == emkit.ZeroInflatedPoisson().fit(counts).rate_
    posterior = emkit.BayesianMixture(2, chains=1, draws=10, tune=5, random_state=0)
    a = clone(posterior).fit(grad(x)).posterior_.posterior
    np.testing.assert_array_equal(a["mean"], posterior.fit(x).posterior_.posterior["mean"])
