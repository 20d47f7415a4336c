"""Model formulas for ``emkit mle``: ``log(y) ~ x1 * x2 + log(x3) + I(x1 ** 2)`` (linear, its
terms read as R reads them: :func:`linear_terms`) and ``y ~ a * exp(-k * x)`` (nonlinear).

An expression (a nonlinear right-hand side, a linear factor or response that is not a column
name) is parsed with :mod:`ast` and evaluated by walking the tree over numbers, columns,
parameters, ``+ - * / **`` (``^`` is R's power, read as ``**``) and a fixed list of NumPy
functions: nothing else (no attribute, subscript or other call) is accepted, so a formula
cannot run code. Column names that are not
Python names are written as in R: dotted names as they are (``log(Petal.Width)``), any other in
backticks (``log(`sepal length (cm)`)``).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

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
    "I": lambda x: x,  # R's "as is": arithmetic inside it is a value, not formula operators
}
# A formula nested deeper than this (parentheses, or operators inside an expression) is
# refused: reading it recurses once per level, and Python's recursion is bounded.
MOST_NESTED = 100
# Terms a formula may expand to (crossings grow as 2^k); more than any data set fits.
MOST_TERMS = 1000
BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def split(formula: str) -> tuple[str, str]:
    """``"y ~ rhs"`` -> ``("y", "rhs")``; a response in backticks loses them."""
    left, right = _sides(formula)
    if len(left) > 2 and left[0] == left[-1] == "`":
        left = left[1:-1]
    return left, right


def _sides(formula: str) -> tuple[str, str]:
    if formula.count("~") != 1:
        raise DataError(f"--formula {formula!r}: write it as 'y ~ x1 + x2' (one '~')")
    left, right = (part.strip() for part in formula.split("~"))
    if not left or not right:
        raise DataError(f"--formula {formula!r}: a response and terms are needed on each side")
    return left, right


LINEAR_GRAMMAR = (
    "a linear formula is a sum of terms: columns, functions of columns such as log(x), "
    "arithmetic inside I(), products of those a:b, a*b (meaning a + b + a:b) and parentheses "
    "(a + b):c; '+ 0' or '- 1' drops the intercept, '- a' removes the term a"
)


def linear_terms(formula: str) -> tuple[str, list[tuple[str, ...]], bool]:
    """The response, the terms and whether to fit an intercept of ``y ~ x1 + x2``.

    The right-hand side is read as R reads it: a term is a column, a function of columns
    (``log(x)``) or arithmetic inside ``I()``, or the product of several of those written
    ``a:b``; ``a*b`` is ``a + b + a:b``, ``(a + b):c`` is ``a:c + b:c``, a term written twice
    is kept once (``b:a`` is ``a:b``), ``- a`` removes the term ``a``, and ``+ 0`` or ``- 1``
    drops the intercept (``+ 1`` keeps it). Each term is returned as its factors, in the order
    they first appear in the formula; the terms are ordered by their number of factors, then
    as written (R's ``lm`` names and orders its coefficients so). The response is returned as
    written, and cannot be a term.
    """
    response, right = _sides(formula)
    parser = _TermParser(formula, right, first=response)
    value = parser.sum()
    if parser.at < len(parser.tokens):
        parser.fail(f"{parser.tokens[parser.at]!r} was not expected there")
    terms = sorted(value.terms, key=len)  # stable: as written within a number of factors
    order = parser.order
    factors = [tuple(parser.text[k] for k in sorted(term, key=order.index)) for term in terms]
    if frozenset([_key(response)]) in terms:
        raise DataError(
            f"--formula {formula!r}: the response {split(formula)[0]} is also a term on the "
            "right-hand side, and cannot explain itself; remove it from the terms (R's lm "
            "drops it with a warning)"
        )
    dot = [f for f in factors if "." in f]
    if dot and dot != [(".",)]:
        raise DataError(f"--formula {formula!r}: '.' (every other column) is a term on its own")
    return response, factors, value.intercept is not False


def _key(text: str) -> str:
    """What a factor means, the same however it is written (``log( x )``, ``log(`x`)``,
    ``a b`` in backticks and the column ``a b``)."""
    try:
        expression = parse_expression(text)
    except DataError:
        return text
    body = expression.tree.body
    if isinstance(body, ast.Name):
        return expression.aliases.get(body.id, body.id)
    dump = ast.dump(body)
    for alias, name in expression.aliases.items():
        dump = dump.replace(repr(alias), repr(name))
    return dump


def column_key(name: str) -> str:
    """The key (:func:`_key`) of a term that is the column ``name``, whatever its name."""
    return _key(f"`{name}`") if "`" not in name else name


def term_key(term: str, columns: list[str]) -> str:
    """The key of a one-factor term: a column named as it is, or as written in the formula."""
    return column_key(term) if term in columns else _key(term)


@dataclass
class _Terms:
    """A part of a formula: its terms (each the set of its factors' keys) and what it says of
    the intercept (None: nothing)."""

    terms: list[frozenset[str]]
    intercept: bool | None = None


# R's formula operators; what is between them (names, numbers, calls with their arguments,
# names in backticks) is a factor.
_OPERATORS = "+-*:/^%()"
_NAME = re.compile(r"[A-Za-z_.][\w.]*$")


class _TermParser:
    """Recursive descent over ``right``: sum := [-] product ((+|-) product)*,
    product := interaction (* interaction)*, interaction := factor (: factor)*,
    factor := name | number | call | ( sum )."""

    def __init__(self, formula: str, right: str, first: str) -> None:
        self.formula = formula
        self.tokens = self._tokens(right)
        self.at = 0
        self.text: dict[str, str] = {}  # a factor's key -> as first written
        self.order: list[str] = [_key(first)]  # factors' keys by first appearance
        self.depth = 0  # parentheses open where the parser is

    def fail(self, why: str) -> NoReturn:
        raise DataError(f"--formula {self.formula!r}: {why}; {LINEAR_GRAMMAR}")

    def _tokens(self, right: str) -> list[str]:
        tokens, at = [], 0
        while at < len(right):
            char = right[at]
            if char.isspace():
                at += 1
                continue
            if char in _OPERATORS:
                if right.startswith("**", at) or char == "^":
                    self.fail("a power outside I() is R's crossing (x^2 is x); write I(x ** 2)")
                if char == "/":
                    self.fail("a / outside I() is R's nesting; write I(a / b) for the ratio")
                if char == "%":
                    self.fail("%in% is not supported")
                tokens.append(char)
                at += 1
                continue
            start = at
            while at < len(right) and not right[at].isspace() and right[at] not in _OPERATORS:
                if right[at] == "`":
                    end = right.find("`", at + 1)
                    if end < 0:
                        self.fail("a name in backticks is not closed")
                    at = end
                at += 1
            name_end = at
            while at < len(right) and right[at].isspace():
                at += 1
            if at < len(right) and right[at] == "(" and _NAME.match(right[start:name_end]):
                depth, quoted = 0, False
                while at < len(right):
                    quoted ^= right[at] == "`"
                    if not quoted:
                        depth += {"(": 1, ")": -1}.get(right[at], 0)
                    at += 1
                    if depth == 0:
                        break
                if depth:
                    self.fail(f"the parenthesis of {right[start:at].strip()} is not closed")
                tokens.append(right[start:at].strip())
            else:
                tokens.append(right[start:name_end])
                at = name_end
        return tokens

    def _next(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def sum(self) -> _Terms:
        value = _Terms([])
        sign = "+"
        if self._next() in ("+", "-"):
            sign = self.tokens[self.at]
            self.at += 1
        while True:
            part = self.product()
            value = self._add(value, part) if sign == "+" else self._remove(value, part)
            sign = self._next()  # type: ignore[assignment]
            if sign not in ("+", "-"):
                return value
            self.at += 1

    @staticmethod
    def _add(left: _Terms, right: _Terms) -> _Terms:
        terms = left.terms + [t for t in right.terms if t not in left.terms]
        intercept = right.intercept if right.intercept is not None else left.intercept
        return _Terms(terms, intercept)

    def _remove(self, left: _Terms, right: _Terms) -> _Terms:
        for term in right.terms:
            if term not in left.terms:
                dot = " (columns in '.' cannot be removed: name those to keep instead)" * any(
                    "." in t for t in left.terms
                )
                self.fail(f"'- {':'.join(self.text[k] for k in term)}' removes no term{dot}")
        intercept = left.intercept if right.intercept is None else not right.intercept
        return _Terms([t for t in left.terms if t not in right.terms], intercept)

    def product(self) -> _Terms:
        value = self.interaction()
        while self._next() == "*":
            self.at += 1
            right = self.interaction()
            value = self._add(self._add(value, right), self._cross(value, right, "*"))
        return value

    def interaction(self) -> _Terms:
        value = self.factor()
        while self._next() == ":":
            self.at += 1
            value = self._cross(value, self.factor(), ":")
        return value

    def _cross(self, left: _Terms, right: _Terms, op: str) -> _Terms:
        if left.intercept is not None or right.intercept is not None:
            self.fail(f"0 and 1 (the intercept) can be added or removed, not crossed with {op}")
        terms: list[frozenset[str]] = []
        for a in left.terms:
            for b in right.terms:
                if a | b not in terms:
                    terms.append(a | b)
            if len(terms) > MOST_TERMS:  # a*b*c*... of k columns has 2^k - 1 terms
                self.fail(
                    f"the formula crosses into more than {MOST_TERMS} terms; cross fewer "
                    "columns, or name the interactions wanted with ':'"
                )
        return _Terms(terms)

    def factor(self) -> _Terms:
        token = self._next()
        if token is None or token in ("+", "-", "*", ":", ")"):
            self.fail("a term is missing" + (f" before {token!r}" if token else " at the end"))
        self.at += 1
        if token == "(":
            if self.depth == MOST_NESTED:
                self.fail(f"the formula is nested too deeply (over {MOST_NESTED} parentheses)")
            self.depth += 1
            value = self.sum()
            self.depth -= 1
            if self._next() != ")":
                self.fail("a parenthesis is not closed")
            self.at += 1
            return value
        if token in ("0", "1"):
            return _Terms([], token == "1")
        if re.fullmatch(r"(\d+\.?\d*|\.\d+)(e[-+]?\d+)?", token):
            self.fail(f"the number {token} is not a term (only 0 and 1, the intercept)")
        key = _key(token)
        self.text.setdefault(key, token)
        if key not in self.order:
            self.order.append(key)
        return _Terms([frozenset([key])])


def linear_term(term: str) -> Expression:
    """A linear formula's term that is not a column name, as an expression of columns: a
    function of them (``log(x)``, ``sqrt(x + 1)``) or arithmetic inside ``I()``
    (``I(x ** 2)``, ``I(x1 * x2)``), as in R and statsmodels. Bare arithmetic is refused: R
    reads ``x1 * x2`` as both columns and their interaction, ``x ^ 2`` as a crossing."""
    expression = parse_expression(term)
    if not isinstance(expression.tree.body, (ast.Call, ast.Name)):
        raise DataError(
            f"--formula: the term {term!r} is arithmetic on columns, which R reads otherwise "
            f"(x1 * x2: both and their interaction); write I({term}) for the value itself, "
            "or add the column to the data"
        )
    return expression


def response_expression(text: str) -> Expression:
    """A linear formula's response that is not a column's name: a function of columns
    (``log(y)``) or arithmetic (``I(y / 10)``, or ``y / 10`` as R reads it); or, written in
    backticks or as a name, a column (:attr:`Expression.column`)."""
    return parse_expression(text)


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

    @property
    def column(self) -> str | None:
        """The column's name where the expression is one name, else None."""
        body = self.tree.body
        return self.aliases.get(body.id, body.id) if isinstance(body, ast.Name) else None


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
    # R's power (I(x^2), nls's a * x^b); Python reads ^ as XOR, with a lower precedence than
    # arithmetic (x^2 + 1 would be x XOR 3). ** binds as ^ does in R: above unary minus
    # (-x^2 is -(x^2)) and from the right (2^3^2 is 2^9).
    code = code.replace("^", "**")
    too_deep = (
        f"--formula: {text!r} is nested too deeply (over {MOST_NESTED} levels); add the value "
        "as a column of the data instead"
    )
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as exc:
        raise DataError(f"--formula: cannot parse {text!r} ({exc.msg})") from None
    except (RecursionError, MemoryError):  # Python's parser recurses once per level
        raise DataError(too_deep) from None
    if _depth(tree.body) > MOST_NESTED:  # ast.dump, ast.unparse and _evaluate recurse
        raise DataError(too_deep)
    names: list[str] = []
    # the names called as functions; any other name is a column or parameter, also one named
    # like a function (a column "log" in log(log), as R reads it)
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
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
            if id(node) not in called and name not in names:
                names.append(name)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
                raise DataError(f"--formula: {node.value!r} is not a number")
        elif not isinstance(
            node, (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Load, *BINARY, *UNARY)
        ):
            raise DataError(
                f"--formula: {ast.unparse(node) if isinstance(node, ast.expr) else text!r} is "
                "not understood; use numbers, names, + - * / ** (or ^), and the functions "
                f"{', '.join(FUNCTIONS)}"
            )
    return Expression(text, tree, tuple(names), aliases)


def _depth(node: ast.AST) -> int:
    """How deeply ``node`` nests (counted without recursing)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


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
