"""What a refused checkpoint says: it names its file, which is one of many in a folder."""

import json
from pathlib import Path

import numpy as np
import pytest

import emkit
from emkit.checkpoint import CheckpointError


def two_clusters(n: int = 200, seed: int = 0) -> np.ndarray:
    """Two clusters in two columns with different spreads, shape (n, 2)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    return np.array([[0.0, 0.0], [5.0, 1.0]])[labels] + rng.normal(size=(n, 2)) * [1.0, 0.3]


class Killed(Exception):
    """Raised by :func:`interrupted`'s callback: the fit killed on the way."""


def interrupted(x: np.ndarray, ck: Path) -> dict:
    """``GaussianMixture(3)`` on ``x`` killed at its sixth step: its checkpoint ``ck``, read."""

    def kill(progress):
        if progress.iteration == 6:
            raise Killed

    with pytest.raises(Killed):
        emkit.GaussianMixture(3, random_state=0, callback=kill).fit(x, checkpoint=ck)
    return json.loads(ck.read_text())


def test_a_checkpoint_of_other_data_is_named(tmp_path):
    # other data with the key's numbers (rows, columns, total weight): the columns swapped
    x = two_clusters()
    ck = tmp_path / "fits" / "gmm-2.json"
    emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)
    with pytest.raises(CheckpointError) as refused:
        emkit.GaussianMixture(2, random_state=0).fit(x[:, ::-1].copy(), checkpoint=ck)
    message = str(refused.value)
    assert message.startswith(f"{ck}: the checkpoint's model has objective ")
    assert message.endswith("it was written for other data; delete it to start afresh")
    assert message.count(str(ck)) == 1


def test_select_mixture_names_the_checkpoint_of_other_data(tmp_path):
    x = two_clusters()
    folder = tmp_path / "grid"
    emkit.select_mixture(x, [1, 2], ["full"], checkpoint=folder, random_state=0)
    with pytest.raises(CheckpointError, match="other data") as refused:
        emkit.select_mixture(x[:, ::-1].copy(), [1, 2], ["full"], checkpoint=folder)
    named = str(refused.value).split(": ", 1)[0]
    assert named.startswith(str(folder)) and named.endswith(".json")
    assert Path(named).name in {p.name for p in folder.iterdir()}


def test_a_checkpoint_of_an_older_emkit_resumes_with_the_fields_added_since(tmp_path):
    """SQUAREM's state gained ``gains`` and ``screening``; a file written before them (its
    other fields as they were) resumes to the uninterrupted fit, not refused as damaged."""
    x = two_clusters(400)
    ck = tmp_path / "gm.json"
    document = interrupted(x, ck)

    def as_written_before(value):
        if isinstance(value, dict):
            if str(value.get("__dataclass__", "")).endswith(":Squarem"):
                del value["fields"]["gains"], value["fields"]["screening"]
            for inner in value.values():
                as_written_before(inner)
        elif isinstance(value, list):
            for inner in value:
                as_written_before(inner)

    as_written_before(document)
    del document["digest"]  # written since
    assert "gains" not in json.dumps(document)
    ck.write_text(json.dumps(document))
    resumed = emkit.GaussianMixture(3, random_state=0).fit(x, checkpoint=ck)
    whole = emkit.GaussianMixture(3, random_state=0).fit(x)
    assert resumed.n_iter_ == whole.n_iter_
    assert resumed.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(resumed.means_, whole.means_, rtol=1e-10)


def test_a_checkpoint_field_without_a_default_is_still_refused(tmp_path):
    x = two_clusters()
    ck = tmp_path / "gm.json"
    emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)
    text = ck.read_text()
    assert '"weights": ' in text
    ck.write_text(text.replace('"weights": ', '"weight_s": ', 1))
    with pytest.raises(CheckpointError, match="do not match"):
        emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)


