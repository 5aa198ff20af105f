"""The metrics a problem can name, for every task, computed one way everywhere.

Classification targets are encoded before anything learns (see :mod:`mlsmith.target`):
for a binary task the positive class is 1, so ``pos_label=1`` throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
from sklearn import metrics as skm

__all__ = ["METRICS", "Metric", "choose_threshold", "compute", "default_metric", "get_metric", "scorer"]

Task = Literal["binary_classification", "multiclass_classification", "regression"]
CLASSIFICATION: tuple[Task, ...] = ("binary_classification", "multiclass_classification")


def _rmse(y_true, y_pred):
    return float(np.sqrt(skm.mean_squared_error(y_true, y_pred)))


def _roc_auc_multiclass(y_true, y_score, labels=None):
    return skm.roc_auc_score(y_true, y_score, multi_class="ovr", average="macro", labels=labels)


def _average_precision_multiclass(y_true, y_score, labels=None):
    from sklearn.preprocessing import label_binarize

    labels = np.arange(y_score.shape[1]) if labels is None else labels
    return skm.average_precision_score(label_binarize(y_true, classes=labels), y_score, average="macro")


@dataclass(frozen=True)
class Metric:
    """A metric: its function per task, the response it needs and its direction.

    Parameters
    ----------
    name : str
        The name used in problem.yaml and results.json.
    greater_is_better : bool
        Direction: True when a higher value is better.
    response : {"predict", "proba"}
        Whether the metric reads predicted labels/values or class probabilities.
    funcs : dict
        Task -> (callable, keyword arguments).
    """

    name: str
    greater_is_better: bool
    response: Literal["predict", "proba"]
    funcs: dict[str, tuple[Callable[..., float], dict[str, Any]]] = field(repr=False)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.funcs)

    @property
    def threshold_dependent(self) -> bool:
        """True for label metrics of a classifier: they move with the decision threshold."""
        return self.response == "predict" and "regression" not in self.funcs

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a > b if self.greater_is_better else a < b


def _label(func, binary: dict, multi: dict) -> dict:
    return {"binary_classification": (func, binary), "multiclass_classification": (func, multi)}


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", True, "predict", _label(skm.accuracy_score, {}, {})),
        Metric("balanced_accuracy", True, "predict", _label(skm.balanced_accuracy_score, {}, {})),
        Metric(
            "precision", True, "predict",
            _label(skm.precision_score, {"zero_division": 0}, {"average": "macro", "zero_division": 0}),
        ),
        Metric(
            "recall", True, "predict",
            _label(skm.recall_score, {"zero_division": 0}, {"average": "macro", "zero_division": 0}),
        ),
        Metric(
            "f1", True, "predict",
            _label(skm.f1_score, {"zero_division": 0}, {"average": "macro", "zero_division": 0}),
        ),
        Metric(
            "roc_auc", True, "proba",
            {
                "binary_classification": (skm.roc_auc_score, {}),
                "multiclass_classification": (_roc_auc_multiclass, {}),
            },
        ),
        Metric(
            "average_precision", True, "proba",
            {
                "binary_classification": (skm.average_precision_score, {}),
                "multiclass_classification": (_average_precision_multiclass, {}),
            },
        ),
        Metric("log_loss", False, "proba", _label(skm.log_loss, {}, {})),
        Metric("r2", True, "predict", {"regression": (skm.r2_score, {})}),
        Metric("rmse", False, "predict", {"regression": (_rmse, {})}),
        Metric("mae", False, "predict", {"regression": (skm.mean_absolute_error, {})}),
        Metric("mape", False, "predict", {"regression": (skm.mean_absolute_percentage_error, {})}),
    ]
}


def get_metric(name: str) -> Metric:
    """Return the metric called ``name``.

    Examples
    --------
    >>> get_metric("rmse").greater_is_better
    False
    """
    try:
        return METRICS[name]
    except KeyError:
        from difflib import get_close_matches

        close = get_close_matches(name, METRICS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown metric '{name}'; choose one of {', '.join(METRICS)}.{hint}") from None


def compute(name: str, task: str, y_true, y_pred=None, y_proba=None, n_classes: int | None = None) -> float:
    """Compute metric ``name`` for ``task`` from predictions.

    ``y_proba`` is the positive-class probability for a binary task and the full probability
    matrix for a multiclass task. Proba metrics for multiclass read ``n_classes`` so that a
    class missing from ``y_true`` does not shift the columns.

    Examples
    --------
    >>> compute("recall", "binary_classification", [0, 1, 1, 1], y_pred=[0, 1, 0, 1])
    0.666...
    """
    metric = get_metric(name)
    func, kwargs = metric.funcs[task]
    if metric.response == "predict":
        return float(func(y_true, y_pred, **kwargs))
    kwargs = dict(kwargs)
    if task == "multiclass_classification":
        kwargs["labels"] = np.arange(n_classes if n_classes is not None else np.shape(y_proba)[1])
    elif name == "log_loss":
        kwargs["labels"] = [0, 1]
    if len(np.unique(y_true)) < 2 and name in ("roc_auc", "average_precision"):
        return float("nan")
    return float(func(y_true, y_proba, **kwargs))


def scorer(name: str, task: str, n_classes: int | None = None) -> Callable:
    """A scikit-learn scorer for metric ``name``; larger is always better (sign flipped if needed).

    Examples
    --------
    >>> from sklearn.dummy import DummyRegressor
    >>> s = scorer("rmse", "regression")
    >>> s(DummyRegressor().fit([[0], [1]], [0, 2]), [[0], [1]], [0, 2])
    -1.0
    """
    metric = get_metric(name)
    sign = 1.0 if metric.greater_is_better else -1.0

    def _score(estimator, X, y):
        if metric.response == "predict":
            return sign * compute(name, task, y, y_pred=estimator.predict(X))
        proba = estimator.predict_proba(X)
        if task == "binary_classification":
            proba = proba[:, 1]
        return sign * compute(name, task, y, y_proba=proba, n_classes=n_classes)

    _score.__name__ = f"scorer_{name}"
    return _score


def default_metric(task: str, minority_ratio: float | None = None) -> str:
    """The metric to use when the spec names none: imbalance-aware for classification.

    Examples
    --------
    >>> default_metric("binary_classification", minority_ratio=0.05)
    'average_precision'
    """
    if task == "regression":
        return "rmse"
    imbalanced = minority_ratio is not None and minority_ratio < 0.2
    if task == "binary_classification":
        return "average_precision" if imbalanced else "roc_auc"
    return "balanced_accuracy" if imbalanced else "accuracy"


def _threshold_sweep(y: np.ndarray, proba: np.ndarray, metric: str):
    """The metric, recall and precision at every distinct probability used as the threshold.

    One sort and cumulative counts instead of a metric call per candidate: predicting positive when
    ``proba >= t`` makes the true and predicted positives at ``t`` suffix sums over the sorted values.
    """
    candidates, where = np.unique(proba, return_inverse=True)
    pos = (np.asarray(y) == 1).astype(float)
    n, n_pos = len(pos), pos.sum()
    n_neg = n - n_pos
    tp = np.cumsum(np.bincount(where, weights=pos, minlength=len(candidates))[::-1])[::-1]
    pp = np.cumsum(np.bincount(where, minlength=len(candidates))[::-1])[::-1].astype(float)
    fp, fn = pp - tp, n_pos - tp
    tn = n_neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(n_pos > 0, tp / max(n_pos, 1), 0.0)
        precision = np.where(pp > 0, tp / np.maximum(pp, 1), 0.0)
        values = {
            "recall": recall,
            "precision": precision,
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0),
            "accuracy": (tp + tn) / n,
            "balanced_accuracy": (recall + np.where(n_neg > 0, tn / max(n_neg, 1), 0.0)) / 2,
        }
    return candidates, values[metric], recall, precision


def choose_threshold(y: np.ndarray, proba: np.ndarray, metric: str, target: float | None) -> tuple[float, str]:
    """Pick the decision threshold of a binary classifier from out-of-fold probabilities.

    - ``recall >= target``: the highest precision among thresholds that reach the recall;
    - ``precision >= target``: the highest recall among thresholds that reach the precision;
    - another label metric (f1, accuracy, ...): the threshold that maximises it;
    - a probability metric (roc_auc, ...): 0.5 — the metric does not depend on it.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 1]); p = np.array([0.1, 0.6, 0.4, 0.7, 0.9])
    >>> choose_threshold(y, p, "recall", 1.0)[0]
    0.4
    """
    if get_metric(metric).response == "proba":
        return 0.5, f"{metric} does not depend on the threshold; 0.5 is used"
    constrained_metric = metric in ("recall", "precision") and target is not None
    candidates, value, recall, precision = _threshold_sweep(y, proba, metric)
    if constrained_metric:
        constrained, other_value = (recall, precision) if metric == "recall" else (precision, recall)
        reached = constrained >= target
        key = np.where(reached, other_value, constrained)
    else:
        reached = np.ones(len(candidates), dtype=bool)
        key = value
    # the best (reached, key), ties to the highest threshold — as max() over (reached, key, t) would
    best = np.lexsort((candidates, key, reached))[-1]
    best_t = float(candidates[best])
    if constrained_metric:
        other = "precision" if metric == "recall" else "recall"
        if reached[best]:
            return best_t, f"highest out-of-fold {other} with {metric} >= {target:g}"
        return best_t, f"no threshold reaches {metric} >= {target:g} out of fold; the closest was taken"
    return best_t, f"maximises out-of-fold {metric}"
