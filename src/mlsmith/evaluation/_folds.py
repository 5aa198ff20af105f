"""The CV scores of the final pipeline, from the out-of-fold predictions of the training rows
(:func:`mlsmith.parallel.out_of_fold`, which the decision threshold is chosen on too)."""

from __future__ import annotations

import numpy as np

from ..parallel import FoldResult
from ._core import scores_for

__all__ = ["fold_scores"]


def fold_scores(folds: list[FoldResult], y: np.ndarray, task: str, threshold: float | None = None,
                n_classes: int | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Every metric of the task on each fold's held-out rows: (mean over folds, standard deviation).

    A binary fold's labels use ``threshold``; as it was chosen on these same out-of-fold
    predictions, its label metrics are slightly optimistic (the test split is the honest check).

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1])
    >>> folds = [FoldResult({}, {}, 0.0, 0.0, test_index=np.array([0, 1]), predictions=np.array([0.2, 0.9])),
    ...          FoldResult({}, {}, 0.0, 0.0, test_index=np.array([2, 3]), predictions=np.array([0.6, 0.7]))]
    >>> mean, std = fold_scores(folds, y, "binary_classification", threshold=0.5)
    >>> mean["accuracy"], std["accuracy"]
    (0.75, 0.25)
    """
    per_fold: dict[str, list[float]] = {}
    for fold in folds:
        yt, out = y[fold.test_index], np.asarray(fold.predictions)
        if task == "regression":
            pred, proba = out, None
        elif task == "binary_classification":
            pred, proba = (out >= (0.5 if threshold is None else threshold)).astype(int), out
        else:
            pred, proba = out.argmax(axis=1), out
        for name, value in scores_for(task, yt, pred, proba, n_classes).items():
            per_fold.setdefault(name, []).append(value)
    mean = {k: float(np.nanmean(v)) for k, v in per_fold.items()}
    std = {k: float(np.nanstd(v)) for k, v in per_fold.items()}
    return mean, std
