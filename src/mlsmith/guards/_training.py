"""Training and tuning: overfitting, search ranges, fair comparisons, and seeds."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.model_selection._search import BaseSearchCV

from .._findings import Finding
from ..metrics import get_metric

__all__ = ["check_comparison", "check_cv_test_gap", "check_overfitting", "check_seeds", "check_tuning_range"]

#: A train score this far above the CV score (absolute, for scores on a 0..1 scale) is overfitting.
MAX_GAP = 0.10
#: For error metrics (rmse, mae, ...): CV error this much larger than train error, relatively.
MAX_RELATIVE_GAP = 0.5
#: A best value within this share of either end of its search range is on the edge.
EDGE = 0.05
_DETERMINISTIC_DUMMY = ("prior", "most_frequent", "constant", "mean", "median", "quantile")


def check_overfitting(metric: str, train: float | None, cv: float | None, test: float | None = None,
                      model: str = "the chosen model") -> list[Finding]:
    """Flag a train score much better than the cross-validated score of the same model.

    Scores on a 0..1 scale (accuracy, ROC-AUC, R², ...) are flagged when train - CV >= 0.10;
    error metrics (rmse, mae, mape, log_loss) when (CV - train) / CV >= 0.5.

    Examples
    --------
    >>> [f.evidence["gap"] for f in check_overfitting("roc_auc", 1.0, 0.8)]
    [0.2]
    """
    if train is None or cv is None or not (np.isfinite(train) and np.isfinite(cv)):
        return []
    if get_metric(metric).greater_is_better:
        gap, limit, fired = train - cv, MAX_GAP, train - cv >= MAX_GAP
    else:
        gap = (cv - train) / cv if cv > 0 else 0.0
        limit, fired = MAX_RELATIVE_GAP, gap >= MAX_RELATIVE_GAP
    if not fired:
        return []
    shown = f"train {train:.4f}, CV {cv:.4f}" + (f", test {test:.4f}" if test is not None else "")
    return [Finding(
        "overfitting", "warning",
        f"{model} scores much better on the rows it was fitted on than under cross-validation ({metric}: {shown}): "
        "it memorises the training rows.",
        {"metric": metric, "train": round(train, 4), "cv": round(cv, 4), "test": None if test is None else round(test, 4),
         "gap": round(gap, 4), "limit": limit, "model": model},
        "Regularise (shallower trees, more min_samples_leaf, stronger penalty), gather more rows, or drop noisy "
        "features; judge the model by its CV and test scores, never the train score.",
    )]


def check_cv_test_gap(metric: str, cv: float | None, test: float | None, interval: tuple[float, float] | None,
                      n_test: int, model: str = "the chosen model") -> list[Finding]:
    """Flag a test score whose 95 % bootstrap interval leaves out the cross-validated score.

    Cross-validation predicts the test score; when the test interval excludes it, the two disagree
    by more than the test rows' sampling error. Worse on the test rows (a warning): the test split
    differs from the training rows, or the cross-validation was optimistic (rows of one entity or
    period in several folds, duplicates, a search that fitted the folds). Better (for information):
    usually the luck of a small split.

    Examples
    --------
    >>> [f.severity for f in check_cv_test_gap("roc_auc", 0.77, 0.35, (0.19, 0.52), 80)]
    ['warning']
    >>> check_cv_test_gap("roc_auc", 0.95, 0.94, (0.91, 0.97), 2000)
    []
    >>> check_cv_test_gap("accuracy", 0.99, 1.0, (1.0, 1.0), 250)  # no spread to judge by
    []
    """
    if cv is None or test is None or interval is None or not np.isfinite(cv):
        return []
    low, high = interval
    if low <= cv <= high or low == high:  # a perfect test score has no resampling spread to judge by
        return []
    greater = get_metric(metric).greater_is_better
    worse = cv > high if greater else cv < low
    shown = f"test {metric} {test:.4f} (95% CI {low:.4f}-{high:.4f}, {n_test} rows) against CV {cv:.4f}"
    evidence = {"metric": metric, "cv": round(cv, 4), "test": round(test, 4),
                "interval": [round(low, 4), round(high, 4)], "n_test": n_test, "model": model}
    if worse:
        return [Finding(
            "cv_test_gap", "warning",
            f"{model} does worse on the test split than cross-validation predicted ({shown}): the interval "
            "of the test score leaves the CV score out.",
            evidence,
            "Look for what differs between the test split and the training rows (see train_test_shift), for a "
            "time or group structure the split ignores (data.time_column, data.group_column), and for rows of "
            "one entity in several folds; trust the test score, not the CV score, until it is explained.",
        )]
    return [Finding(
        "cv_test_gap", "info",
        f"{model} does better on the test split than cross-validation predicted ({shown}).",
        evidence,
        "Usually the luck of the split; the CV score is the steadier estimate of what to expect.",
    )]


def _position(dist: Any, value: Any) -> float | None:
    """Where ``value`` sits in a search range, 0 (low end) .. 1 (high end); None for categorical choices."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return None
    if hasattr(dist, "support") and hasattr(dist, "dist"):  # a frozen scipy distribution
        low, high = dist.support()  # randint(a, b) gives (a, b - 1): the values it can draw
        if dist.dist.name in ("loguniform", "reciprocal") and low > 0:
            low, high, value = np.log(low), np.log(high), np.log(value)
    elif isinstance(dist, (list, tuple)) and len(dist) > 2 and all(isinstance(v, (int, float)) for v in dist):
        ordered = sorted(dist)
        return ordered.index(value) / (len(ordered) - 1) if value in ordered else None
    else:
        return None
    return float((value - low) / (high - low)) if high > low else None


