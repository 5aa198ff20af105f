"""Constraints checked by measurement: single-row latency, and explanations for ``interpretability: high``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_integer_dtype
from sklearn.inspection import partial_dependence, permutation_importance

from .._columns import as_time
from ..metrics import get_metric, scorer

__all__ = ["global_explanations"]

def _importance_metric(task: str, metric: str) -> str:
    """A metric permutation importance can use: a threshold-dependent one would score at 0.5, not at
    the chosen threshold, so a classifier is then scored by a threshold-free metric instead."""
    if task == "binary_classification" and get_metric(metric).threshold_dependent:
        return "average_precision"
    return metric


def _coefficients(pipeline, task: str, top: int = 15) -> list[dict[str, Any]] | None:
    model = pipeline[-1]
    coef = getattr(model, "coef_", None)
    if coef is None or task == "multiclass_classification":
        return None
    try:
        names = pipeline[:-1].get_feature_names_out()
    except (AttributeError, ValueError):
        return None
    coef = np.ravel(coef)
    if len(coef) != len(names):
        return None
    order = np.argsort(-np.abs(coef))[:top]
    return [{"feature": str(names[i]), "coefficient": float(coef[i])} for i in order]


def _date_dependence(pipeline, background: pd.DataFrame, col: str, dates: pd.Series, task: str,
                     n_points: int = 20) -> tuple[list[str], np.ndarray]:
    """Partial dependence on a date column: its value set to each of ``n_points`` quantile dates in
    turn (written as the column writes dates: ISO text, or datetimes), predictions averaged.

    scikit-learn would take a column of date text for a categorical one, with a bar per distinct date.
    """
    known = dates.dropna()
    step = "D" if (known == known.dt.normalize()).all() else "s"  # dates stay dates
    grid = pd.DatetimeIndex(known.quantile(np.linspace(0, 1, n_points))).round(step).unique().tz_localize(None)
    values = list(grid)
    if not pd.api.types.is_datetime64_any_dtype(background[col]):  # date text: written as ISO text
        values = [g.strftime("%Y-%m-%d") if step == "D" else g.isoformat() for g in grid]
    average = []
    for value in values:
        frame = background.assign(**{col: value})
        out = pipeline.predict_proba(frame) if task != "regression" else pipeline.predict(frame)
        average.append(out.mean(axis=0))
    curve = np.asarray(average)
    # partial_dependence's layout: (outputs, grid points)
    return [g.isoformat() for g in grid], curve.T if curve.ndim == 2 else curve[np.newaxis, :]


def global_explanations(pipeline, X_train: pd.DataFrame, X_test: pd.DataFrame, y_test: np.ndarray, task: str,
                        metric: str, n_classes: int | None = None, *, seed: int, top_k: int = 3,
                        n_repeats: int = 5, max_rows: int = 2000) -> dict[str, Any]:
    """What the model relies on: coefficients of a linear model, permutation importance of each input
    column on the test rows, and partial dependence of the ``top_k`` most important columns.

    Partial dependence is averaged over (a sample of) the training rows: it describes the model,
    not its accuracy. Permutation importance is the drop in the score when a column is shuffled.
    """
    rng = np.random.default_rng(seed)
    if len(X_test) > max_rows:
        keep = np.sort(rng.choice(len(X_test), max_rows, replace=False))
        X_test, y_test = X_test.iloc[keep], np.asarray(y_test)[keep]
    imp_metric = _importance_metric(task, metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        imp = permutation_importance(pipeline, X_test, y_test, scoring=scorer(imp_metric, task, n_classes),
                                     n_repeats=n_repeats, random_state=seed, n_jobs=1)
    sign = 1.0  # the scorer is "larger is better" already: a drop is a positive importance
    importance = sorted(
        ({"feature": col, "mean": sign * float(m), "std": float(s)}
         for col, m, s in zip(X_test.columns, imp.importances_mean, imp.importances_std)),
        key=lambda r: -r["mean"],
    )
    background = X_train.sample(min(len(X_train), 1000), random_state=seed) if len(X_train) > 1000 else X_train
    pdp = []
    for row in importance[:top_k]:
        col = row["feature"]
        dates = as_time(background[col])
        categorical = dates is None and not pd.api.types.is_numeric_dtype(background[col])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                if dates is not None:
                    grid, avg = _date_dependence(pipeline, background, col, dates, task)
                else:
                    # scikit-learn refuses integer columns (its grid would be rounded): they are varied as floats
                    frame = background.astype({col: "float64"}) if is_integer_dtype(background[col]) else background
                    res = partial_dependence(pipeline, frame, [col], kind="average", grid_resolution=20,
                                             categorical_features=[col] if categorical else None)
                    grid = [v.item() if isinstance(v, np.generic) else v for v in res["grid_values"][0]]
                    avg = np.asarray(res["average"])
        except (ValueError, TypeError) as exc:
            pdp.append({"feature": col, "error": str(exc)})
            continue
        pdp.append({
            "feature": col,
            "categorical": categorical,
            "dates": dates is not None,
            "grid": grid,
            "average": np.round(avg[-1] if task == "binary_classification" else avg, 6).tolist(),
            "response": {"binary_classification": "probability of the positive class",
                         "regression": "prediction"}.get(task, "probability of each class"),
        })
    return {"metric": imp_metric, "n_rows": int(len(X_test)), "n_repeats": n_repeats,
            "permutation_importance": importance, "coefficients": _coefficients(pipeline, task),
            "partial_dependence": pdp}
