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


# Docstrings against the code: every parameter a public callable takes is described, every
# described parameter exists, and an estimator's Attributes section names exactly the fitted
# attributes (ending in "_") that ``fit`` leaves, so that ``help(emkit.X)`` stays true.
docscrape = pytest.importorskip("numpydoc.docscrape")


def _documented(doc, section: str) -> set[str]:
    """The names a numpydoc section describes (``a, b : ...`` names two)."""
    return {n.strip().lstrip("*") for p in doc[section] for n in p.name.split(",") if n.strip()}


def _class_doc(cls):
    # numpydoc fills an absent Attributes section with the class's properties: read only
    # what the docstring says
    return docscrape.ClassDoc(cls, config={"show_class_members": False})


def _signature_names(obj) -> set[str]:
    skip = {"self", "cls"}
    return {n for n in inspect.signature(obj).parameters if n not in skip}


ESTIMATORS = sorted(
    q
    for q, obj in PUBLIC.items()
    if inspect.isclass(obj) and hasattr(obj, "get_params") and hasattr(obj, "fit")
)
FUNCTIONS = sorted(q for q, obj in PUBLIC.items() if inspect.isfunction(obj))


def test_the_estimators_and_functions_are_found():
    assert {"emkit.GaussianMixture", "emkit.BayesianMixture", "emkit.KMeans"} <= set(ESTIMATORS)
    assert {"emkit.load", "emkit.select_mixture", "emkit.bayes.ridge"} <= set(FUNCTIONS)


@pytest.mark.parametrize("qualname", ESTIMATORS)
def test_estimator_docstrings_describe_every_parameter(qualname):
    cls = PUBLIC[qualname]
    described = _documented(_class_doc(cls), "Parameters")
    assert described == set(cls().get_params()), (
        f"{qualname}: parameters not described {sorted(set(cls().get_params()) - described)}, "
        f"described but not parameters {sorted(described - set(cls().get_params()))}"
    )


VALUE_CLASSES = sorted(
    q
    for q, obj in PUBLIC.items()
    if inspect.isclass(obj)
    and not issubclass(obj, BaseException)
    and q not in ESTIMATORS
    and inspect.signature(obj).parameters
)


@pytest.mark.parametrize("qualname", VALUE_CLASSES)
def test_families_priors_and_results_describe_every_field(qualname):
    # a family, a prior or a result: what it is built from is a parameter or an attribute
    cls = PUBLIC[qualname]
    doc = _class_doc(cls)
    fields = {n for n in _signature_names(cls) if not n.startswith("_")}
    described = _documented(doc, "Parameters") | _documented(doc, "Attributes")
    assert fields <= described, f"{qualname}: {sorted(fields - described)} not described"
    assert _documented(doc, "Parameters") <= fields, f"{qualname}: described but not taken"


@pytest.mark.parametrize("qualname", FUNCTIONS)
def test_function_docstrings_describe_every_parameter(qualname):
    func = PUBLIC[qualname]
    described = _documented(docscrape.FunctionDoc(func), "Parameters")
    assert described == _signature_names(func), (
        f"{qualname}: parameters not described {sorted(_signature_names(func) - described)}, "
        f"described but not parameters {sorted(described - _signature_names(func))}"
    )


METHODS = {
    f"{qualname}.{name}": member
    for qualname in ESTIMATORS
    for name, member in vars(PUBLIC[qualname]).items()
    if not name.startswith("_") and inspect.isfunction(member)
}


@pytest.mark.parametrize("qualname", sorted(METHODS))
def test_method_parameter_sections_match_their_signatures(qualname):
    method = METHODS[qualname]
    described = _documented(docscrape.FunctionDoc(method), "Parameters")
    if not described:  # a one-paragraph docstring names its arguments in prose
        return
    assert described == _signature_names(method), (
        f"{qualname}: parameters not described {sorted(_signature_names(method) - described)}, "
        f"described but not parameters {sorted(described - _signature_names(method))}"
    )


def _fitted(qualname: str):
    """``qualname`` fitted to a small DataFrame with string column names."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (40, 2))]), columns=["a", "b"]
    )
    y = np.repeat([0, 1], 40)
    counts = pd.DataFrame({"visits": np.where(rng.uniform(size=80) < 0.3, 0, rng.poisson(3, 80))})
    fits = {
        "emkit.GaussianMixture": lambda: emkit.GaussianMixture(2, random_state=0).fit(X),
        "emkit.KMeans": lambda: emkit.KMeans(2, random_state=0).fit(X),
        "emkit.MixtureModel": lambda: emkit.MixtureModel(
            [emkit.Normal(), emkit.Normal()], random_state=0
        ).fit(X),
        "emkit.ZeroInflatedPoisson": lambda: emkit.ZeroInflatedPoisson().fit(counts),
        "emkit.MixtureOfRegressions": lambda: emkit.MixtureOfRegressions(2, random_state=0).fit(
            X[["a"]], X["b"]
        ),
        "emkit.GaussianImputer": lambda: emkit.GaussianImputer().fit(X),
        "emkit.GenerativeClassifier": lambda: emkit.GenerativeClassifier().fit(X, y),
        "emkit.BayesianMixture": lambda: emkit.BayesianMixture(
            2, chains=1, draws=20, tune=5, random_state=0
        ).fit(X),
    }
    if qualname == "emkit.BayesianMixture":
        pytest.importorskip("arviz")
    return fits[qualname]()


@pytest.mark.parametrize("qualname", ESTIMATORS)
def test_estimator_docstrings_list_exactly_the_fitted_attributes(qualname):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = _fitted(qualname)
    fitted = {a for a in vars(est) if a.endswith("_") and not a.startswith("_")}
    fitted |= {  # properties such as precisions_ and lower_bound_
        a
        for a, member in inspect.getmembers(type(est))
        if isinstance(member, property) and a.endswith("_") and not a.startswith("_")
    }
    described = _documented(_class_doc(type(est)), "Attributes")
    assert described == fitted, (
        f"{qualname}: fitted attributes not described {sorted(fitted - described)}, "
        f"described but not fitted {sorted(described - fitted)}"
    )
