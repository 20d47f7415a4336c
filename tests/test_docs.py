"""Documentation contracts: every public name shows an example, and results print plainly."""

import ast
import inspect
import re
import types
from pathlib import Path

import pytest

import emkit
from emkit import bayes

EXAMPLES = re.compile(r"^\s*Examples\n\s*-{8,}\n(.*?)(^\s*\S[^\n]*\n\s*-{3,}\n|\Z)", re.M | re.S)


def _public(module: types.ModuleType, prefix: str):
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, types.ModuleType):
            yield from _public(obj, f"{prefix}.{name}")
        else:
            yield f"{prefix}.{name}", obj


PUBLIC = dict(_public(emkit, "emkit"))


def test_the_public_namespaces_are_covered():
    names = set(PUBLIC)
    assert {"emkit.GaussianMixture", "emkit.mle.poisson", "emkit.bayes.ridge"} <= names
    assert len(names) >= 50


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_every_public_name_has_a_runnable_examples_section(qualname):
    doc = inspect.getdoc(PUBLIC[qualname]) or ""
    match = EXAMPLES.search(doc)
    assert match, f"{qualname}'s docstring has no numpydoc Examples section"
    assert ">>> " in match.group(1), f"{qualname}'s Examples section has no doctest (>>> lines)"


def test_posteriors_print_python_floats():
    post = bayes.beta_bernoulli([1] * 379 + [0] * 621, a=2, b=2)
    low, high = post.interval(0.95)
    assert type(low) is float and type(high) is float
    assert type(post.map) is float and type(post.mean) is float
    assert repr(post.interval(0.95)).startswith("(0.3497")
    joint = bayes.normal_inverse_gamma([4.9, 5.1, 5.3, 4.7, 5.0])
    assert all(type(v) is float for v in joint.map.values())
    assert all(type(v) is float for v in joint["mean"].interval(0.9))
    assert all(type(v) is float for v in bayes.gamma_poisson([1, 2]).hyper.values())


GALLERY = sorted((Path(__file__).resolve().parents[1] / "docs" / "examples").glob("*.py"))


def _emkit_names(tree: ast.AST) -> set[str]:
    """Every dotted emkit name a script imports or reads: ``emkit.mle.poisson``, ..."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emkit"):
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("emkit.")}
        elif isinstance(node, ast.Attribute):
            parts = []
            inner: ast.AST = node
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in ("emkit", "mle", "bayes"):
                prefix = "emkit" if inner.id == "emkit" else f"emkit.{inner.id}"
                names.add(".".join([prefix, *reversed(parts)]))
    return names


@pytest.mark.skipif(not GALLERY, reason="no gallery scripts in this checkout")
@pytest.mark.parametrize("script", GALLERY, ids=lambda p: p.name)
def test_gallery_examples_use_the_public_api_only(script):
    public = set(PUBLIC) | {"emkit.mle", "emkit.bayes"}
    for name in _emkit_names(ast.parse(script.read_text())):
        # a public name, or an attribute of one (a method or a fitted attribute)
        assert any(name == p or name.startswith(p + ".") for p in public), (
            f"{script.name} uses {name}, which is not public API"
        )


API_INDEX = Path(__file__).resolve().parents[1] / "docs" / "api" / "index.rst"


@pytest.mark.skipif(not API_INDEX.exists(), reason="no docs/ in this checkout")
def test_the_api_reference_lists_every_public_name():
    listed = set(re.findall(r"^   (\w+)$", API_INDEX.read_text(), flags=re.M))
    missing = sorted(q for q in PUBLIC if q.rsplit(".", 1)[1] not in listed)
    assert not missing, f"docs/api/index.rst does not list {missing}"
