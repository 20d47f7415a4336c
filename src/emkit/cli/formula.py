"""Model formulas for ``emkit mle``: ``y ~ x1 + log(x2) + I(x1 ** 2)`` (linear) and
``y ~ a * exp(-k * x)`` (nonlinear).

An expression (a nonlinear right-hand side, or a linear term that is not a column name) is
parsed with :mod:`ast` and evaluated by walking the tree over numbers, columns, parameters,
``+ - * / **`` and a fixed list of NumPy functions: nothing else (no attribute, subscript or
other call) is accepted, so a formula cannot run code. Column names that are not Python
names are written as in R: dotted names as they are (``log(Petal.Width)``), any other in
backticks (``log(`sepal length (cm)`)``).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from emkit.exceptions import DataError

FUNCTIONS: dict[str, Callable] = {
    "exp": np.exp,
    "log": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "arctan": np.arctan,
    "atan": np.arctan,
    "tanh": np.tanh,
}
BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def split(formula: str) -> tuple[str, str]:
    """``"y ~ rhs"`` -> ``("y", "rhs")``."""
    if formula.count("~") != 1:
        raise DataError(f"--formula {formula!r}: write it as 'y ~ x1 + x2' (one '~')")
    left, right = (part.strip() for part in formula.split("~"))
    if not left or not right:
        raise DataError(f"--formula {formula!r}: a response and terms are needed on each side")
    if len(left) > 2 and left[0] == left[-1] == "`":
        left = left[1:-1]
    return left, right


def linear_terms(formula: str) -> tuple[str, list[str], bool]:
    """The response, the regressors and whether to fit an intercept of ``y ~ x1 + x2``.

    ``+ 0`` or ``- 1`` drops the intercept (as in R and statsmodels); ``+ 1`` keeps it. Terms
    are split at the ``+`` and ``-`` outside parentheses, so that ``log(x + 1)`` is one term
    (see :func:`linear_term`).
    """
    response, right = split(formula)
    intercept = True
    terms = []
    for i, part in enumerate(_outside_parentheses(right)):
        term = part.strip()
        if term.startswith("-"):
            term = "-" + term[1:].strip()
        if not term and i == 0:
            continue
        if term in ("0", "-1"):
            intercept = False
        elif term == "1":
            intercept = True
        elif not term or term.startswith("-"):
            raise DataError(
                f"--formula {formula!r}: a linear formula is a sum of terms (column names, "
                "functions of columns such as log(x), arithmetic inside I()), with '+ 0' or "
                "'- 1' to drop the intercept"
            )
        else:
            terms.append(term)
    return response, terms, intercept


def _outside_parentheses(right: str) -> list[str]:
    """``right`` cut at each ``+`` and before each ``-`` outside parentheses and backticks."""
    parts, depth, start, quoted = [], 0, 0, False
    for at, char in enumerate(right):
        quoted ^= char == "`"
        if not quoted:
            depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and not quoted and char in "+-":
            parts.append(right[start:at])
            start = at + (char == "+")
    parts.append(right[start:])
    return parts


def linear_term(term: str) -> Expression:
    """A linear formula's term that is not a column name, as an expression of columns: a
    function of them (``log(x)``, ``sqrt(x + 1)``) or arithmetic inside ``I()``
    (``I(x ** 2)``, ``I(x1 * x2)``), as in R and statsmodels. Bare arithmetic is refused: R
    reads ``x1 * x2`` as both columns and their interaction, ``x ^ 2`` as a crossing."""
    inner = term[2:-1] if term.startswith("I(") and term.endswith(")") else None
    expression = parse_expression(term if inner is None else inner)
    if inner is None and not isinstance(expression.tree.body, (ast.Call, ast.Name)):
        raise DataError(
            f"--formula: the term {term!r} is arithmetic on columns, which R reads otherwise "
            f"(x1 * x2: both and their interaction); write I({term}) for the value itself, "
            "or add the column to the data"
        )
    return expression


# A name in backticks, or a dotted name (R's Petal.Width), not part of a longer name or number.
QUOTED_NAME = re.compile(r"`([^`]+)`|(?<![\w.])([A-Za-z_]\w*(?:\.\w+)+)")


@dataclass(frozen=True)
class Expression:
    """A parsed right-hand side; ``names`` are the columns and parameters it reads, and
    ``aliases`` the Python names that stand for the others (backticked or dotted) in ``tree``."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]
    aliases: Mapping[str, str]

    def __call__(self, values: Mapping[str, object]):
        lookup = {**values, **{alias: values[name] for alias, name in self.aliases.items()}}
        return _evaluate(self.tree.body, lookup)


def _aliased(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with each backticked or dotted name replaced by a Python name, and the map
    from those names back."""
    aliases: dict[str, str] = {}

    def alias(match: re.Match) -> str:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        for key, value in aliases.items():
            if value == name:
                return key
        key = f"_emkit_name_{len(aliases)}"
        aliases[key] = name
        return key

    return QUOTED_NAME.sub(alias, text), aliases


def parse_expression(text: str) -> Expression:
    """Parse ``a * exp(-k * x)``; DataError for anything outside the small grammar."""
    code, aliases = _aliased(text)
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as exc:
        raise DataError(f"--formula: cannot parse {text!r} ({exc.msg})") from None
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                func = ast.unparse(node.func)
                raise DataError(
                    f"--formula: {aliases.get(func, func)}() is not one of the functions "
                    f"{', '.join(FUNCTIONS)}"
                )
            if node.keywords or len(node.args) != 1:
                raise DataError(f"--formula: {node.func.id}() takes one argument")
        elif isinstance(node, ast.Name):
            name = aliases.get(node.id, node.id)
            if node.id not in FUNCTIONS and name not in names:
                names.append(name)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise DataError(f"--formula: {node.value!r} is not a number")
        elif not isinstance(
            node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *BINARY, *UNARY)
        ):
            raise DataError(
                f"--formula: {ast.unparse(node) if isinstance(node, ast.expr) else text!r} is "
                "not understood; use numbers, names, + - * / **, and the functions "
                f"{', '.join(FUNCTIONS)}"
            )
    return Expression(text, tree, tuple(names), aliases)


def _evaluate(node: ast.expr, values: Mapping[str, object]):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](_evaluate(node.left, values), _evaluate(node.right, values))
    if isinstance(node, ast.UnaryOp):
        return UNARY[type(node.op)](_evaluate(node.operand, values))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return FUNCTIONS[node.func.id](_evaluate(node.args[0], values))
    raise DataError(f"--formula: cannot evaluate {ast.unparse(node)}")  # parse_expression bars it
