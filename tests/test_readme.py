"""The README's Python tour runs as written and prints what it shows."""

import doctest
import re
import warnings
from pathlib import Path

import emkit

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python examples"
    parser = doctest.DocTestParser()
    test = parser.get_doctest("\n".join(blocks), {}, "README", str(README), 0)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner.run(test, clear_globs=False)
    assert runner.failures == 0, f"{runner.failures} README example(s) print something else"
    # the prose after the tour names a fit the selection's LocalMaximumWarning flags
    flagged = [str(w.message) for w in caught if w.category is emkit.LocalMaximumWarning]
    assert any("tied K=5" in message for message in flagged), flagged
    # and quotes its log-likelihood and K=3's from the selection's table
    quoted = re.search(r"`tied` K=5 at (-[\d.]+), below K=3's (-[\d.]+)", README.read_text())
    assert quoted, "the README no longer quotes tied K=5 against K=3"
    table = test.globs["sel"].table_.set_index(["covariance_type", "n_components"])
    for k, text in zip((5, 3), quoted.groups(), strict=True):
        assert round(table.loc[("tied", k), "log_likelihood"], 2) == float(text), (k, text)
