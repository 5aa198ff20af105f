"""The baseline rule's expression language: data, not code.

A rule such as ``tenure_months < 3 and plan in ['basic', 'trial']`` is parsed with :mod:`ast` and
checked against a whitelist before anything is evaluated: column names (backquoted when they hold
spaces or other characters, ```worst radius` > 16.8``), numbers, strings, ``True``/``False``/``None``,
comparisons (``< <= > >= == !=``, ``in`` / ``not in`` a list), ``and``/``or``/``not`` (and
``& | ~``), arithmetic (``+ - * / // % **``) and ``isna(column)`` / ``notna(column)``. Attributes,
other calls, subscripts, ``@`` names and everything else are refused, so a spec cannot run code
(pandas ``eval`` resolves ``@pd.io.common.os.system('id')``; this does not).
"""

from __future__ import annotations

import ast
import operator
import re
from difflib import get_close_matches
from typing import Any

import pandas as pd

__all__ = ["RuleError", "evaluate_rule", "parse_rule"]

#: Longer rules are refused: a rule is a rule of thumb, not a program.
MAX_LENGTH = 1000
_BACKQUOTED = re.compile(r"`([^`]*)`")
_PLACEHOLDER = "__column_{}__"
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_LOGIC = {ast.And: operator.and_, ast.Or: operator.or_, ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_FUNCTIONS = {"isna": pd.isna, "notna": pd.notna}


class RuleError(ValueError):
    """A rule outside the language; the message says what was found and what is allowed."""


class Rule:
    """A parsed, checked rule: its syntax tree and the columns it reads."""

    def __init__(self, text: str, tree: ast.Expression, names: dict[str, str]):
        self.text = text
        self.tree = tree
        self._names = names

    def column(self, identifier: str) -> str:
        return self._names.get(identifier, identifier)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys(self.column(n.id) for n in ast.walk(self.tree)
                                  if isinstance(n, ast.Name) and n.id not in _FUNCTIONS))


def parse_rule(text: str) -> Rule:
    """Parse and check a rule; :class:`RuleError` for anything outside the language.

    Examples
    --------
    >>> parse_rule("`worst radius` > 16.8 and not isna(age)").columns
    ['worst radius', 'age']
    >>> parse_rule("@pd.io.common.os.system('id')")
    Traceback (most recent call last):
    ...
    mlsmith._rule.RuleError: it is not an expression of the rule language (invalid syntax at character 1); ...
    >>> parse_rule("income.__class__")
    Traceback (most recent call last):
    ...
    mlsmith._rule.RuleError: attribute access ('.') is not allowed; ...
    """
    if len(text) > MAX_LENGTH:
        raise RuleError(f"it is {len(text)} characters long, more than {MAX_LENGTH}; write a short rule of thumb")
    names: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        name = _PLACEHOLDER.format(len(names))
        names[name] = match.group(1)
        return name

    source = _BACKQUOTED.sub(placeholder, text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise RuleError(f"it is not an expression of the rule language ({exc.msg} at character {exc.offset or 0}); "
                        f"{_ALLOWED}") from None
    for node in ast.walk(tree):
        _check(node)
    return Rule(text, tree, names)


_ALLOWED = ("a rule may use column names (`in backquotes` when they hold spaces), numbers, strings, comparisons, "
            "and/or/not, arithmetic, 'in [...]' and isna(column)/notna(column), e.g. 'tenure_months < 3'")


def _check(node: ast.AST) -> None:
    if isinstance(node, (ast.Expression, ast.Load, ast.BoolOp, ast.UnaryOp, ast.Compare, ast.Name)):
        return
    if type(node) in _COMPARE or type(node) in _ARITHMETIC or type(node) in _LOGIC:
        return
    if isinstance(node, (ast.And, ast.Or, ast.Not, ast.Invert, ast.USub, ast.UAdd, ast.In, ast.NotIn)):
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC and type(node.op) not in _LOGIC:
            raise RuleError(f"the operator {type(node.op).__name__} is not allowed; {_ALLOWED}")
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, bool, type(None))):
            raise RuleError(f"the literal {node.value!r} is not allowed; {_ALLOWED}")
        return
    if isinstance(node, (ast.List, ast.Tuple)):
        if not all(isinstance(e, ast.Constant) or (isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant))
                   for e in node.elts):
            raise RuleError(f"a list may hold only literals, e.g. \"plan in ['basic', 'trial']\"; {_ALLOWED}")
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not (isinstance(func, ast.Name) and func.id in _FUNCTIONS):
            shown = func.id if isinstance(func, ast.Name) else ast.unparse(func)[:40]
            raise RuleError(f"calling '{shown}' is not allowed (only isna(column) and notna(column)); {_ALLOWED}")
        if node.keywords or len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
            raise RuleError(f"{func.id}() takes one column name, e.g. '{func.id}(age)'; {_ALLOWED}")
        return
    what = {ast.Attribute: "attribute access ('.')", ast.Subscript: "subscripts ('[...]')",
            ast.Lambda: "lambda", ast.IfExp: "'if ... else'", ast.NamedExpr: "assignment (':=')"}
    raise RuleError(f"{what.get(type(node), type(node).__name__)} is not allowed; {_ALLOWED}")


