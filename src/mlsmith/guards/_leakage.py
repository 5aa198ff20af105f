"""Target leakage: features that know the answer, or were recorded after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ..exceptions import DataError
from ._finding import Finding
from ._frame import as_time, encode, roles_of, sample

__all__ = ["check_id_order", "check_target_leakage", "check_timestamps", "single_feature_score"]

#: A single feature scoring at least this (cross-validated ROC-AUC, or R² for regression) is a leak.
LEAK_SCORE = 0.98
#: An id whose row order scores at least this (ROC-AUC; R² for regression: ID_ORDER_R2) is flagged.
ID_ORDER_AUC = 0.70
ID_ORDER_R2 = 0.30


def single_feature_score(x: pd.Series, y: np.ndarray, task: str, role: str = "numeric", seed: int = 0) -> float:
    """Cross-validated (3-fold, out-of-fold) ROC-AUC — or R² for regression — of one feature alone.

    Numbers and dates go through a small decision tree (16 leaves, missing values allowed);
    categories through their out-of-fold mean target. Multiclass AUC is one-vs-rest, macro.

    Examples
    --------
    >>> y = np.array([0, 1] * 50)
    >>> single_feature_score(pd.Series(y * 3.0), y, "binary_classification")
    1.0
    """
    y = np.asarray(y)
    classify = task != "regression"
    classes = np.unique(y) if classify else None
    folds = (StratifiedKFold if classify else KFold)(n_splits=3, shuffle=True, random_state=seed)
    if classify and np.unique(y, return_counts=True)[1].min() < 3:
        folds = KFold(n_splits=3, shuffle=True, random_state=seed)  # a class too rare to stratify
    oof = np.zeros((len(y), len(classes))) if classify else np.zeros(len(y))
    if role in ("numeric", "boolean", "datetime"):
        values = encode([x.to_frame(name="x")], {"x": role})[0]
        model = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(
            max_leaf_nodes=16, min_samples_leaf=max(10, len(y) // 200), random_state=seed)
        for fit_idx, pred_idx in folds.split(values, y):
            model.fit(values[fit_idx], y[fit_idx])
            if classify:  # a fold may lack a rare class: place each probability under its own class
                oof[np.ix_(pred_idx, np.searchsorted(classes, model.classes_))] = model.predict_proba(values[pred_idx])
            else:
                oof[pred_idx] = model.predict(values[pred_idx])
    else:
        text = x.astype(str).where(x.notna(), "(missing)").to_numpy()
        target = (y[:, None] == classes[None, :]).astype(float) if classify else y.astype(float)
        for fit_idx, pred_idx in folds.split(text, y):
            means = pd.DataFrame(target[fit_idx]).groupby(text[fit_idx]).mean()
            prior = target[fit_idx].mean(axis=0)
            oof[pred_idx] = means.reindex(text[pred_idx]).fillna(pd.Series(np.atleast_1d(prior))).to_numpy().squeeze()
    if not classify:
        return float(r2_score(y, oof))
    if len(classes) == 2:
        return float(roc_auc_score(y, oof[:, 1]))
    return float(roc_auc_score(y, oof, multi_class="ovr", average="macro", labels=classes))


def _is_function_of_target(x: pd.Series, y: pd.Series, task: str) -> str | None:
    """'copy' or 'function' when the feature is the target or a deterministic function of it."""
    both = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy()}).dropna()
    if len(both) < 10 or both["x"].nunique() < 2:
        return None
    if both["x"].astype(str).equals(both["y"].astype(str)):
        return "copy"
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(both["x"]):
            return None
        rho = spearmanr(both["x"], both["y"]).statistic
        return "function" if abs(rho) >= 0.999 else None
    # Classification: one feature value per class makes the feature a relabelling of the target.
    return "function" if both.groupby("y")["x"].nunique().max() == 1 else None


def check_target_leakage(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str,
                         roles: dict[str, str] | None = None, seed: int = 0) -> list[Finding]:
    """Flag features that are the target, a function of it, or alone predict it almost perfectly.

    Parameters
    ----------
    frame : the training features (a sample of :data:`~mlsmith.guards._frame.MAX_ROWS` rows is used).
    y : the training target, aligned with ``frame``; for classification, the encoded classes.
    task : the problem's task type.
    roles : column roles (the schema's); inferred when not given.
    """
    y = pd.Series(np.asarray(y), index=frame.index)
    keep = y.notna()
    frame, y = sample(frame[keep], seed=seed), y[keep]
    y = y.loc[frame.index]
    roles = roles_of(frame, roles)
    findings = []
    for column in frame.columns:
        if roles[column] == "id":
            continue
        kind = _is_function_of_target(frame[column], y, task)
        if kind:
            what = "a copy of the target" if kind == "copy" else "a deterministic function of the target"
            findings.append(Finding(
                "target_leakage", "error",
                f"Feature '{column}' is {what}: it carries the answer, not a signal available before it.",
                {"column": column, "relation": kind, "n_rows_checked": len(frame)},
                f"Remove '{column}' (add it to data.drop) unless it is truly known when the prediction is made.",
            ))
            continue
        score = single_feature_score(frame[column], y.to_numpy(), task, roles[column], seed)
        if score >= LEAK_SCORE:
            name = "R²" if task == "regression" else "ROC-AUC"
            findings.append(Finding(
                "target_leakage", "error",
                f"Feature '{column}' alone predicts the target almost perfectly (cross-validated {name} "
                f"{score:.3f} >= {LEAK_SCORE}): a near-certain leak.",
                {"column": column, "metric": name, "score": round(score, 4), "limit": LEAK_SCORE,
                 "n_rows_checked": len(frame)},
                f"Check how '{column}' is recorded; if it is set from or after the outcome, add it to data.drop.",
            ))
    return findings


def check_id_order(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str, id_columns: list[str],
                   seed: int = 0) -> list[Finding]:
    """Flag an id column whose order (rank) predicts the target: records were numbered by outcome."""
    y = pd.Series(np.asarray(y), index=frame.index)
    findings = []
    for column in id_columns:
        ids = frame[column]
        digits = ids.astype(str).str.extract(r"(\d+)", expand=False)
        order = pd.to_numeric(digits, errors="coerce") if not pd.api.types.is_numeric_dtype(ids) else ids
        if order.notna().mean() < 0.9:
            order = ids.astype(str).rank(method="dense")
        part = sample(pd.DataFrame({"order": order.astype(float), "y": y}).dropna(), seed=seed)
        if len(part) < 30:
            continue
        score = single_feature_score(part["order"], part["y"].to_numpy(), task, "numeric", seed)
        limit = ID_ORDER_R2 if task == "regression" else ID_ORDER_AUC
        if score >= limit:
            name = "R²" if task == "regression" else "ROC-AUC"
            findings.append(Finding(
                "id_order", "warning",
                f"The order of id column '{column}' predicts the target (cross-validated {name} {score:.3f} "
                f">= {limit}): ids were assigned in a way that depends on the outcome.",
                {"column": column, "metric": name, "score": round(score, 4), "limit": limit},
                f"Keep '{column}' out of the features and check that none is derived from it; if ids follow "
                "time, set data.time_column for a time-ordered split.",
            ))
    return findings


def _reference_time(frame: pd.DataFrame, spec_value: str, key: str) -> pd.Series:
    if spec_value in frame.columns:
        times = as_time(frame[spec_value])
        if times is None:
            raise DataError(f"data.{key} column '{spec_value}' does not hold dates; use ISO dates like 2024-01-31.")
        return times
    try:
        moment = pd.Timestamp(spec_value)
    except (ValueError, TypeError):
        raise DataError(
            f"data.{key} '{spec_value}' is neither a column nor a date; name a column or give an ISO date like 2024-01-31."
        ) from None
    return pd.Series(moment, index=frame.index)


def check_timestamps(frame: pd.DataFrame, event_time: str | None = None, prediction_time: str | None = None,
                     roles: dict[str, str] | None = None, min_share: float = 0.05) -> list[Finding]:
    """Flag date columns recorded after the outcome (``event_time``) or after the prediction is made.

    ``event_time`` names the column holding when the outcome happened; ``prediction_time`` names a
    column holding when each prediction is made, or gives one date for all rows. A date feature
    later than the reference in at least ``min_share`` of the rows is flagged (an error).
    """
    roles = roles_of(frame, roles)
    findings = []
    refs = [("event_time", event_time, "timestamp_after_outcome", "after the outcome it should predict"),
            ("prediction_time", prediction_time, "not_available_at_prediction", "after the prediction is made")]
    for key, value, check, when in refs:
        if not value:
            continue
        ref = _reference_time(frame, value, key)
        for column in frame.columns:
            if column in (event_time, prediction_time) or roles[column] not in ("datetime", "categorical", "text"):
                continue
            times = as_time(frame[column])
            if times is None:
                continue
            both = pd.DataFrame({"t": pd.to_datetime(times), "ref": pd.to_datetime(ref)}).dropna()
            if both.empty:
                continue
            later = float((both["t"] > both["ref"]).mean())
            if later >= min_share:
                findings.append(Finding(
                    check, "error",
                    f"Column '{column}' is recorded {when} in {later:.0%} of rows (reference: {key} '{value}').",
                    {"column": column, "share_after": round(later, 4), "reference": value, "n_rows": len(both)},
                    f"Drop '{column}' (data.drop) or rebuild it from data known before {key}.",
                ))
    return findings
