"""The numbers behind the evaluation's figures: ROC, precision-recall and calibration curves, residuals.

Each curve is kept as short lists of points (thinned to at most ``MAX_POINTS``) so results.json
holds exactly what the report draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    auc,
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

__all__ = ["classification_curves", "regression_diagnostics"]

MAX_POINTS = 200


def _thin(*arrays: np.ndarray, max_points: int = MAX_POINTS) -> list[list[float]]:
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int)) if n else np.array([], int)
    return [np.round(np.asarray(a, dtype=float)[keep], 5).tolist() for a in arrays]


def _binary_curves(y: np.ndarray, score: np.ndarray, threshold: float | None = None) -> dict[str, Any]:
    if len(np.unique(y)) < 2:
        return {}
    fpr, tpr, _ = roc_curve(y, score)
    precision, recall, _ = precision_recall_curve(y, score)
    out: dict[str, Any] = {
        "roc": dict(zip(("fpr", "tpr"), _thin(fpr, tpr)), auc=float(roc_auc_score(y, score))),
        "pr": dict(zip(("recall", "precision"), _thin(recall[::-1], precision[::-1])),
                   average_precision=float(average_precision_score(y, score)), auc=float(auc(recall, precision)),
                   prevalence=float(np.mean(y))),
    }
    if threshold is not None:
        pred = score >= threshold
        pos = y == 1
        out["operating_point"] = {
            "threshold": float(threshold),
            "fpr": float((pred & ~pos).sum() / max((~pos).sum(), 1)),
            "tpr": float((pred & pos).sum() / max(pos.sum(), 1)),
            "precision": float((pred & pos).sum() / max(pred.sum(), 1)),
        }
    return out


def classification_curves(y: np.ndarray, proba: np.ndarray, task: str, classes: list[Any],
                          threshold: float | None = None) -> dict[str, Any]:
    """ROC and PR curves with their AUCs, the calibration curve and the Brier score.

    Binary: the positive class (``proba`` is its probability), with the operating point of the
    decision threshold. Multiclass: one-vs-rest per class (``proba`` is the full matrix), Brier
    score averaged over classes.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1]); p = np.array([0.1, 0.4, 0.35, 0.8])
    >>> c = classification_curves(y, p, "binary_classification", ["no", "yes"], threshold=0.3)
    >>> c["roc"]["auc"], c["brier"]
    (0.75, 0.158...)
    """
    y = np.asarray(y)
    if task == "binary_classification":
        out = _binary_curves(y, proba, threshold)
        frac, mean_pred = calibration_curve(y, proba, n_bins=10, strategy="quantile")
        counts = np.histogram(proba, bins=np.linspace(0, 1, 11))[0]
        out["calibration"] = {"mean_predicted": np.round(mean_pred, 5).tolist(),
                              "fraction_positive": np.round(frac, 5).tolist(), "histogram": counts.tolist()}
        out["brier"] = float(brier_score_loss(y, proba))
        return out
    per_class = {}
    for k, name in enumerate(classes):
        curves = _binary_curves((y == k).astype(int), proba[:, k])
        if curves:
            per_class[str(name)] = curves
    onehot = np.eye(proba.shape[1])[y]
    return {"per_class": per_class, "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1)) / proba.shape[1])}


def regression_diagnostics(y: np.ndarray, pred: np.ndarray, *, seed: int, max_points: int = 1000) -> dict[str, Any]:
    """Predicted vs actual and residuals (a seeded sample of at most ``max_points`` rows), with summaries.

    Examples
    --------
    >>> d = regression_diagnostics(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]), seed=0)
    >>> d["residual_mean"], d["residual_std"]
    (0.166..., 0.763...)
    """
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float)
    residual = y - pred
    rows = np.arange(len(y))
    if len(rows) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_points, replace=False))
    return {
        "actual": np.round(y[rows], 6).tolist(),
        "predicted": np.round(pred[rows], 6).tolist(),
        "residual_mean": float(residual.mean()),
        "residual_std": float(residual.std(ddof=1)) if len(y) > 1 else 0.0,
        "n_shown": int(len(rows)),
    }
