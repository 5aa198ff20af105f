"""Reference statistics, computed at training time and stored in the bundle as ``reference.json``.

They summarise the training rows per feature (an ECDF at interpolated quantiles, or the histogram of
a column with few levels, and decile bins for numeric columns,
category counts for categorical ones, missing counts, ranges), the model's predictions on the test
split, and the test metric with its bootstrap standard error, so that monitoring never needs the
training data itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._bootstrap import bootstrap_se
from ..deploy._bundle import REFERENCE_FILE
from ..evaluation import metric_on_resamples, model_outputs
from ..exceptions import BundleError
from ..metrics import get_metric
from ._stats import GRID_SIZE

__all__ = ["REFERENCE_FILE", "build_reference", "load_reference", "test_reference"]

REFERENCE_VERSION = 1
#: Categories kept per column; the rest are counted together as 'other'.
MAX_CATEGORIES = 1000
#: Numeric columns with at most this many distinct values are stored as a histogram of those values.
LEVELS_LIMIT = 20
#: Otherwise, quantiles: at most one per this many training rows (and at most GRID_SIZE).
ROWS_PER_POINT = 5
#: Roles whose drift is tested, and how.
DRIFT_ROLES = {"numeric": "numeric", "categorical": "categorical", "boolean": "categorical"}


def category_strings(s: pd.Series) -> pd.Series:
    """Values as strings, the same way on both sides: 3.0 and 3 both read '3'; missing stays missing."""
    if isinstance(s.dtype, pd.StringDtype):
        return s
    if pd.api.types.is_float_dtype(s):
        finite = s.dropna()
        if len(finite) and np.all(np.mod(finite.to_numpy(dtype=float), 1) == 0):
            s = s.astype("Int64")
    return s.astype(str).where(s.notna())


def numeric_values(s: pd.Series) -> tuple[np.ndarray, int]:
    """Float values (NaN for missing or non-finite) and how many present values were not numbers."""
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(float)
    if pd.api.types.is_numeric_dtype(s):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        invalid = 0
    else:
        text = s.astype(str).where(s.notna())
        parsed = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
        values = parsed.to_numpy(dtype=float, na_value=np.nan)
        invalid = int((s.notna() & parsed.isna()).sum())
    values = np.where(np.isfinite(values), values, np.nan)
    return values, invalid


def numeric_reference(values: np.ndarray) -> dict[str, Any]:
    """ECDF grid (``points``, ``cum``: count <= point) and decile bins (``edges``: indices into points)."""
    missing = np.isnan(values)
    v = np.sort(values[~missing])
    n = len(v)
    out: dict[str, Any] = {"kind": "numeric", "n": n, "n_missing": int(missing.sum())}
    if n == 0:
        return {**out, "exact": True, "points": [], "cum": [], "edges": [], "min": None, "max": None}
    run_ends = np.r_[np.flatnonzero(np.diff(v)), n - 1]
    exact = len(run_ends) <= LEVELS_LIMIT
    if exact:  # a few levels (counts, ratings, codes): their histogram, as for a category
        points = v[run_ends]
    else:
        # Interpolated quantiles, each summarising at least ROWS_PER_POINT rows: the bundle holds the
        # distribution's shape, not the training values themselves (before, up to 2,000 of them).
        size = int(min(GRID_SIZE, max(10, n // ROWS_PER_POINT)))
        points = np.unique(np.quantile(v, np.linspace(0, 1, size + 1)))
    cum = np.searchsorted(v, points, side="right")
    deciles = np.searchsorted(cum / n, np.arange(1, 10) / 10, side="left")
    edges = sorted({int(i) for i in deciles if i < len(points) - 1})
    return {**out, "exact": bool(exact), "points": points.tolist(), "cum": cum.tolist(), "edges": edges,
            "min": float(v[0]), "max": float(v[-1])}


def categorical_reference(strings: pd.Series) -> dict[str, Any]:
    """Category counts (the most frequent :data:`MAX_CATEGORIES`; the rest as ``other``)."""
    counts = strings.dropna().value_counts()
    top = counts.iloc[:MAX_CATEGORIES]
    return {"kind": "categorical", "n": int(counts.sum()), "n_missing": int(strings.isna().sum()),
            "categories": [str(c) for c in top.index], "counts": [int(c) for c in top.to_numpy()],
            "other": int(counts.iloc[MAX_CATEGORIES:].sum())}


def column_reference(s: pd.Series, role: str) -> dict[str, Any]:
    kind = DRIFT_ROLES.get(role)
    if kind == "numeric":
        values, invalid = numeric_values(s)
        return {"role": role, **numeric_reference(values), "n_invalid": invalid}
    if kind == "categorical":
        return {"role": role, **categorical_reference(category_strings(s))}
    return {"role": role, "kind": "untested", "n": int(s.notna().sum()), "n_missing": int(s.isna().sum())}


def prediction_summary(task: str, pred: np.ndarray, proba: np.ndarray | None, classes: list[Any]) -> pd.Series:
    """What prediction drift compares: the score (binary), the value (regression) or the predicted class."""
    if task == "binary_classification":
        return pd.Series(proba, dtype=float)
    if task == "regression":
        return pd.Series(pred, dtype=float)
    return pd.Series(np.asarray([str(c) for c in classes], dtype=object)[pred])


def test_reference(pipeline, X_test: pd.DataFrame, y_test: np.ndarray, task: str, metric: str,
                   decision_threshold: float | None, threshold: float | None, classes: list[Any],
                   *, seed: int) -> dict[str, Any]:
    """The model's side of the reference, from the held-out test rows: predictions and performance.

    Parameters
    ----------
    pipeline
        The fitted final pipeline.
    X_test, y_test
        The held-out test rows and their encoded target.
    task, metric
        The task type and the success metric.
    decision_threshold
        A binary classifier's decision threshold (None otherwise).
    threshold
        The success criterion on the metric, if any.
    classes
        The class values in code order (empty for regression).
    seed
        The spec's seed: the bootstrap's (the standard error of the test metric), recorded in the
        reference for monitoring's bootstrap of the current metric (see :func:`~mlsmith.monitor.monitor`).
    """
    pred, proba = model_outputs(pipeline, X_test, task, decision_threshold)
    summary = prediction_summary(task, pred, proba, classes)
    prediction = column_reference(summary, "categorical" if task == "multiclass_classification" else "numeric")
    score = metric_on_resamples(metric, task, y_test, pred, proba, len(classes) or None)
    performance = {
        "metric": metric, "greater_is_better": get_metric(metric).greater_is_better,
        "value": float(score(np.arange(len(y_test))[None])[0]), "se": bootstrap_se(score, len(y_test), seed=seed),
        "n": int(len(y_test)), "threshold": threshold, "source": "test split",
    }
    return {"task": task, "seed": seed,
            "prediction": {"source": "test split", "what": _prediction_what(task), **prediction},
            "performance": performance}


def build_reference(train: pd.DataFrame, schema, on_test: dict[str, Any]) -> dict[str, Any]:
    """Reference statistics of a trained model, to be stored in its bundle as ``reference.json``.

    Parameters
    ----------
    train
        The training rows (each feature is summarised by its role in ``schema``).
    schema
        The input :class:`~mlsmith.data.Schema`.
    on_test
        :func:`test_reference` of the final model.

    Returns
    -------
    dict
        JSON-able: ``features`` (per column), ``prediction``, ``performance`` and the ``seed`` of
        ``on_test``.

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 2.0, None], "c": ["a", "b", "a", "a"], "y": [0, 1, 0, 1]})
    >>> ref = build_reference(df, infer_schema(df, "y"), {"task": "binary_classification"})
    >>> ref["features"]["x"]["points"], ref["features"]["x"]["cum"], ref["features"]["c"]["counts"]
    ([1.0, 2.0], [1, 3], [3, 1])
    """
    features = {c.name: column_reference(train[c.name], c.role) for c in schema.columns if c.role != "id"}
    return {"version": REFERENCE_VERSION, "n_rows": int(len(train)), "features": features, **on_test}


def _prediction_what(task: str) -> str:
    return {"binary_classification": "positive-class probability", "regression": "predicted value",
            "multiclass_classification": "predicted class"}[task]


def load_reference(bundle_path: str | Path) -> dict[str, Any]:
    """Read ``reference.json`` from a bundle folder."""
    path = Path(bundle_path) / REFERENCE_FILE
    if not path.is_file():
        raise BundleError(
            f"model bundle '{bundle_path}' has no {REFERENCE_FILE} (it predates monitoring); re-create it "
            "with 'mlsmith run' to monitor it."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"model bundle '{bundle_path}': {REFERENCE_FILE} is not valid JSON ({str(exc)[:200]}); "
                          "re-create the bundle with 'mlsmith run'.") from None
