"""Out-of-fold predictions of small models on one feature or a few: what the leakage checks score.

Shared by the single-feature and pair checks (:mod:`._leakage`) and the relative leak test
(:mod:`._relative`), which import it; it imports neither.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._frame import encode

__all__ = ["folds_for", "single_feature_oof", "single_feature_score", "tree_oof"]


def single_feature_score(x: pd.Series, y: np.ndarray, task: str, role: str = "numeric", *, seed: int) -> float:
    """Cross-validated (3-fold, out-of-fold) ROC-AUC — or R² for regression — of one feature alone.

    Numbers and dates go through a small decision tree (16 leaves, missing values allowed);
    categories through their out-of-fold mean target. Multiclass AUC is one-vs-rest, macro.

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> single_feature_score(pd.Series(y * 3.0), y, "binary_classification", seed=0)
    1.0
    """
    y = np.asarray(y)
    oof, classes = single_feature_oof(x, y, task, role, seed=seed)
    return _auc_or_r2(oof, y, classes)


def _auc_or_r2(oof: np.ndarray, y: np.ndarray, classes: np.ndarray | None) -> float:
    if classes is None:
        return float(r2_score(y, oof))
    if len(classes) == 2:
        return float(roc_auc_score(y, oof[:, 1]))
    return float(roc_auc_score(y, oof, multi_class="ovr", average="macro", labels=classes))


def folds_for(y: np.ndarray, task: str, seed: int):
    """3 shuffled folds, stratified for classes unless a class is too rare to stratify."""
    classify = task != "regression"
    if classify and np.unique(y, return_counts=True)[1].min() >= 3:
        return StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return KFold(n_splits=3, shuffle=True, random_state=seed)


def tree_oof(values: np.ndarray, y: np.ndarray, task: str, seed: int, leaves: int = 16,
             min_leaf: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold predictions (class probabilities, or values) of a small tree on ``values`` (2-D)."""
    classes = np.unique(y) if task != "regression" else None
    oof = np.zeros((len(y), len(classes))) if classes is not None else np.zeros(len(y))
    model = (DecisionTreeClassifier if classes is not None else DecisionTreeRegressor)(
        max_leaf_nodes=leaves, min_samples_leaf=min_leaf or max(10, len(y) // 200), random_state=seed)
    for fit_idx, pred_idx in folds_for(y, task, seed).split(values, y):
        model.fit(values[fit_idx], y[fit_idx])
        if classes is not None:  # a fold may lack a rare class: place each probability under its own class
            oof[np.ix_(pred_idx, np.searchsorted(classes, model.classes_))] = model.predict_proba(values[pred_idx])
        else:
            oof[pred_idx] = model.predict(values[pred_idx])
    return oof, classes


def single_feature_oof(x: pd.Series, y: np.ndarray, task: str, role: str = "numeric",
                       *, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold predictions of one feature alone, and the classes (None for regression).

    Numbers and dates go through a small decision tree; categories through their out-of-fold mean target.
    """
    y = np.asarray(y)
    if role in ("numeric", "boolean", "datetime"):
        return tree_oof(encode([x.to_frame(name="x")], {"x": role})[0], y, task, seed)
    classes = np.unique(y) if task != "regression" else None
    oof = np.zeros((len(y), len(classes))) if classes is not None else np.zeros(len(y))
    text = x.astype(str).where(x.notna(), "(missing)").to_numpy()
    target = (y[:, None] == classes[None, :]).astype(float) if classes is not None else y.astype(float)
    for fit_idx, pred_idx in folds_for(y, task, seed).split(text, y):
        means = pd.DataFrame(target[fit_idx]).groupby(text[fit_idx]).mean()
        prior = target[fit_idx].mean(axis=0)
        oof[pred_idx] = means.reindex(text[pred_idx]).fillna(pd.Series(np.atleast_1d(prior))).to_numpy().squeeze()
    return oof, classes