def evaluate_rule(rule: Rule | str, frame: pd.DataFrame) -> Any:
    """The rule's value on each row of ``frame``: a Series (or a scalar when it reads no column).

    Raises :class:`RuleError` when it names a column the frame lacks or cannot be computed.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [20, None, 70], "plan": ["a", "b", "a"]})
    >>> evaluate_rule("age > 30 or isna(age)", df).tolist()
    [False, True, True]
    >>> evaluate_rule("plan in ['a'] and not age < 30", df).tolist()
    [False, False, True]
    """
    rule = parse_rule(rule) if isinstance(rule, str) else rule
    missing = [c for c in rule.columns if c not in frame.columns]
    if missing:
        close = get_close_matches(missing[0], [str(c) for c in frame.columns], n=1)
        hint = (f"did you mean '{close[0]}'?" if close else "the columns are "
                f"{', '.join(map(str, frame.columns[:20]))}{' ...' if len(frame.columns) > 20 else ''}")
        raise RuleError(f"column '{missing[0]}' is not in the data; {hint}")
    try:
        return _value(rule.tree.body, rule, frame)
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise RuleError(f"it cannot be computed on the data: {str(exc).splitlines()[0][:200]}") from None


def _value(node: ast.AST, rule: Rule, frame: pd.DataFrame) -> Any:
    if isinstance(node, ast.Constant):
        # numbers as floats: a power of literals (9 ** 9 ** 9) overflows at once instead of computing for hours
        return float(node.value) if isinstance(node.value, int) and not isinstance(node.value, bool) else node.value
    if isinstance(node, ast.Name):
        return frame[rule.column(node.id)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e, rule, frame) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # _check allows named functions only
        return _FUNCTIONS[node.func.id](_value(node.args[0], rule, frame))
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, rule, frame)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            return ~_as_bool(operand) if isinstance(operand, pd.Series) else not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):
        values = [_as_bool(_value(v, rule, frame)) for v in node.values]
        out = values[0]
        for value in values[1:]:
            out = _LOGIC[type(node.op)](out, value)
        return out
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left, rule, frame), _value(node.right, rule, frame)
        if type(node.op) in _LOGIC:
            return _LOGIC[type(node.op)](_as_bool(left), _as_bool(right))
        if isinstance(left, str) or isinstance(right, str):
            raise TypeError("arithmetic on a string literal")
        return _ARITHMETIC[type(node.op)](left, right)
    # Compare: a < b < c is (a < b) and (b < c), as in Python and pandas
    assert isinstance(node, ast.Compare), f"_check lets no {type(node).__name__} through"
    left, out = _value(node.left, rule, frame), True
    for op, right_node in zip(node.ops, node.comparators):
        right = _value(right_node, rule, frame)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, list):
                raise TypeError("'in' takes a list of values, e.g. \"plan in ['basic', 'trial']\"")
            result = left.isin(right) if isinstance(left, pd.Series) else left in right
            result = ~result if isinstance(op, ast.NotIn) and isinstance(result, pd.Series) else (
                (not result) if isinstance(op, ast.NotIn) else result)
        else:
            result = _COMPARE[type(op)](left, right)
        out = result if out is True else out & result
        left = right
    return out


def _as_bool(value: Any) -> Any:
    """Truth values, missing as False (a comparison with a missing value is False too)."""
    if not isinstance(value, pd.Series):
        return bool(value)
    if value.dtype == bool:
        return value
    values = value.to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = False
    return pd.Series(values.astype(bool), index=value.index)
