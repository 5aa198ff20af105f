"""Fairness: the success metric per group of each sensitive column, and the largest gap between groups."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..metrics import compute, get_metric

__all__ = ["fairness_by_group"]

#: Groups with fewer test rows than this are listed but left out of the gap: their metric is noise.
MIN_GROUP_ROWS = 20


def _groups(values: pd.Series) -> pd.Series:
    """Group labels: the values themselves, or quartiles for a numeric column with many values."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
        return pd.qcut(values, 4, duplicates="drop").astype(str)
    return values.astype(str).fillna("(missing)")


def fairness_by_group(sensitive: pd.DataFrame, y: np.ndarray, pred: np.ndarray, proba, task: str, metric: str,
                      n_classes: int | None = None) -> dict[str, Any]:
    """The success metric on the test rows of each group, per sensitive column, and the largest gap.

    For a binary task each group also gets its base rate (share of true positives) and selection
    rate (share predicted positive): a gap in selection rate is a demographic-parity gap.

    Examples
    --------
    >>> s = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40})
    >>> y = np.array([1, 0] * 40); pred = np.array([1, 0] * 20 + [0, 0] * 20)
    >>> out = fairness_by_group(s, y, pred, None, "binary_classification", "recall")
    >>> out["g"]["gap"], out["g"]["worst_group"]
    (1.0, 'b')
    """
    m = get_metric(metric)
    y, pred = np.asarray(y), np.asarray(pred)
    out: dict[str, Any] = {}
    for col in sensitive.columns:
        labels = _groups(sensitive[col]).to_numpy()
        rows: list[dict[str, Any]] = []
        for group in pd.unique(labels):
            mask = labels == group
            n = int(mask.sum())
            gp = None if proba is None else np.asarray(proba)[mask]
            value = float("nan")
            if n and (m.response == "predict" or gp is not None):
                try:
                    value = compute(metric, task, y[mask], y_pred=pred[mask], y_proba=gp, n_classes=n_classes)
                except ValueError:
                    pass
            row = {"group": str(group), "n": n, "value": value, "reliable": n >= MIN_GROUP_ROWS}
            if task == "binary_classification":
                row["base_rate"] = float(y[mask].mean())
                row["selection_rate"] = float(pred[mask].mean())
            rows.append(row)
        rows.sort(key=lambda r: r["group"])
        judged = [r for r in rows if r["reliable"] and np.isfinite(r["value"])]
        entry: dict[str, Any] = {"metric": metric, "groups": rows, "gap": None, "worst_group": None, "best_group": None}
        if len(judged) >= 2:
            ordered = sorted(judged, key=lambda r: r["value"], reverse=m.greater_is_better)
            entry.update(gap=float(abs(ordered[0]["value"] - ordered[-1]["value"])),
                         best_group=ordered[0]["group"], worst_group=ordered[-1]["group"])
            if task == "binary_classification":
                rates = [r["selection_rate"] for r in judged]
                entry["selection_rate_gap"] = float(max(rates) - min(rates))
        out[col] = entry
    return out
