"""Constraints checked by measurement: single-row latency, and explanations for ``interpretability: high``."""

from __future__ import annotations

import time
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd
from pandas.api.types import is_integer_dtype
from sklearn.inspection import partial_dependence, permutation_importance

from ..guards._frame import as_time
from ..metrics import get_metric, scorer

__all__ = ["LATENCY_REPEATS", "LATENCY_TOLERANCE", "global_explanations", "latency_decision", "measure_latency",
           "one_row_latency"]

#: One-row predictions timed per fitted fold model when a latency budget is set.
LATENCY_REPEATS = 7
#: A family is excluded only when its median latency exceeds the budget by more than this share:
#: a family near the budget must not be in the shortlist of one run and out of the next.
LATENCY_TOLERANCE = 0.25


def one_row_latency(predict: Callable[[pd.DataFrame], Any], row: pd.DataFrame, repeats: int = LATENCY_REPEATS,
                    warmup: int = 1) -> dict[str, list[float]]:
    """Milliseconds of ``repeats`` calls of ``predict`` on one row, after ``warmup`` untimed calls:
    the predicting thread's CPU time (``cpu_ms``) and the wall time (``wall_ms``) of each call.

    The CPU time is what the family costs: another process's load, which stretches the wall time
    of the same call many times over on a shared machine, leaves it unchanged.

    >>> times = one_row_latency(lambda row: row.sum(), pd.DataFrame({"a": [1.0]}), repeats=5)
    >>> sorted(times), len(times["cpu_ms"]), len(times["wall_ms"])
    (['cpu_ms', 'wall_ms'], 5, 5)
    """
    for _ in range(warmup):
        predict(row)
    cpu, wall = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.thread_time()
        predict(row)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return {"cpu_ms": cpu, "wall_ms": wall}


def latency_decision(cpu_ms: list[float], budget_ms: float, tolerance: float = LATENCY_TOLERANCE,
                     wall_ms: list[float] | None = None) -> dict[str, Any]:
    """Whether a family's one-row latency excludes it from a ``budget_ms`` budget, and the figures why.

    The family is judged on the median CPU time of its timed one-row predictions (every fold
    model's repeats pooled; see :func:`one_row_latency`): one slow call does not move a median,
    and the load of other processes does not move CPU time. It is excluded only when that median
    exceeds the budget by more than ``tolerance`` (a share of the budget), so that near the budget
    a rerun's noise does not flip the decision. The wall-time median is recorded beside it: the
    served latency of the chosen model is judged later, on the saved bundle (:func:`measure_latency`).

    Examples
    --------
    >>> latency_decision([8.0, 9.0, 60.0, 11.0, 12.0], budget_ms=10.0)["excluded"]
    False
    >>> out = latency_decision([30.0, 31.0, 29.0], budget_ms=10.0)
    >>> out["excluded"], out["median_ms"], out["limit_ms"]
    (True, 30.0, 12.5)
    """
    values = np.asarray(cpu_ms, dtype=float)
    median = float(np.median(values))
    limit = budget_ms * (1 + tolerance)
    return {"median_ms": median, "p90_ms": float(np.percentile(values, 90)), "n": int(len(values)),
            "measure": "cpu time of the predicting thread",
            "wall_median_ms": float(np.median(wall_ms)) if wall_ms else None,
            "budget_ms": budget_ms, "tolerance": tolerance, "limit_ms": limit, "excluded": bool(median > limit),
            "within_budget": bool(median <= budget_ms)}


def measure_latency(predict: Callable[[pd.DataFrame], Any], rows: pd.DataFrame, n_calls: int = 200,
                    warmup: int = 5, target_ms: float | None = None, max_seconds: float = 3.0) -> dict[str, Any]:
    """Time ``predict`` on one row at a time: p50/p95/p99 in milliseconds, judged on p99 against ``target_ms``.

    Rows are cycled through ``rows`` so the timing covers varied inputs; the first ``warmup``
    calls (caches, lazy imports) are not counted. Timing stops after ``n_calls`` calls or
    ``max_seconds`` (at least 20 calls), whichever comes first.

    Examples
    --------
    >>> out = measure_latency(lambda row: row.sum(), pd.DataFrame({"a": [1.0, 2.0]}), n_calls=20, target_ms=1000)
    >>> out["met"], out["n_calls"]
    (True, 20)
    """
    n = len(rows)
    for i in range(warmup):
        predict(rows.iloc[[i % n]])
    times: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for i in range(n_calls):
        row = rows.iloc[[i % n]]
        start = time.perf_counter()
        predict(row)
        end = time.perf_counter()
        times.append((end - start) * 1000)
        if end > deadline and len(times) >= 20:
            break
    times = np.asarray(times)
    p50, p95, p99 = (float(v) for v in np.percentile(times, [50, 95, 99]))
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": float(times.mean()), "n_calls": int(len(times)),
            "target_ms": target_ms, "met": None if target_ms is None else bool(p99 <= target_ms),
            "judged_on": "p99"}


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
    average = np.asarray(average)
    # partial_dependence's layout: (outputs, grid points)
    return [g.isoformat() for g in grid], average.T if average.ndim == 2 else average[np.newaxis, :]


def global_explanations(pipeline, X_train: pd.DataFrame, X_test: pd.DataFrame, y_test: np.ndarray, task: str,
                        metric: str, n_classes: int | None = None, seed: int = 0, top_k: int = 3,
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
