"""What a refused checkpoint says: it names its file, which is one of many in a folder."""

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
