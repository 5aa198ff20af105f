"""How long one prediction takes: the timing the comparison's latency budget and the evaluation's
latency constraint both use (CPU time of the predicting thread, robust to a loaded machine)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import pandas as pd

__all__ = ["LATENCY_REPEATS", "LATENCY_TOLERANCE", "latency_decision", "measure_latency", "one_row_latency"]

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
    p50, p95, p99 = (float(v) for v in np.percentile(times, [50, 95, 99]))
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "mean_ms": float(np.mean(times)), "n_calls": len(times),
            "target_ms": target_ms, "met": None if target_ms is None else bool(p99 <= target_ms),
            "judged_on": "p99"}
