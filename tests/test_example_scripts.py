"""The example scripts of ``examples/`` say what they need before they need it."""

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.skipif(not (EXAMPLES / "bayes_faithful.py").exists(), reason="no examples/")
def test_bayes_faithful_names_the_extra_it_needs(monkeypatch):
    """On a plain install (no arviz) the script ended in a bare ``ModuleNotFoundError: No module
    named 'arviz'``; it says what to install, as ``BayesianMixture.posterior_`` does, and its
    docstring names the extra."""
    spec = importlib.util.spec_from_file_location("bayes_faithful", EXAMPLES / "bayes_faithful.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert 'pip install "emkit[bayes]"' in script.__doc__
    monkeypatch.setitem(sys.modules, "arviz", None)  # import arviz raises ImportError
    with pytest.raises(ImportError, match=r"needs arviz.*pip install 'emkit\[bayes\]'"):
        script.main()
