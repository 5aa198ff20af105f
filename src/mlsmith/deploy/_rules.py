"""The input rules of a bundle: what serving and batch scoring do with each kind of doubtful value.

One table (:data:`RULES`) and one reading of the schema (:func:`column_rules`) drive both paths:
``serve`` enforces them while validating JSON (:mod:`mlsmith.deploy._schema` builds its pydantic
types from :func:`column_rules`), and ``predict`` enforces them on each chunk of a file
(:class:`InputRules`). A rule either *refuses* the value (serve: 422 naming the field; batch: the
row gets no prediction and a ``reason``) or *changes* it and scores the row (both; batch counts
the rows changed).

=====================  ======  =============================================================
rule                   action  what
=====================  ======  =============================================================
missing_required       refuse  a missing value in a column that was never missing in training
not_a_number           refuse  a numeric column's value that is not a number
unseen_category        refuse  a category the training data did not hold (listed categories only)
invalid_date           refuse  a date column's value that is not a date (numbers are not dates)
infinite_as_missing    change  ``inf``/``-inf`` (or past float32) in a numeric column: missing, imputed
timezone_converted     change  a timestamp with a time zone: converted to UTC, the zone dropped
=====================  ======  =============================================================

Missing means empty or one of pandas' missing markers in a file (``NA``, ``NaN``, ``NULL``, ...),
``null`` or an absent key in JSON. ``inf`` is imputed rather than refused even in a column never
missing in training: training read it the same way (the pipeline's ``to_float``), and counted no
missing value for it. A file that lacks a feature column altogether is refused as a whole: a file
has a header, so a lacking column is a mistake, not an omitted value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._columns import FLOAT32_MAX, numbers_from_text, parse_dates
from ..data import Schema

__all__ = ["RULES", "ColumnRule", "InputRules", "RuleCheck", "column_rules"]

Action = Literal["refuse", "change"]

#: Every input rule: its action and what it means, in the order a row's reasons are listed.
RULES: dict[str, tuple[Action, str]] = {
    "missing_required": ("refuse", "missing, and never missing in training"),
    "not_a_number": ("refuse", "not a number"),
    "unseen_category": ("refuse", "a category unseen in training"),
    "invalid_date": ("refuse", "not a date"),
    "infinite_as_missing": ("change", "infinite: imputed as missing"),
    "timezone_converted": ("change", "time zone converted to UTC"),
}
#: A time zone after the time of a timestamp: 10:00Z, 10:00:00+02:00, 10:00:00.5-0530, 10:00 UTC.
_ZONE = re.compile(r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?|UTC|GMT)$")


@dataclass(frozen=True)
class ColumnRule:
    """What one feature column accepts: its kind, its categories (when the schema lists them all),
    and whether a missing value is refused."""

    name: str
    kind: str
    required: bool
    categories: tuple[str, ...] | None = None


def column_rules(schema: Schema) -> list[ColumnRule]:
    """The rule of each input column (id columns included: they are passed through, never refused).

    Categories are checked only when the schema lists every training category (it keeps 200).

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"age": [20.0, None, 40.0], "city": ["a", "b", "a"], "y": [0, 1, 0]})
    >>> [(r.name, r.kind, r.required, r.categories) for r in column_rules(infer_schema(df, "y"))]
    [('age', 'numeric', False, None), ('city', 'categorical', True, ('a', 'b'))]
    """
    rules = []
    for column in schema.columns:
        known = column.categories or []
        complete = bool(known) and len(known) >= column.n_unique
        categories = tuple(str(c) for c in known) if complete and column.role in (
            "categorical", "boolean") else None
        required = column.role != "id" and column.missing_frac == 0
        rules.append(ColumnRule(column.name, column.role, required, categories))
    return rules


@dataclass
class RuleCheck:
    """One chunk after the rules: the reason each refused row was refused (None for a scored row),
    and the rows each rule touched. The values a rule changes are changed by the pipeline itself,
    as in training (``to_float``, ``parse_dates``), so the rows to score are the input's rows."""

    reasons: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def scored(self) -> np.ndarray:
        """Whether each row is scored."""
        return np.array([r is None for r in self.reasons], dtype=bool)


def _known(s: pd.Series, categories: frozenset[str]) -> np.ndarray:
    """Whether each value is a training category (missing counts as known: another rule judges it).

    Values are compared as the text the schema writes categories in; a value unknown as written is
    tried in the other spelling a reader may give it (1 for 1.0 and back, "True" for True or "true")."""
    text = s if s.dtype.kind in "OT" or pd.api.types.is_string_dtype(s) else s.astype(str)
    known = text.isin(categories).to_numpy() | s.isna().to_numpy()
    if known.all():
        return known

    def alias(v: Any) -> str | None:
        if isinstance(v, (bool, np.bool_)):
            return str(bool(v))
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):  # pandas' booleans, as text
            return v.strip().capitalize()
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        if isinstance(v, (int, np.integer)):
            return str(float(v))
        return None

    unknown = np.flatnonzero(~known)  # few: those values alone are looked at one by one
    known[unknown] = s.iloc[unknown].map(alias).isin(categories).to_numpy()
    return known


