"""Stage 7a: the honest evaluation — the test split read once, against the threshold and the baseline.

The decision threshold of a binary classifier is chosen on out-of-fold predictions of the
training rows (:func:`choose_threshold`), never on the test split, then applied to it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.metrics import classification_report, confusion_matrix

from .exceptions import ProblemSpecError
from .metrics import METRICS, compute, get_metric
from .problem import Baseline, Problem

__all__ = ["Evaluation", "Verdict", "baseline_predictions", "choose_threshold", "evaluate"]


@dataclass
class Verdict:
    """Does the model meet the success criterion, and does it beat the baseline?"""

    metric: str
    value: float
    threshold: float | None
    direction: str
    met: bool | None
    margin: float | None
    baseline_value: float | None
    beats_baseline: bool | None
    improvement: float | None

    def sentence(self) -> str:
        parts = [f"test {self.metric} = {self.value:.4f}"]
        if self.threshold is not None:
            op = ">=" if self.direction == "higher" else "<="
            parts.append(f"target {op} {self.threshold:g}: {'MET' if self.met else 'NOT MET'} (margin {self.margin:+.4f})")
        if self.baseline_value is not None and np.isfinite(self.baseline_value):
            rel = f", {self.improvement:+.1%} relative" if self.improvement is not None else ""
            parts.append(f"baseline {self.baseline_value:.4f}: {'beaten' if self.beats_baseline else 'NOT beaten'}{rel}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "summary": self.sentence()}


@dataclass
class Evaluation:
    """Test-split metrics of the final model, its baseline's on the same rows, and the verdict."""

    task: str
    n_test: int
    decision_threshold: float | None
    threshold_reason: str
    test_metrics: dict[str, float]
    train_metrics: dict[str, float]
    cv_metrics: dict[str, float]
    baseline: str
    baseline_metrics: dict[str, float]
    verdict: Verdict
    confusion_matrix: list[list[int]] | None = None
    classes: list[Any] | None = None
    classification_report: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["verdict"] = self.verdict.to_dict()
        return out


def task_metrics(task: str) -> list[str]:
    return [name for name, m in METRICS.items() if task in m.funcs]


def scores_for(task: str, y_true, y_pred, y_proba=None, n_classes: int | None = None) -> dict[str, float]:
    """Every metric of the task that the predictions allow."""
    out = {}
    for name in task_metrics(task):
        metric = get_metric(name)
        if metric.response == "proba" and y_proba is None:
            continue
        if name == "mape" and np.any(np.asarray(y_true) <= 0):
            continue  # MAPE is meaningless when the target can be zero or negative
        out[name] = compute(name, task, y_true, y_pred=y_pred, y_proba=y_proba, n_classes=n_classes)
    return out


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
    candidates = np.unique(proba)
    pos = y == 1
    n_pos = max(int(pos.sum()), 1)
    best_t, best_key, reason = 0.5, None, ""
    for t in candidates:
        pred = proba >= t
        tp = int((pred & pos).sum())
        recall = tp / n_pos
        precision = tp / max(int(pred.sum()), 1)
        if metric in ("recall", "precision") and target is not None:
            constrained, other = (recall, precision) if metric == "recall" else (precision, recall)
            key = (constrained >= target, other if constrained >= target else constrained, t)
        else:
            key = (True, compute(metric, "binary_classification", y, y_pred=pred.astype(int)), t)
        if best_key is None or key > best_key:
            best_t, best_key = float(t), key
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        if best_key[0]:
            reason = f"highest out-of-fold {other} with {metric} >= {target:g}"
        else:
            reason = f"no threshold reaches {metric} >= {target:g} out of fold; the closest was taken"
    else:
        reason = f"maximises out-of-fold {metric}"
    return best_t, reason


def baseline_predictions(
    baseline: Baseline, train: pd.DataFrame, test: pd.DataFrame, y_train: np.ndarray, task: str, codec
) -> tuple[np.ndarray, str]:
    """The baseline's predictions on the test rows (encoded like the target) and its description."""
    if baseline.rule:
        try:
            raw = test.eval(baseline.rule, engine="python")
        except Exception as exc:
            raise ProblemSpecError(
                f"problem.yaml: baseline rule {baseline.rule!r} cannot be evaluated on the data: {exc}; "
                "write a pandas expression over the columns, e.g. 'tenure_months < 3'."
            ) from None
        raw = pd.Series(raw, index=test.index)
        if task == "binary_classification":
            return raw.fillna(False).astype(bool).astype(int).to_numpy(), f"rule: {baseline.rule}"
        if task == "regression":
            return pd.to_numeric(raw, errors="coerce").fillna(float(np.mean(y_train))).to_numpy(), f"rule: {baseline.rule}"
        return codec.encode(raw.astype(str)), f"rule: {baseline.rule}"
    method = baseline.method or ("majority" if task != "regression" else "mean")
    model = (DummyClassifier(strategy="most_frequent") if method == "majority"
             else DummyRegressor(strategy=method))
    model.fit(np.zeros((len(y_train), 1)), y_train)
    return model.predict(np.zeros((len(test), 1))), f"{method} of the training target"


def evaluate(
    pipeline,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    problem: Problem,
    baseline_pred: np.ndarray,
    baseline_desc: str,
    decision_threshold: float | None,
    threshold_reason: str,
    train_metrics: dict[str, float],
    cv_metrics: dict[str, float],
    n_classes: int | None,
    classes: list[Any] | None,
) -> Evaluation:
    """Score the final pipeline on the test rows, score the baseline on the same rows, judge."""
    task, metric_name = problem.type, problem.success_metric
    proba = None
    if task == "regression":
        pred = pipeline.predict(X_test)
    else:
        proba = pipeline.predict_proba(X_test)
        if task == "binary_classification":
            proba = proba[:, 1]
            pred = (proba >= decision_threshold).astype(int)
        else:
            pred = proba.argmax(axis=1)
    test_metrics = scores_for(task, y_test, pred, proba, n_classes)
    base_proba = baseline_pred.astype(float) if task == "binary_classification" else None
    baseline_metrics = scores_for(task, y_test, baseline_pred, base_proba, n_classes)
    baseline_metrics.pop("log_loss", None)  # a hard 0/1 rule has an infinite log loss; not informative
    metric = get_metric(metric_name)
    value = test_metrics[metric_name]
    base_value = baseline_metrics.get(metric_name)
    met = margin = None
    if problem.threshold is not None:
        margin = value - problem.threshold if metric.greater_is_better else problem.threshold - value
        met = bool(margin >= 0)
    beats = improvement = None
    if base_value is not None and np.isfinite(base_value):
        beats = metric.better(value, base_value)
        if base_value != 0:
            improvement = (value - base_value) / abs(base_value) * (1 if metric.greater_is_better else -1)
    verdict = Verdict(metric_name, value, problem.threshold, problem.direction, met, margin, base_value, beats, improvement)
    extra = {}
    cm = report = None
    if task != "regression":
        labels = list(range(n_classes))
        cm = confusion_matrix(y_test, pred, labels=labels).tolist()
        names = [str(c) for c in classes]
        report = classification_report(y_test, pred, labels=labels, target_names=names, output_dict=True, zero_division=0)
    return Evaluation(
        task=task, n_test=len(y_test), decision_threshold=decision_threshold, threshold_reason=threshold_reason,
        test_metrics=test_metrics, train_metrics=train_metrics, cv_metrics=cv_metrics, baseline=baseline_desc,
        baseline_metrics=baseline_metrics, verdict=verdict, confusion_matrix=cm, classes=classes,
        classification_report=report, extra=extra,
    )
