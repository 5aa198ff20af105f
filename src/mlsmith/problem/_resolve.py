"""What a problem's target decides: the task type, the positive class, the default metric and
baseline, and which thresholds its metric can reach.

:func:`resolve_problem` is :meth:`mlsmith.problem.Problem.resolve`; ``mlsmith init`` proposes the
same task and positive class (:mod:`mlsmith.draft`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._columns import python_value
from ..exceptions import ProblemSpecError
from ..metrics import METRICS, default_metric, get_metric
from ._sections import Baseline, TaskType

if TYPE_CHECKING:
    from ._problem import Problem

__all__ = ["infer_task", "positive_class", "resolve_problem", "threshold_error"]


#: The values each metric can take: fractions, r2 (at most 1), or errors (at least 0).
_FRACTION_METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "average_precision")


def threshold_error(metric: str, threshold: float) -> str | None:
    """Why ``threshold`` cannot be a value of ``metric`` (None when it can).

    Examples
    --------
    >>> threshold_error("recall", 80)
    'recall is between 0 and 1; got 80, a percentage? Write it as a fraction: threshold: 0.80'
    >>> threshold_error("rmse", 80) is None
    True
    """
    low, high = (0.0, 1.0) if metric in _FRACTION_METRICS else (-np.inf, 1.0) if metric == "r2" else (0.0, np.inf)
    if low <= threshold <= high:
        return None
    span = "at least 0" if not np.isfinite(high) else "at most 1" if not np.isfinite(low) else "between 0 and 1"
    if 2 <= threshold <= 100 and np.isfinite(high):
        return f"{metric} is {span}; got {threshold:g}, a percentage? Write it as a fraction: threshold: {threshold / 100:.2f}"
    return f"{metric} is {span}; got {threshold:g}. Set a threshold that {metric} can reach."


def infer_task(y: pd.Series) -> TaskType:
    """Infer the task type from the target values.

    Examples
    --------
    >>> infer_task(pd.Series([0, 1, 1, 0]))
    'binary_classification'
    >>> infer_task(pd.Series([0.5, 1.25, 3.0, 2.2]))
    'regression'
    >>> infer_task(pd.Series(list(range(12)) * 30))  # a count of 0 to 11: a quantity
    'regression'
    """
    y = y.dropna()
    n_unique = y.nunique()
    if n_unique == 2:
        return "binary_classification"
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "multiclass_classification"
    values = y.to_numpy(dtype=float)
    is_integer = bool(np.all(np.mod(values, 1) == 0))
    # a count (0, 1, 2, ... past ten levels, the rare high ones missing: arrests, visits, children)
    # is a quantity, not eleven classes; class codes and ratings have few levels
    is_count = is_integer and n_unique > 10 and values.min() >= 0 and n_unique >= 0.75 * (values.max() + 1)
    if is_integer and not is_count and n_unique <= 20 and n_unique <= max(2, 0.05 * len(y)):
        return "multiclass_classification"
    return "regression"


def positive_class(given, counts: pd.Series, target: str):
    """The positive class of a binary target: ``given`` matched to a value (case aside), else a
    ``1``/``true``/``yes`` label, else the rarer class (``counts`` is the target's value counts)."""
    values = list(counts.index)
    if given is not None:
        for value in values:
            if str(value).lower() == str(given).lower():
                return python_value(value)
        raise ProblemSpecError(
            f"positive_class {given!r} is not a value of target '{target}'; "
            f"the target's values are {', '.join(repr(python_value(v)) for v in values)}."
        )
    for value in values:
        if str(value).lower() in ("1", "true", "yes", "y", "positive", "pos"):
            return python_value(value)
    return python_value(counts.idxmin())



def resolve_problem(problem: Problem, y: pd.Series) -> Problem:
    """``problem`` with what depends on the target filled in (see :meth:`mlsmith.problem.Problem.resolve`)."""
    y = y.dropna()
    task = problem.type or infer_task(y)
    updates: dict[str, Any] = {"type": task}
    n_unique = y.nunique()
    if task != "regression" and n_unique < 2:
        raise ProblemSpecError(
            f"target '{problem.target}' has a single class ({python_value(y.iloc[0])!r}) in {len(y)} rows; a classifier "
            "needs at least two: check the target column or the data source."
        )
    if task == "binary_classification" and n_unique != 2:
        raise ProblemSpecError(
            f"type is binary_classification but target '{problem.target}' has {n_unique} classes; "
            "set 'type: multiclass_classification' or check the target column."
        )
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        sample = ", ".join(repr(v) for v in y.unique()[:3])
        raise ProblemSpecError(
            f"type is regression but target '{problem.target}' is not numeric (values like {sample}); "
            "use a classification type or convert the target to numbers."
        )
    counts = y.value_counts()
    ratio = float(counts.min() / counts.max()) if task != "regression" else None
    if task == "binary_classification":
        updates["positive_class"] = positive_class(problem.positive_class, counts, problem.target)
    elif problem.positive_class is not None:
        raise ProblemSpecError(
            f"'positive_class' applies to binary targets only; got {problem.positive_class!r} for a "
            f"{task.replace('_', ' ')} target: remove it."
        )
    metric = problem.success_metric or default_metric(task, ratio)
    for name in [metric, *problem.secondary_metrics]:
        if task not in get_metric(name).funcs:
            valid = ", ".join(m for m, spec in METRICS.items() if task in spec.funcs)
            raise ProblemSpecError(
                f"problem.yaml: metric '{name}' does not apply to a {task} task; choose one of {valid}."
            )
    updates["success_metric"] = metric
    if problem.success_metric is None and problem.threshold is not None and threshold_error(metric, problem.threshold):
        raise ProblemSpecError(f"problem.yaml: 'threshold': {threshold_error(metric, problem.threshold)} "
                               f"({metric} is the default metric here; name it in 'success_metric').")
    if problem.baseline is None:
        updates["baseline"] = Baseline(method="majority" if task != "regression" else "mean")
    elif problem.baseline.method and (problem.baseline.method == "majority") != (task != "regression"):
        want = "majority" if task != "regression" else "mean or median"
        raise ProblemSpecError(
            f"problem.yaml: baseline method '{problem.baseline.method}' does not fit a {task} task; use {want}."
        )
    return problem.model_copy(update=updates)
