"""Labels and the metric: conflicting labels, dropped targets, accuracy on imbalanced classes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._findings import Finding
from ._frame import row_keys

__all__ = ["check_conflicting_labels", "check_imbalanced_accuracy", "check_missing_target"]

#: When at least this share of training rows repeat within train, the feature space is small and the
#: same feature row with two classes is expected (reported as info).
SMALL_SPACE = 0.05
#: minority / majority below this is imbalanced.
IMBALANCE_RATIO = 0.2


def check_conflicting_labels(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str) -> list[Finding]:
    """Flag identical feature rows that carry different classes (label noise, or missing features).

    Regression targets vary between identical rows by nature; this check is for classification.
    """
    if task == "regression" or frame.empty:
        return []
    keys = row_keys(frame)
    labels = pd.Series(np.asarray(y), index=frame.index)
    per_key = labels.groupby(keys).nunique()
    conflicting = per_key[per_key > 1].index
    if not len(conflicting):
        return []
    n_rows = int(keys.isin(conflicting).sum())
    within = float(keys.duplicated().mean())
    small = within >= SMALL_SPACE  # few distinct feature rows: the same row with both labels is expected
    return [Finding(
        "conflicting_labels", "info" if small else "warning",
        f"{len(conflicting)} distinct feature rows ({n_rows} rows) appear with different labels: no model can "
        "get them all right" + (f" (expected: {within:.0%} of rows repeat, the features take few values)." if small else "."),
        {"n_groups": len(conflicting), "n_rows": n_rows, "share": round(n_rows / len(frame), 4),
         "duplicate_share": round(within, 4)},
        "Check how the label is recorded (noise or a data-entry error), or add the feature that tells these rows apart.",
    )]


def check_missing_target(n_missing: int, n_rows: int, target: str) -> list[Finding]:
    """Say how many rows were dropped because their target was missing (the workflow drops them)."""
    if not n_missing:
        return []
    share = n_missing / n_rows
    return [Finding(
        "missing_target", "warning" if share >= 0.05 else "info",
        f"{n_missing} rows ({share:.1%}) had no value for target '{target}' and were dropped before the split.",
        {"n_dropped": n_missing, "n_rows": n_rows, "share": round(share, 4)},
        "Nothing to do if those rows are unlabelled; if many are, ask why the outcome is missing — "
        "dropping them can bias the sample.",
    )]


def check_imbalanced_accuracy(y: pd.Series | np.ndarray, task: str, metric: str) -> list[Finding]:
    """Warn when the success metric is accuracy and the classes are imbalanced (minority/majority < 0.2).

    The message quotes the accuracy of always predicting the majority class.

    Examples
    --------
    >>> [f.evidence["majority_accuracy"] for f in check_imbalanced_accuracy([0] * 95 + [1] * 5, "binary_classification", "accuracy")]
    [0.95]
    """
    if task == "regression" or metric != "accuracy":
        return []
    counts = pd.Series(np.asarray(y)).value_counts()
    ratio = float(counts.min() / counts.max())
    if ratio >= IMBALANCE_RATIO:
        return []
    majority = float(counts.max() / counts.sum())
    suggest = "average_precision (or recall at a precision you need)" if task == "binary_classification" else "balanced_accuracy"
    return [Finding(
        "imbalanced_accuracy", "warning",
        f"The success metric is accuracy but the classes are imbalanced (minority/majority = {ratio:.2f}): "
        f"always predicting the majority class already scores {majority:.3f}.",
        {"minority_majority_ratio": round(ratio, 4), "majority_accuracy": round(majority, 4),
         "class_counts": {str(k): int(v) for k, v in counts.items()}},
        f"Set success_metric to {suggest}, or balanced_accuracy, and judge the model against that.",
    )]
