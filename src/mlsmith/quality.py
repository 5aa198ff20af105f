"""Stage 2: the data quality report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["QualityReport", "assess_quality"]


@dataclass
class QualityReport:
    """Shape, missing values, duplicates, dtypes, numeric summary, cardinality and the target."""

    n_rows: int
    n_columns: int
    memory_mb: float
    missing: dict[str, dict[str, float]]
    n_duplicates: int
    duplicate_pct: float
    dtypes: dict[str, int]
    numeric_summary: dict[str, dict[str, float]]
    cardinality: dict[str, dict[str, Any]]
    target: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def assess_quality(df: pd.DataFrame, target: str | None = None) -> QualityReport:
    """Compute the data quality report of a table.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, None, 2.0], "y": [0, 1, 0]})
    >>> r = assess_quality(df, target="y")
    >>> r.missing["a"], r.n_duplicates
    ({'count': 1, 'pct': 33.33}, 0)
    """
    n = len(df)
    missing_counts = df.isna().sum()
    missing = {c: {"count": int(v), "pct": round(float(v) / n * 100, 2) if n else 0.0}
               for c, v in missing_counts.items() if v > 0}
    n_dup = int(df.duplicated().sum())
    dtypes = {str(k): int(v) for k, v in df.dtypes.astype(str).value_counts().items()}
    numeric = df.select_dtypes(include=[np.number])
    summary = {c: {k: float(v) for k, v in numeric[c].describe().items()} for c in numeric.columns}
    cardinality = {}
    for c in df.columns:
        if c in numeric.columns:
            continue
        n_unique = int(df[c].nunique())
        entry: dict[str, Any] = {"n_unique": n_unique}
        if n_unique <= 10:
            entry["values"] = {str(k): int(v) for k, v in df[c].value_counts().items()}
        cardinality[c] = entry
    warnings = []
    target_info = None
    if target is not None and target in df.columns:
        dist = df[target].value_counts(normalize=True)
        target_info = {"distribution": {str(k): float(v) for k, v in dist.items()}}
        if 2 <= len(dist) <= 50 and not pd.api.types.is_float_dtype(df[target]):
            ratio = float(dist.min() / dist.max())
            target_info["minority_majority_ratio"] = ratio
            if ratio < 0.2:
                warnings.append(f"target '{target}' is imbalanced: minority/majority = {ratio:.2f} (< 0.2)")
    return QualityReport(n, df.shape[1], float(df.memory_usage(deep=True).sum() / 2**20), missing, n_dup,
                         round(n_dup / n * 100, 2) if n else 0.0, dtypes, summary, cardinality, target_info, warnings)
