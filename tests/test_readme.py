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
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} README example(s) print something else"
    # the prose after the tour names a fit the selection's LocalMaximumWarning flags
    flagged = [str(w.message) for w in caught if w.category is emkit.LocalMaximumWarning]
    assert any("tied K=5" in message for message in flagged), flagged
