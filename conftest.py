"""Doctest collection over ``src/emkit``: skip modules whose optional dependency is missing.

``python -m pytest`` imports every module of the package to collect its docstring examples. A
module that imports an optional extra (torch, dask, arviz) at module level cannot be imported
where that extra is not installed; it is left out of collection instead of failing it.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

OPTIONAL = ("torch", "dask", "distributed", "arviz")
PACKAGE = Path(__file__).parent / "src" / "emkit"


def _missing_optional(path: Path) -> bool:
    """True if ``path`` imports, at module level, an optional package that is not installed."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # an import guarded by try/except ImportError (to re-raise with an install hint) counts too
    statements = [
        inner
        for node in tree.body
        for inner in (node.body if isinstance(node, ast.Try) else [node])
    ]
    for node in statements:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OPTIONAL and importlib.util.find_spec(top) is None:
                return True
    return False


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix == ".py" and PACKAGE in collection_path.parents:
        if _missing_optional(collection_path):
            return True
    return None


def pytest_collection_modifyitems(config, items) -> None:
    """Run the package's docstring examples as a reader pastes them: in a fresh namespace,
    not among the module's globals, so that an example uses only the names it imports."""
    for item in items:
        test = getattr(item, "dtest", None)
        if test is not None and PACKAGE in Path(str(item.path)).parents:
            test.globs = {"__name__": "__main__"}
