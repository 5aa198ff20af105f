"""Out-of-fold predictions of the training rows: the decision threshold and the CV scores come from them."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import clone

from ._core import scores_for

__all__ = ["fold_scores", "out_of_fold"]


def out_of_fold(pipeline, X, y, cv, groups, task: str, n_jobs: int | None = None,
                fit_also: list[tuple[Any, np.ndarray]] | tuple = ()) -> tuple[list[tuple[np.ndarray, np.ndarray]], list]:
    """Fit ``pipeline`` on each training fold: (held-out row positions, their predictions) per fold.

    The predictions are class probabilities for a classifier (the positive class's for a binary
    task) and predicted values for a regressor. Only the training rows ``X`` are cross-validated.
    ``fit_also`` lists more ``(X, y)`` to fit ``pipeline`` on, returned fitted as the second item:
    they are dispatched with the folds, first, so that they fill the workers the folds leave idle
    (five folds on two workers) instead of running after them in this process.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import KFold
    >>> import pandas as pd
    >>> X = pd.DataFrame({"x": np.arange(6.0)}); y = 2 * X["x"].to_numpy()
    >>> folds, (final,) = out_of_fold(LinearRegression(), X, y, KFold(3), None, "regression", 1, [(X, y)])
    >>> [idx.tolist() for idx, _ in folds], folds[0][1].round(6).tolist(), float(final.coef_[0].round(6))
    ([[0, 1], [2, 3], [4, 5]], [0.0, 2.0], 2.0)
    """
    from joblib import Parallel, delayed

    splits = list(cv.split(X, y, groups))
    jobs = [delayed(_fit)(pipeline, X_fit, y_fit) for X_fit, y_fit in fit_also]
    jobs += [delayed(_held_out)(pipeline, X, y, train, test, task) for train, test in splits]
    out = Parallel(n_jobs=n_jobs)(jobs)
    return out[len(fit_also):], out[:len(fit_also)]


def _fit(pipeline, X, y):
    with warnings.catch_warnings():  # a family that cannot converge still gives a model
        warnings.simplefilter("ignore", category=UserWarning)
        return clone(pipeline).fit(X, y)


def _held_out(pipeline, X, y, train, test, task: str) -> tuple[np.ndarray, np.ndarray]:
    est = _fit(pipeline, X.iloc[train], y[train])
    rows = X.iloc[test]
    if task == "regression":
        return np.asarray(test), est.predict(rows)
    pred = est.predict_proba(rows)
    return np.asarray(test), pred[:, 1] if task == "binary_classification" else pred


def fold_scores(folds: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray, task: str, threshold: float | None = None,
                n_classes: int | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Every metric of the task on each fold's held-out rows: (mean over folds, standard deviation).

    A binary fold's labels use ``threshold``; as it was chosen on these same out-of-fold
    predictions, its label metrics are slightly optimistic (the test split is the honest check).

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1]); folds = [(np.array([0, 1]), np.array([0.2, 0.9])), (np.array([2, 3]), np.array([0.6, 0.7]))]
    >>> mean, std = fold_scores(folds, y, "binary_classification", threshold=0.5)
    >>> mean["accuracy"], std["accuracy"]
    (0.75, 0.25)
    """
    per_fold: dict[str, list[float]] = {}
    for idx, out in folds:
        yt = y[idx]
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