def test_a_hard_fit_resumed_from_its_checkpoint_reports_the_observed_log_likelihood(tmp_path):
    """A checkpoint rebuilds the assignment as a new ``Hard()``; the resumed fit still reports
    the observed-data log-likelihood (scipy's), not the classification objective it climbed."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(1)
    x = np.vstack(
        [
            rng.normal(0, 1, (150, 3)),
            rng.normal(1.5, 1.3, (150, 3)),
            rng.normal([3, 0, -2], 0.7, (100, 3)),
        ]
    )
    ck = tmp_path / "hard.json"

    def fit(**kwargs):
        return emkit.GaussianMixture(3, assignment="hard", random_state=0).fit(x, **kwargs)

    fit(checkpoint=ck)
    resumed = fit(checkpoint=ck)
    joint = np.column_stack(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(resumed.weights_, resumed.means_, resumed.covariances_, strict=True)
        ]
    )
    assert resumed.log_likelihood_ == pytest.approx(logsumexp(joint, axis=1).sum(), rel=1e-10)
    assert resumed.log_likelihood_ > joint.max(axis=1).sum() + 1.0  # not the hard objective
    assert resumed.log_likelihood_ == pytest.approx(fit().log_likelihood_, rel=1e-10)


def test_a_file_in_the_way_of_the_checkpoint_is_named_before_the_fit(tmp_path):
    (tmp_path / "somefile").write_text("mine")
    ck = tmp_path / "somefile" / "ck.json"
    calls = []
    gm = emkit.GaussianMixture(2, random_state=0, callback=calls.append)
    with pytest.raises(NotADirectoryError, match="somefile is a file, not a folder") as refused:
        gm.fit(two_clusters(), checkpoint=ck)
    assert refused.value.filename == str(ck)
    assert calls == []  # refused before a step
    assert (tmp_path / "somefile").read_text() == "mine"


def test_a_checkpoint_of_another_version_says_which_is_read(tmp_path):
    x = two_clusters()
    ck = tmp_path / "gm.json"
    emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)
    document = json.loads(ck.read_text())
    document["version"] = 2
    ck.write_text(json.dumps(document))
    message = "version 2 is not supported \\(this emkit reads version 1\\); delete it"
    with pytest.raises(CheckpointError, match=message):
        emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)


@pytest.mark.parametrize("scalar", [{"__scalar__": "O", "value": [1]}, {"__scalar__": "<f8"}])
def test_a_damaged_number_in_a_checkpoint_is_a_checkpoint_error(tmp_path, scalar):
    x = two_clusters()
    ck = tmp_path / "gm.json"
    emkit.GaussianMixture(2, random_state=0, accelerate=None).fit(x, checkpoint=ck)
    document = json.loads(ck.read_text())
    document["runs"][0]["fields"]["model"]["fields"]["weights"] = scalar
    ck.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="a damaged checkpoint \\(a damaged number"):
        emkit.GaussianMixture(2, random_state=0, accelerate=None).fit(x, checkpoint=ck)


def test_starts_resumed_from_a_checkpoint_end_as_the_checkpointed_fit_to_the_last_bit(tmp_path):
    """With a checkpoint the n_init starts run one after another: a fit killed in its second
    start and resumed ends as the uninterrupted checkpointed fit, bit for bit, and as the fit
    without a checkpoint (starts in lockstep) to rounding, as the docs say."""
    rng = np.random.default_rng(1)
    x = np.vstack(
        [
            rng.normal(0, 1, (150, 3)),
            rng.normal(1.5, 1.3, (150, 3)),
            rng.normal([3, 0, -2], 0.7, (100, 3)),
        ]
    )

    def fit(**kwargs):
        return emkit.GaussianMixture(3, random_state=0, n_init=2, **kwargs)

    whole = fit().fit(x, checkpoint=tmp_path / "whole.json")

    class Killed(Exception):
        pass

    def kill(progress):
        if progress.start == 1 and progress.iteration == 7:
            raise Killed

    ck = tmp_path / "killed.json"
    with pytest.raises(Killed):
        fit(callback=kill).fit(x, checkpoint=ck)
    resumed = fit().fit(x, checkpoint=ck)
    for name in ("weights_", "means_", "covariances_", "history_"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(whole, name))
    assert resumed.log_likelihood_ == whole.log_likelihood_
    lockstep = fit().fit(x)
    np.testing.assert_allclose(lockstep.means_, whole.means_, rtol=1e-10, atol=1e-12)
    assert lockstep.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-12)


def test_checkpoint_error_is_public():
    """The API page says everything public is importable from emkit; CheckpointError, which
    ``fit(checkpoint=...)`` raises, was only in ``emkit.checkpoint``."""
    assert emkit.CheckpointError is CheckpointError
    assert "CheckpointError" in emkit.__all__
    assert issubclass(emkit.CheckpointError, ValueError)
    from emkit import CheckpointError as imported

    assert imported is CheckpointError


@pytest.mark.parametrize("edit", ["covariance", "weights", "done", "nan_mean"])
def test_a_checkpoint_edited_in_place_is_refused_by_its_digest(tmp_path, edit):
    # A finished run's covariance tripled resumed as the fit (covariances_ then disagreed
    # with precisions_cholesky_, and emkit.load refused the saved model); weights of another
    # shape failed in a matmul that the CLI blamed on the data; a NaN mean read as "written
    # for other data"; an interrupted run marked done ended there, "converged".
    x = two_clusters(400)
    ck = tmp_path / "gm.json"
    if edit == "covariance":
        emkit.GaussianMixture(3, random_state=0).fit(x, checkpoint=ck)
        document = json.loads(ck.read_text())
    else:
        document = interrupted(x, ck)
    (run,) = document["runs"]["items"] if isinstance(document["runs"], dict) else document["runs"]
    fields = run["fields"]
    model = fields["model"]["fields"]
    if edit == "covariance":
        covariances = model["components"]["fields"]["covariances"]
        covariances["data"][0] = 3 * covariances["data"][0]
    elif edit == "weights":
        model["weights"] = {"__array__": "<f8", "shape": [2], "data": [0.5, 0.5]}
    elif edit == "done":
        fields["done"], fields["converged"] = True, True
    else:
        model["components"]["fields"]["means"]["data"][0] = float("nan")
    ck.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="a damaged or edited checkpoint") as refused:
        emkit.GaussianMixture(3, random_state=0).fit(x, checkpoint=ck)
    assert str(refused.value).startswith(f"{ck}: ")
