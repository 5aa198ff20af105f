"""Per-prediction explanations: how much each input column moved this row's score.

The contribution of column ``c`` to a row's score is ``f(row) - f(row with c set to its reference
value)``, where ``f`` is the positive-class probability (binary), the predicted class's
probability (multiclass) or the prediction (regression), and the reference is the training
median (numbers) or most frequent value (anything else), saved in the bundle. It is exact for
the model (no surrogate) and costs one extra prediction per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._columns import python_value

__all__ = ["explain_rows", "reference_row"]

PREFIX = "contribution_"



def reference_row(X: pd.DataFrame) -> dict[str, Any]:
    """The reference value of each column: median of a numeric column, most frequent value otherwise.

    Examples
    --------
    >>> reference_row(pd.DataFrame({"a": [1.0, 2.0, 9.0], "b": ["x", "y", "y"]}))
    {'a': 2.0, 'b': 'y'}
    """
    out: dict[str, Any] = {}
    for col in X.columns:
        s = X[col].dropna()
        if s.empty:
            out[col] = None
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[col] = float(s.median())
        else:
            out[col] = python_value(s.mode().iloc[0])
    return out


def _response(pipeline, X: pd.DataFrame, task: str, classes_idx: np.ndarray | None = None) -> np.ndarray:
    if task == "regression":
        return np.asarray(pipeline.predict(X), dtype=float)
    proba = pipeline.predict_proba(X)
    if task == "binary_classification":
        return proba[:, 1]
    return proba[np.arange(len(X)), classes_idx]


def explain_rows(pipeline, X: pd.DataFrame, reference: dict[str, Any], task: str, top: int = 3) -> pd.DataFrame:
    """One ``contribution_<column>`` per input column for each row, and ``top_reasons``: the largest, as text.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [0.0, 0.0, 1.0]})
    >>> model = LinearRegression().fit(X, 2 * X["a"] + 3 * X["b"])
    >>> out = explain_rows(model, X.iloc[[2]], {"a": 1.0, "b": 0.0}, "regression")
    >>> round(out["contribution_a"].item(), 6), round(out["contribution_b"].item(), 6), out["top_reasons"].item()
    (2.0, 3.0, 'b=1.0 (+3), a=2.0 (+2)')
    """
    X = X.reset_index(drop=True)
    idx = None
    if task == "multiclass_classification":
        idx = pipeline.predict_proba(X).argmax(axis=1)
    base = _response(pipeline, X, task, idx)
    cols = list(X.columns)
    # One batch: every row repeated once per column, that column set to its reference.
    frames = []
    for col in cols:
        frame = X.copy()
        frame[col] = reference.get(col)
        frames.append(frame)
    swapped = pd.concat(frames, ignore_index=True)
    moved = _response(pipeline, swapped, task, None if idx is None else np.tile(idx, len(cols)))
    contrib = base[None, :] - moved.reshape(len(cols), len(X))
    out = pd.DataFrame(contrib.T, columns=[PREFIX + c for c in cols])
    reasons = []
    for i in range(len(X)):
        order = np.argsort(-np.abs(contrib[:, i]))[:top]
        reasons.append(", ".join(f"{cols[j]}={X.iloc[i, j]} ({contrib[j, i]:+.3g})" for j in order
                                 if contrib[j, i] != 0))
    out["top_reasons"] = reasons
    return out