def _as_numbers(s: pd.Series) -> pd.Series:
    """A numeric column as floats, read as the pipeline reads it (``to_float``): numbers stored as
    text, thousands separators, true/false and yes/no; what is not a number becomes NaN."""
    if s.dtype.kind in "iufb":
        return s.astype(float)
    return numbers_from_text(s.astype("object")).where(s.notna(), np.nan)


class InputRules:
    """The rules of :data:`RULES` applied to a table of input rows (one chunk of a file).

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> train = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"], "y": [0, 1, 0]})
    >>> check = InputRules(infer_schema(train, "y")).check(
    ...     pd.DataFrame({"x": [float("inf"), None, 2.0], "c": ["a", "a", "z"]}))
    >>> check.reasons.tolist()
    [None, 'x: missing, and never missing in training', "c: a category unseen in training ('z')"]
    >>> check.counts
    {'missing_required': 1, 'unseen_category': 1, 'infinite_as_missing': 1}
    """

    def __init__(self, schema: Schema):
        self.rules = [r for r in column_rules(schema) if r.kind != "id"]
        self._categories = {r.name: frozenset(r.categories) for r in self.rules if r.categories is not None}

    def check(self, frame: pd.DataFrame) -> RuleCheck:
        """Apply every rule to ``frame`` (which holds every feature column)."""
        n = len(frame)
        flags: dict[str, list[tuple[str, np.ndarray, pd.Series]]] = {rule: [] for rule in RULES}
        for rule in self.rules:
            s = frame[rule.name]
            missing = s.isna().to_numpy()
            if rule.kind == "numeric":
                numbers = _as_numbers(s)
                flags["not_a_number"].append((rule.name, numbers.isna().to_numpy() & ~missing, s))
                with np.errstate(invalid="ignore"):  # the float rule: past float32's range is infinite
                    infinite = np.abs(numbers.to_numpy(dtype=float, na_value=np.nan)) > FLOAT32_MAX
                flags["infinite_as_missing"].append((rule.name, infinite, s))
            elif rule.kind in ("categorical", "boolean") and rule.name in self._categories:
                flags["unseen_category"].append((rule.name, ~_known(s, self._categories[rule.name]), s))
            elif rule.kind == "datetime":
                invalid = parse_dates(s).isna().to_numpy() & ~missing
                if s.dtype.kind in "iuf":  # numbers are not dates (pandas would read them as epochs)
                    invalid = ~missing
                flags["invalid_date"].append((rule.name, invalid, s))
                flags["timezone_converted"].append((rule.name, _zoned(s), s))
            if rule.required:
                flags["missing_required"].append((rule.name, missing, s))
        reasons = np.full(n, None, dtype=object)
        counts: dict[str, int] = {}
        refused = np.zeros(n, dtype=bool)
        for name, hits in flags.items():
            rows = np.zeros(n, dtype=bool)
            for column, mask, values in hits:
                if not mask.any():
                    continue
                rows |= mask
                if RULES[name][0] == "refuse":
                    for i in np.flatnonzero(mask):
                        reasons[i] = _join(reasons[i], _reason(name, column, values.iloc[i]))
            if RULES[name][0] == "refuse":
                refused |= rows
            else:
                rows &= ~refused  # a refused row is not scored, so nothing of it was changed
            if rows.any():
                counts[name] = int(rows.sum())
        return RuleCheck(reasons, counts)


def _zoned(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.notna().to_numpy()
    if s.dtype.kind in "iufbM":
        return np.zeros(len(s), dtype=bool)
    text = s if pd.api.types.is_string_dtype(s) else s.astype(str)
    out = np.zeros(len(s), dtype=bool)
    timed = np.flatnonzero(text.str.len().fillna(0).to_numpy() > 13)  # a zone needs a time: "2024-01-01T10Z"
    if len(timed):
        out[timed] = text.iloc[timed].str.strip().str.contains(_ZONE, na=False).to_numpy(dtype=bool)
    return out


def _reason(rule: str, column: str, value: Any) -> str:
    text = f"{column}: {RULES[rule][1]}"
    return text if rule == "missing_required" else f"{text} ({str(value)[:40]!r})"


def _join(before: str | None, reason: str) -> str:
    return reason if before is None else f"{before}; {reason}"

