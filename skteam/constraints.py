"""User constraints: linear inequalities with disjunctions, checked vectorised.

A constraint is a Python-like expression over column names, e.g.
``"priors_count >= juv_fel_count"``, ``"0 <= BMI <= 80"`` or
``"a + 2*b <= 10 or c == 1"``. Conditions combine with ``and``, ``or``,
``not`` and parentheses; sides of a comparison are linear expressions:
numbers, numeric columns, ``+``, ``-``, multiplication by a number and
division by a number.

Categorical columns enter through indicators: ``race == "Caucasian"`` is a
condition, and inside arithmetic it is a 0/1 term
(``2*(sex == "Male") + age >= 20``), as the dummy variables
``x_{l,j} = I[x_l = c_j]``. Names that are not Python identifiers use
backticks, as in :meth:`pandas.DataFrame.query`: ``"`days since` >= 0"``.

Constraints are parsed with :mod:`ast` and evaluated by walking an
allow-listed tree; user text is never passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .schema import Schema

__all__ = ["Constraint", "ConstraintSet", "parse_constraint"]

TOL = 1e-9
_PLACEHOLDER = "__skteam_col{}__"
_OPS = {ast.LtE: "<=", ast.Lt: "<", ast.GtE: ">=", ast.Gt: ">", ast.Eq: "==",
        ast.NotEq: "!="}
_OP_HINTS = {
    ast.In: "write one test per value, e.g. c == 'a' or c == 'b'",
    ast.NotIn: "write one test per value, e.g. c != 'a' and c != 'b'",
    ast.Is: "use == instead",
    ast.IsNot: "use != instead",
}


# -- linear expressions --------------------------------------------------------


class _Linear:
    """``const + sum(coef * term)``; a term is a numeric column or an indicator.

    Terms are ``("num", column)`` or ``("ind", column, category)``.
    """

    def __init__(self, const=0.0, terms=None):
        self.const = float(const)
        self.terms = dict(terms or {})

    @property
    def is_constant(self) -> bool:
        return not any(self.terms.values())

    def scale(self, k: float) -> _Linear:
        return _Linear(self.const * k, {t: c * k for t, c in self.terms.items()})

    def add(self, other: _Linear, sign: float = 1.0) -> _Linear:
        terms = dict(self.terms)
        for t, c in other.terms.items():
            terms[t] = terms.get(t, 0.0) + sign * c
        return _Linear(self.const + sign * other.const, terms)

    def evaluate(self, cols: _Columns) -> np.ndarray:
        out = np.full(cols.n_rows, self.const, dtype=float)
        for term, coef in self.terms.items():
            if coef == 0:
                continue
            if term[0] == "num":
                out = out + coef * cols.numeric(term[1])
            else:
                out = out + coef * cols.indicator(term[1], term[2])
        return out


class _Columns:
    """Column values of one frame, converted once per evaluation."""

    def __init__(self, X: pd.DataFrame):
        self.X = X
        self.n_rows = len(X)
        self._numeric = {}

    def numeric(self, name) -> np.ndarray:
        if name not in self._numeric:
            col = self.X[name]
            if (pd.api.types.is_numeric_dtype(col.dtype)
                    and not pd.api.types.is_complex_dtype(col.dtype)):
                values = col.to_numpy(dtype=float, na_value=np.nan)
            else:
                values = pd.to_numeric(col.astype(object), errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan)
            self._numeric[name] = values
        return self._numeric[name]

    def indicator(self, name, category) -> np.ndarray:
        values = self.X[name].to_numpy(dtype=object)
        return np.asarray(values == category, dtype=float)

    def valid(self, name, kind) -> np.ndarray:
        """Rows whose cell can be tested: a finite number, or a present category."""
        if kind == "numeric":
            return np.isfinite(self.numeric(name))
        return ~np.asarray(self.X[name].isna(), dtype=bool)


def _compare(a: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    """``a op b`` up to a relative tolerance (``==`` holds within it)."""
    d = a - b
    tol = TOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    if op == "<=":
        return d <= tol
    if op == "<":
        return d < -tol
    if op == ">=":
        return d >= -tol
    if op == ">":
        return d > tol
    if op == "==":
        return np.abs(d) <= tol
    return np.abs(d) > tol  # "!="


def _evaluate(node, cols: _Columns) -> np.ndarray:
    kind = node[0]
    if kind == "and":
        out = np.ones(cols.n_rows, dtype=bool)
        for part in node[1]:
            out &= _evaluate(part, cols)
        return out
    if kind == "or":
        out = np.zeros(cols.n_rows, dtype=bool)
        for part in node[1]:
            out |= _evaluate(part, cols)
        return out
    if kind == "not":
        return ~_evaluate(node[1], cols)
    if kind == "cmp":
        values = [e.evaluate(cols) for e in node[1]]
        out = np.ones(cols.n_rows, dtype=bool)
        for a, b, op in zip(values, values[1:], node[2]):
            out &= _compare(a, b, op)
        return out
    return np.full(cols.n_rows, bool(node[1]))  # "const"


# -- constraints ---------------------------------------------------------------


class Constraint:
    """One parsed constraint; build it with :func:`parse_constraint`.

    Attributes
    ----------
    text : str
        The constraint as written.
    columns : frozenset of str
        The columns it refers to.
    """

    def __init__(self, text: str, tree, column_kinds: dict, names=()):
        self.text = text
        self.columns = frozenset(column_kinds)
        self._tree = tree
        self._kinds = dict(column_kinds)
        self._names = list(names)

    def __repr__(self):
        return f"Constraint({self.text!r})"

    def evaluate(self, X) -> np.ndarray:
        """Which rows satisfy the constraint.

        Parameters
        ----------
        X : DataFrame
            Rows with (at least) the referenced columns; an array is read as
            the schema's columns in order.

        Returns
        -------
        mask : ndarray of bool of shape (n_rows,)
            True where the row satisfies the constraint. A row with a missing
            or non-numeric value in any referenced column is False.
        """
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(X, columns=self._names or None)
        missing = sorted(c for c in self.columns if c not in X.columns)
        if missing:
            raise ValueError(f"Constraint {self.text!r} refers to column(s) "
                             f"{missing}, which X lacks; X has {list(X.columns)}.")
        cols = _Columns(X)
        with np.errstate(invalid="ignore", over="ignore"):
            out = _evaluate(self._tree, cols)
            for name, kind in self._kinds.items():
                out &= cols.valid(name, kind)
        return out

    def interval(self, column: str, X, step: float):
        """The values of one numeric column that satisfy the constraint, per row.

        Applies to a comparison, or an ``and`` of comparisons, in which
        ``column`` enters as a number: given the other columns of a row,
        ``w * column + rest <= 0`` (or ``>=``, ``==``, strict forms) bounds
        ``column`` on one side. Comparisons without ``column`` are ignored
        (they test values already known); ``!=`` puts no interval bound.

        Parameters
        ----------
        column : str
            A numeric column of the constraint.
        X : DataFrame
            The other columns of the constraint, one row per generated row.
        step : float
            The grid of ``column``'s values (1 for integers, ``10**-decimals``
            otherwise): bounds are rounded inward onto it, and a strict bound
            excludes its grid value.

        Returns
        -------
        low, high : ndarray of float, or None
            Per-row closed bounds on the grid (``-inf``/``inf`` where the
            constraint sets none, e.g. for a row with a missing value);
            ``None`` if the constraint is not of that form for ``column``
            (an ``or``, a ``not``, ``column`` absent, or only in ``!=``).
        """
        if self._kinds.get(column) != "numeric":
            return None
        tree = self._tree
        parts = tree[1] if tree[0] == "and" else [tree]
        if any(p[0] != "cmp" for p in parts):
            return None
        cols = _Columns(X)
        low = np.full(cols.n_rows, -np.inf)
        high = np.full(cols.n_rows, np.inf)
        term = ("num", column)
        bounded = False
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for _, sides, ops in parts:
                for a, b, op in zip(sides, sides[1:], ops):
                    diff = a.add(b, -1.0)  # diff op 0
                    w = diff.terms.pop(term, 0.0)
                    if w == 0 or op == "!=":
                        continue
                    bounded = True
                    value = -diff.evaluate(cols) / w  # column op' value
                    if w < 0:
                        op = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}.get(op, op)
                    k = value / step
                    tol = TOL * np.maximum(1.0, np.abs(k))
                    if op in ("<=", "<", "=="):
                        top = (np.ceil(k - tol) - 1 if op == "<"
                               else np.floor(k + tol))
                        high = np.fmin(high, top * step)
                    if op in (">=", ">", "=="):
                        bottom = (np.floor(k + tol) + 1 if op == ">"
                                  else np.ceil(k - tol))
                        low = np.fmax(low, bottom * step)
        return (low, high) if bounded else None


def _replace_backticks(text: str):
    """Replace `quoted names` by identifiers; returns (source, placeholder -> name)."""
    out, names, i, quote = [], {}, 0, None
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                out.append(text[i:i + 2])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ValueError(f"Constraint {text!r} has an unmatched backtick; "
                                 "quote a column name as `my column`.")
            key = _PLACEHOLDER.format(len(names))
            names[key] = text[i + 1:end]
            out.append(key)
            i = end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), names


def _show_name(name: str) -> str:
    return name if name.isidentifier() else f"`{name}`"


class _Parser:
    """Walks the allow-listed AST of one constraint."""

    def __init__(self, text: str, schema: Schema, placeholders: dict):
        self.text = text
        self.schema = schema
        self.placeholders = placeholders
        self.kinds = {}  # referenced column -> kind

    def fail(self, why: str):
        raise ValueError(f"Constraint {self.text!r} {why}")

    def show(self, node) -> str:
        """Source of a node as the user wrote it (backticked names restored)."""
        text = ast.unparse(node)
        for key, name in self.placeholders.items():
            text = text.replace(key, f"`{name}`")
        return repr(text)

    def column(self, node: ast.Name):
        name = self.placeholders.get(node.id, node.id)
        if name not in self.schema:
            self.fail(f"refers to unknown column {name!r}; known columns: "
                      f"{self.schema.names}")
        spec = self.schema[name]
        self.kinds[name] = spec.kind
        return spec

    # conditions --------------------------------------------------------------
    def condition(self, node):
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return (kind, [self.condition(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ("not", self.condition(node.operand))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return ("const", node.value)
        if isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _OPS:
                    hint = _OP_HINTS.get(type(op), "use <, <=, >, >=, == or !=")
                    self.fail(f"uses the operator {type(op).__name__}, which is "
                              f"not allowed; {hint}")
            test = self.category_test(node)
            if test is not None:
                return ("cmp", [test, _Linear(1.0)], ["=="])
            exprs = [self.linear(n) for n in (node.left, *node.comparators)]
            return ("cmp", exprs, [_OPS[type(op)] for op in node.ops])
        self.fail(f"has {self.show(node)} where a condition is expected; write "
                  "comparisons such as 'a >= b' or 'c == \"x\"', combined with "
                  "'and' / 'or'")

    def category_test(self, node: ast.Compare):
        """``col == "value"`` / ``col != "value"`` as a 0/1 term, else None."""
        if len(node.ops) != 1:
            for operand in (node.left, *node.comparators):
                if self._categorical_name(operand):
                    self.fail("chains a comparison with a categorical column; "
                              "test categories one at a time, e.g. c == \"x\"")
            return None
        left, right = node.left, node.comparators[0]
        if self._categorical_name(right) and not self._categorical_name(left):
            left, right = right, left
        if not self._categorical_name(left):
            for side, other in ((left, right), (right, left)):
                if (isinstance(side, ast.Name) and isinstance(other, ast.Constant)
                        and isinstance(other.value, str)):
                    spec = self.column(side)
                    self.fail(f"compares the numeric column {spec.name!r} with the "
                              f"text {other.value!r}; compare it with a number")
            return None
        spec = self.column(left)
        example = f"{_show_name(spec.name)} == {spec.categories[0]!r}"
        if not isinstance(right, ast.Constant) or right.value is None:
            self.fail(f"compares the categorical column {spec.name!r} with "
                      f"{self.show(right)}; compare it with one of its categories, "
                      f"e.g. {example}")
        op = node.ops[0]
        if not isinstance(op, (ast.Eq, ast.NotEq)):
            self.fail(f"tests the categorical column {spec.name!r} with "
                      f"{_OPS[type(op)]}; categories have no order, use == or != "
                      f"(e.g. {example})")
        category = self._category(spec, right.value)
        term = _Linear(0.0, {("ind", spec.name, category): 1.0})
        return term if isinstance(op, ast.Eq) else _Linear(1.0).add(term, -1.0)

    def _categorical_name(self, node) -> bool:
        if not isinstance(node, ast.Name):
            return False
        name = self.placeholders.get(node.id, node.id)
        return name in self.schema and self.schema[name].kind == "categorical"

    def _category(self, spec, value):
        for category in spec.categories:
            same_kind = isinstance(category, bool) == isinstance(value, bool) and (
                isinstance(category, str) == isinstance(value, str))
            if (same_kind and category == value) or str(category) == str(value):
                return category
        self.fail(f"compares column {spec.name!r} with {value!r}, which is not one "
                  f"of its categories: {list(spec.categories)}")

    # linear expressions ------------------------------------------------------
    def linear(self, node) -> _Linear:
        if isinstance(node, ast.Constant):
            return self._number(node)
        if isinstance(node, ast.Name):
            spec = self.column(node)
            if spec.kind == "categorical":
                example = f"({_show_name(spec.name)} == {spec.categories[0]!r})"
                self.fail(f"uses the categorical column {spec.name!r} as a number; "
                          f"use a category test such as {example}, which counts "
                          "as 1 or 0")
            return _Linear(0.0, {("num", spec.name): 1.0})
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.linear(node.operand)
            return inner.scale(-1.0) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Compare):
            if len(node.ops) == 1 and type(node.ops[0]) in _OPS:
                test = self.category_test(node)
                if test is not None:
                    return test
            self.fail(f"uses the comparison {self.show(node)} as a number; only "
                      "category tests such as (c == \"x\") count as 1 or 0")
        self.fail(f"has {self.show(node)}, which is not allowed; sides of a "
                  "comparison may only use numbers, column names, + - * / and "
                  "parentheses")

    def _number(self, node: ast.Constant) -> _Linear:
        value = node.value
        if isinstance(value, str):
            hint = ""
            if value in self.schema:
                hint = (f"; to refer to the column write it without quotes, as "
                        f"{_show_name(value)}")
            self.fail(f"uses the text {value!r} where a number is expected{hint}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"uses {value!r} where a number is expected")
        if not math.isfinite(value):
            self.fail("uses a number too large to represent")
        return _Linear(value)

    def _sum(self, node: ast.BinOp) -> _Linear:
        """``t0 + t1 - t2 ...``, walked without recursion down the left spine."""
        parts = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            parts.append((1.0 if isinstance(node.op, ast.Add) else -1.0, node.right))
            node = node.left
        total = self.linear(node)
        for sign, term in reversed(parts):
            total = total.add(self.linear(term), sign)
        return total

    def _binop(self, node: ast.BinOp) -> _Linear:
        op = node.op
        if not isinstance(op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            self.fail(f"uses the operator {type(op).__name__} in {self.show(node)}; "
                      "only + - * / are allowed")
        if isinstance(op, (ast.Add, ast.Sub)):
            return self._sum(node)
        left, right = self.linear(node.left), self.linear(node.right)
        if isinstance(op, ast.Mult):
            if left.is_constant:
                return right.scale(left.const)
            if right.is_constant:
                return left.scale(right.const)
            self.fail(f"is not linear: {self.show(node)} multiplies two "
                      "expressions of columns; at least one factor must be a number")
        if not right.is_constant:
            self.fail(f"is not linear: {self.show(node)} divides by an expression "
                      "of columns; divide only by a number")
        if right.const == 0:
            self.fail(f"divides by zero in {self.show(node)}")
        return left.scale(1.0 / right.const)


def parse_constraint(text: str, schema: Schema) -> Constraint:
    """Parse one constraint string against a schema.

    Parameters
    ----------
    text : str
        The constraint, e.g. ``"0 <= BMI <= 80"``,
        ``"a + 2*b <= 10 or c == 1"`` or ``'2*(sex == "Male") + age >= 20'``.
    schema : Schema
        The columns the constraint may refer to.

    Returns
    -------
    constraint : Constraint

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        Quoting the constraint, for bad syntax, disallowed operations,
        unknown columns or categories, and non-linear expressions.

    Examples
    --------
    >>> import pandas as pd
    >>> from skteam.schema import Schema
    >>> from skteam.constraints import parse_constraint
    >>> X = pd.DataFrame({"age": [15, 30], "sex": ["M", "F"]})
    >>> c = parse_constraint('age >= 18 or sex == "F"', Schema.infer(X))
    >>> c.evaluate(X).tolist(), sorted(c.columns)
    ([False, True], ['age', 'sex'])
    """
    if not isinstance(text, str):
        raise TypeError(f"A constraint must be a string, e.g. 'a >= b'; got "
                        f"{type(text).__name__} {text!r}.")
    source, placeholders = _replace_backticks(text)
    parser = _Parser(text, schema, placeholders)
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError) as exc:
        why = getattr(exc, "msg", None) or str(exc)
        hint = ""
        if "=>" in source or "=<" in source:
            hint = " (comparisons are written >= and <=)"
        raise ValueError(f"Constraint {text!r} is not valid syntax ({why}){hint}; "
                         "write e.g. 'a + 2*b <= 10 or c == \"x\"'.") from None
    except RecursionError:
        raise ValueError(f"Constraint {text!r} is too deeply nested.") from None
    try:
        parsed = parser.condition(tree)
    except RecursionError:
        raise ValueError(f"Constraint {text!r} is too deeply nested.") from None
    if not parser.kinds:
        raise ValueError(f"Constraint {text!r} refers to no column; it would keep "
                         "every row or none.")
    return Constraint(text, parsed, parser.kinds, schema.names)


class ConstraintSet:
    """Several constraints, parsed at once and checked together.

    Parameters
    ----------
    constraints : iterable of str or None
        The constraints; a single string is one constraint. Each is parsed
        now, so the first bad one raises here.
    schema : Schema
        The columns the constraints may refer to.

    Attributes
    ----------
    constraints : tuple of Constraint

    Examples
    --------
    >>> import pandas as pd
    >>> from skteam.schema import Schema
    >>> from skteam.constraints import ConstraintSet
    >>> X = pd.DataFrame({"a": [1, 5], "b": [2, 2]})
    >>> ConstraintSet(["a <= b"], Schema.infer(X)).satisfied(X).tolist()
    [True, False]
    """

    def __init__(self, constraints: Iterable[str] | None, schema: Schema):
        if constraints is None:
            constraints = ()
        elif isinstance(constraints, str):
            constraints = (constraints,)
        elif not isinstance(constraints, Iterable):
            raise TypeError(f"constraints must be a list of strings or None; got "
                            f"{type(constraints).__name__}.")
        self.schema = schema
        self.constraints = tuple(parse_constraint(c, schema) for c in constraints)

    def __repr__(self):
        return f"ConstraintSet({[c.text for c in self.constraints]!r})"

    def __len__(self):
        return len(self.constraints)

    def __iter__(self):
        return iter(self.constraints)

    def evaluate(self, X) -> dict:
        """Constraint text -> boolean mask of the rows that satisfy it."""
        X = self._frame(X)
        return {c.text: c.evaluate(X) for c in self.constraints}

    def satisfied(self, X) -> np.ndarray:
        """Boolean mask of the rows that satisfy every constraint."""
        X = self._frame(X)
        out = np.ones(len(X), dtype=bool)
        for c in self.constraints:
            out &= c.evaluate(X)
        return out

    def _frame(self, X) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        return pd.DataFrame(X, columns=self.schema.names)