def check_tuning_range(space: dict[str, Any], best_params: dict[str, Any], model: str = "the model",
                       trials: list[dict[str, Any]] | None = None, greater_is_better: bool = True) -> list[Finding]:
    """Flag best hyperparameter values on the edge of their search range (the optimum may lie beyond).

    ``space`` maps names to scipy distributions or lists of numbers, as given to a search;
    ``best_params`` is the search's ``best_params_`` (same names). With ``trials`` (``{"params",
    "score"}`` per candidate), an edge is flagged only when the scores also improve towards it
    (rank correlation >= 0.3): a best value on a plateau that reaches the edge is no reason to widen.
    """
    findings = []
    for name, dist in space.items():
        if name not in best_params:
            continue
        pos = _position(dist, best_params[name])
        if pos is None or EDGE < pos < 1 - EDGE:
            continue
        end = "lower" if pos <= EDGE else "upper"
        trend = _trend(dist, name, trials, greater_is_better)
        if trend is not None and (trend if end == "upper" else -trend) < 0.3:
            continue
        best = best_params[name].item() if isinstance(best_params[name], np.generic) else best_params[name]
        findings.append(Finding(
            "tuning_range", "warning",
            f"The best {name} of {model} ({best:.4g}) is at the {end} end of its search range: "
            "the best value may lie outside it.",
            {"parameter": name, "best": best, "position": round(pos, 4), "edge": EDGE,
             "score_trend": None if trend is None else round(trend, 4)},
            f"Widen the range of {name} beyond its {end} end and search again.",
        ))
    return findings


def _trend(dist: Any, name: str, trials: list[dict[str, Any]] | None, greater_is_better: bool) -> float | None:
    """Rank correlation between a parameter's position in its range and the (better-is-higher) score."""
    points = [(_position(dist, t["params"].get(name)), t["score"]) for t in trials or []]
    points = [(p, s if greater_is_better else -s) for p, s in points if p is not None and s is not None and np.isfinite(s)]
    if len(points) < 4 or len({p for p, _ in points}) < 2:
        return None
    if len({s for _, s in points}) < 2:
        return 0.0  # every candidate scored the same: nothing improves towards either end
    return float(spearmanr(*zip(*points)).statistic)


def check_comparison(models: dict[str, Any]) -> list[Finding]:
    """Flag a comparison in which some models were tuned (a search object) and others left at defaults."""
    tuned = sorted(name for name, m in models.items() if isinstance(m, BaseSearchCV))
    default = sorted(name for name, m in models.items() if not isinstance(m, BaseSearchCV))
    if not tuned or not default:
        return []
    return [Finding(
        "unfair_comparison", "warning",
        f"{', '.join(tuned)} {'was' if len(tuned) == 1 else 'were'} tuned but {', '.join(default)} "
        f"{'was' if len(default) == 1 else 'were'} left at defaults: the comparison favours the tuned.",
        {"tuned": tuned, "default": default},
        "Compare all families at their defaults first (on the same folds), then tune the shortlist with the same budget each.",
    )]


def check_seeds(objects: dict[str, Any]) -> list[Finding]:
    """Flag estimators and splitters that would draw random numbers without a seed.

    ``objects`` maps a name to an estimator, pipeline, search or CV splitter. A ``random_state`` of
    None anywhere inside (with ``shuffle=True`` for a splitter) makes two runs differ.
    """
    unseeded = []
    for name, obj in objects.items():
        params = obj.get_params(deep=True) if hasattr(obj, "get_params") else dict(vars(obj))
        if "shuffle" in params and "random_state" in params:  # a CV splitter
            if params["shuffle"] and params["random_state"] is None:
                unseeded.append(name)
            continue
        for key, value in params.items():
            if (key == "random_state" or key.endswith("__random_state")) and value is None:
                owner = params.get(key.rsplit("__", 1)[0]) if "__" in key else obj
                if getattr(owner, "strategy", None) in _DETERMINISTIC_DUMMY:
                    continue  # a prior / mean dummy draws no random numbers
                unseeded.append(f"{name}: {key}")
    if not unseeded:
        return []
    return [Finding(
        "seeds", "warning",
        f"{len(unseeded)} random step{'s' if len(unseeded) > 1 else ''} without a seed ({', '.join(unseeded[:5])}): "
        "two runs of the same problem will give different results.",
        {"unseeded": unseeded},
        "Pass the problem's seed as random_state to every estimator, splitter and search.",
    )]
