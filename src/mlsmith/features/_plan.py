"""The feature plan: which transforms run on which columns, and why — declared or suggested."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import yaml
from scipy.stats import skew

from .._columns import evenly_spaced
from ..data import Schema
from ..exceptions import DataError
from ..preprocess import HIGH_CARDINALITY
from ..problem import FeatureSpec, FeaturesSpec

__all__ = ["FeaturePlan", "plan_features", "suggest_plan"]

#: A numeric column with at least this skewness and no negative values gets a log transform.
SKEW_LOG = 1.0
#: Two non-negative columns with at least this Spearman correlation get a ratio (at most MAX_RATIOS).
RATIO_RHO = 0.9
MAX_RATIOS = 3
#: A categorical key with at least this many levels and rows per level is an entity to aggregate over.
ENTITY_LEVELS, ENTITY_ROWS = 10, 3
_NUMERIC_KINDS = ("log", "bin", "polynomial", "interaction", "ratio")
_DATE_KINDS = ("dates", "elapsed")


@dataclass
class FeaturePlan:
    """The transforms of stage 4, each with its column(s), kind, reason and whether it is pinned.

    A transform group is a kind (all ``log`` transforms, all ``ratio`` transforms, ...); the
    measured gain keeps or drops whole groups.

    Parameters
    ----------
    transforms : list of FeatureSpec
        The transforms, each with its kind, columns and reason.
    mode : {"auto", "declared", "none"}, default="auto"
        How the plan was made: suggested (plus declared), declared only, or none.
    notes : list of str
        What the plan left out and why.

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"spend": [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 144.0, 900.0],
    ...                    "y": [0, 1] * 6})
    >>> plan = plan_features(df, infer_schema(df, "y"))
    >>> [(t.kind, t.columns) for t in plan.transforms]
    [('log', ['spend'])]
    """

    transforms: list[FeatureSpec]
    mode: str = "auto"
    notes: list[str] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        """The transform groups (kinds) in plan order."""
        return list(dict.fromkeys(t.kind for t in self.transforms))

    def pinned(self, group: str) -> bool:
        return any(t.pinned for t in self.transforms if t.kind == group)

    def without(self, *groups: str) -> "FeaturePlan":
        """The plan minus the given groups."""
        return FeaturePlan([t for t in self.transforms if t.kind not in groups], self.mode, list(self.notes))

    def of_kind(self, kind: str) -> list[FeatureSpec]:
        return [t for t in self.transforms if t.kind == kind]

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "transforms": [_plain(t) for t in self.transforms], "notes": self.notes}

    def to_yaml(self) -> str:
        """The plan as the ``features:`` section of problem.yaml, ready to edit."""
        head = ("# The feature plan, as the 'features:' section of problem.yaml: edit, delete or add transforms.\n"
                "# 'pinned: true' keeps a transform even when the measured gain says it hurts.\n")
        body = yaml.safe_dump({"features": [_plain(t) for t in self.transforms]}, sort_keys=False,
                              default_flow_style=None, width=120)
        return head + body

    def _repr_html_(self) -> str:
        from ..report._features import plan_html

        return plan_html(self.to_dict())


def _plain(t: FeatureSpec) -> dict[str, Any]:
    out = {"kind": t.kind, "columns": list(t.columns), "pinned": t.pinned}
    out.update(t.model_dump(mode="json", exclude_defaults=True, exclude={"kind", "columns", "pinned"}))
    return out


def plan_features(train: pd.DataFrame, schema: Schema, spec: FeaturesSpec | None = None,
                  flagged: Iterable[str] = ()) -> FeaturePlan:
    """The feature plan for the training rows: suggested (``auto``), declared, or empty (``none``).

    Parameters
    ----------
    train : pandas.DataFrame
        The training split (never the test rows).
    schema : Schema
        The column roles.
    spec : FeaturesSpec, optional
        The problem's ``features:`` section (default: ``auto``).
    flagged : iterable of str, default=()
        Columns the leakage guards flagged; no suggested aggregate is keyed on them or averages
        them (a per-entity mean of a leak spreads it over every row of the entity).

    Returns
    -------
    FeaturePlan
        Every transform carries its reason; declared transforms are checked against the schema.

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> from mlsmith.problem import FeaturesSpec
    >>> df = pd.DataFrame({"spend": [1.0, 3.0, 8.0, 20.0, 55.0, 900.0] * 2, "y": [0, 1] * 6})
    >>> plan_features(df, infer_schema(df, "y"), FeaturesSpec(mode="none")).notes
    ['features: none — the raw columns only']
    """
    spec = spec or FeaturesSpec()
    if spec.mode == "none":
        return FeaturePlan([], "none", ["features: none — the raw columns only"])
    declared = [t if t.reason else t.model_copy(update={"reason": "declared in problem.yaml"}) for t in spec.transforms]
    for t in declared:
        _check(t, schema)
    if spec.mode == "declared":
        return FeaturePlan(declared, "declared")
    taken = {(t.kind, tuple(t.columns)) for t in declared}
    flagged = [c for c in dict.fromkeys(flagged) if c in schema.features()]
    suggested = [t for t in suggest(train, schema, spec.holidays_country, flagged)
                 if (t.kind, tuple(t.columns)) not in taken]
    notes = ["binning and polynomial terms are never suggested (tree models find thresholds and interactions "
             "themselves); declare them under features: to try them"]
    if flagged:
        notes.append("no aggregate is keyed on or computed from " + ", ".join(f"'{c}'" for c in flagged)
                     + ": the leakage guard flagged it")
    if schema.features("datetime") and not spec.holidays_country:
        notes.append("no holiday flag: set features: {holidays_country: US} (any ISO code) to add is_holiday")
    return FeaturePlan(suggested + declared, "auto", notes)


def suggest_plan(data: str | Path, target: str, holidays_country: str | None = None) -> FeaturePlan:
    """The ``auto`` plan for a data file, as ``mlsmith features DATA --target T`` writes it.

    The suggestions read the columns' roles and statistics, never the target's values.

    Parameters
    ----------
    data : str or pathlib.Path
        The data file.
    target : str
        The target column (never a feature).
    holidays_country : str, optional
        An ISO country code: date columns also get an ``is_holiday`` flag.

    Returns
    -------
    FeaturePlan
        The suggested transforms, each with its reason.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
    >>> pd.DataFrame({"day": ["2024-01-01", "2024-01-02"] * 10, "y": range(20)}).to_csv(path, index=False)
    >>> [t.kind for t in suggest_plan(path, "y").transforms]
    ['dates']
    """
    from ..data import _closest, infer_schema, read_table

    df = read_table(data)
    if target not in df.columns:
        raise DataError(f"target '{target}' is not a column of '{data}'.{_closest(target, df.columns)}")
    return plan_features(df, infer_schema(df, target), FeaturesSpec(holidays_country=holidays_country))


def suggest(train: pd.DataFrame, schema: Schema, country: str | None = None,
            flagged: Iterable[str] = ()) -> list[FeatureSpec]:
    """Transforms suggested by the schema and the training data's statistics, each with its reason.

    ``flagged`` columns (by the leakage guards) are neither an aggregate's key nor its values.
    """
    flagged = set(flagged)
    out: list[FeatureSpec] = []
    dates = schema.features("datetime")
    for name in dates:
        from ._dates import _has_time, _parse

        parts = "year, month, day, day of week, weekend" + (", hour" if _has_time(_parse(train[name])) else "")
        extra = f", {country} holidays" if country else ""
        out.append(FeatureSpec(kind="dates", columns=[name], country=country, reason=f"date column: {parts}{extra}"))
    for a, b in zip(dates, dates[1:]):
        out.append(FeatureSpec(kind="elapsed", columns=[a, b], reason=f"two date columns: the days from '{a}' to '{b}'"))
    numeric = {c: train[c] for c in schema.features("numeric") if pd.api.types.is_numeric_dtype(train[c])}
    for name, s in numeric.items():
        v = s.to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if len(np.unique(v)) > 10 and v.min() >= 0:
            g = float(skew(v))
            if g >= SKEW_LOG:
                out.append(FeatureSpec(kind="log", columns=[name], reason=(
                    f"skewness {g:.1f}, no negative values (min {v.min():g}): log1p evens out the long right tail")))
    out += _ratios(train, [c for c, s in numeric.items() if s.min() >= 0 and s.nunique() > 10])
    for name in schema.features("categorical"):
        n = schema[name].n_unique
        if n > HIGH_CARDINALITY:
            out.append(FeatureSpec(kind="target_encoding", columns=[name], reason=(
                f"{n} levels: a cross-fitted target encoding instead of {n} one-hot columns")))
        rows = train[name].notna().sum() / max(n, 1)
        values = sorted((c for c in numeric if c not in flagged), key=lambda c: -train[c].nunique())[:2]
        if n >= ENTITY_LEVELS and rows >= ENTITY_ROWS and values and name not in flagged:
            out.append(FeatureSpec(kind="aggregate", columns=values, by=name, stats=["mean", "count"], reason=(
                f"'{name}' is an entity key ({n} levels, {rows:.0f} rows each): per-{name} mean and count, "
                "learned within each fold")))
    return out


def _ratios(train: pd.DataFrame, columns: list[str]) -> list[FeatureSpec]:
    if len(columns) < 2:
        return []
    rho = evenly_spaced(train[columns], 5000).astype(float).corr(method="spearman").to_numpy()
    pairs = sorted(((abs(rho[i, j]), i, j) for i, j in combinations(range(len(columns)), 2)
                    if np.isfinite(rho[i, j]) and abs(rho[i, j]) >= RATIO_RHO), reverse=True)[:MAX_RATIOS]
    return [FeatureSpec(kind="ratio", columns=[columns[i], columns[j]], reason=(
        f"'{columns[i]}' and '{columns[j]}' move together (Spearman {r:.2f}): their ratio carries what they do not share"))
        for r, i, j in pairs]


def _check(t: FeatureSpec, schema: Schema) -> None:
    features = schema.features()
    for name in [*t.columns, *([t.by] if t.by else [])]:
        if name not in features:
            from ..data import _closest

            why = f" (it is the target or has role '{schema[name].role}')" if name in [c.name for c in schema.columns] else ""
            raise DataError(f"features: the '{t.kind}' transform names column '{name}', which is not a feature "
                            f"column{why}.{_closest(name, features)}")
    want: tuple[str, ...] = ("numeric", "boolean") if t.kind in _NUMERIC_KINDS else ("datetime",) if t.kind in _DATE_KINDS else \
        ("categorical",) if t.kind == "target_encoding" else ()
    for name in t.columns if want else []:
        role = schema[name].role
        if role not in want:
            raise DataError(f"features: a '{t.kind}' transform needs {' or '.join(want)} columns; '{name}' is {role}. "
                            f"Set data.roles: {{{name}: {want[0]}}} if that is wrong, or change the kind.")
