"""Target leakage: features that know the answer, or were recorded after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.model_selection import KFold

from .._columns import finite_float
from .._findings import Finding
from ..exceptions import DataError
from ._frame import as_time, roles_of, sample
from ._oof import single_feature_score
from ._relative import check_relative_leaks

__all__ = ["check_derived_target", "check_id_order", "check_target_leakage", "check_timestamps"]

#: A regression target that one linear formula of at most DERIVED_MAX numeric features rebuilds with at
#: least this out-of-fold R² (on the values, or on their logs: products and ratios) is computed from them.
DERIVED_R2 = 0.999
DERIVED_MAX = 3
#: The features most correlated with the target that the formulas are built from (every pair is tried).
DERIVED_CANDIDATES = 30
DERIVED_SEARCH_ROWS = 1000
#: An id whose row order scores at least this (ROC-AUC; R² for regression: ID_ORDER_R2) is flagged.
ID_ORDER_AUC = 0.70
ID_ORDER_R2 = 0.30


def _is_function_of_target(x: pd.Series, y: pd.Series, task: str) -> str | None:
    """'copy', 'function' or 'near copy' when the feature is the target, a function of it, or the class in most rows."""
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
    if both.groupby("y")["x"].nunique().max() == 1:
        return "function"
    return "near copy" if _near_relabelling(both["x"].astype(str), both["y"]) else None


#: A column of few values that names the class in this share of each class's rows (on average) is a copy.
NEAR_COPY_RECALL = 0.9


def _near_relabelling(x: pd.Series, y: pd.Series) -> bool:
    """Whether a column of at most twice as many values as classes maps its values to the classes in most rows.

    Each value is read as the class most of its rows hold; the column is a near copy when that reading
    recognises :data:`NEAR_COPY_RECALL` of each class's rows on average (a balanced accuracy, so a
    majority class alone does not make it) — a column equal to the class in 97 % of rows, say.
    """
    n_classes = y.nunique()
    if n_classes < 2 or x.nunique() > 2 * n_classes:
        return False
    reading = pd.crosstab(x, y).idxmax(axis=1)
    recalls = (x.map(reading) == y).groupby(y).mean()
    return bool(recalls.mean() >= NEAR_COPY_RECALL)


def check_target_leakage(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str,
                         roles: dict[str, str] | None = None, *, seed: int) -> list[Finding]:
    """Flag features that are the target, a function of it, or predict it near-certainly beyond the rest.

    Exact copies and functions of the target are found directly; a regression target rebuilt by one
    formula of a few features by :func:`check_derived_target`; a column, or a pair of numeric columns,
    that predicts the target near-certainly and far beyond all other columns together by
    :func:`~mlsmith.guards._relative.check_relative_leaks` (judged against the rest of the table,
    not one fixed score).

    Parameters
    ----------
    frame
        The training features (a sample of :data:`~mlsmith.guards._frame.MAX_ROWS` rows is used).
    y
        The training target, aligned with ``frame``; for classification, the encoded classes.
    task
        The problem's task type.
    roles
        Column roles (the schema's); inferred when not given.
    seed
        The sample's, the folds' and the models' seed (the workflow passes the spec's).
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
            what = {"copy": "a copy of the target", "function": "a deterministic function of the target",
                    "near copy": "the class itself in most rows (each of its values names one class)"}[kind]
            findings.append(Finding(
                "target_leakage", "error",
                f"Feature '{column}' is {what}: it carries the answer, not a signal available before it.",
                {"column": column, "relation": kind, "n_rows_checked": len(frame)},
                f"Remove '{column}' (add it to data.drop) unless it is truly known when the prediction is made.",
            ))
    flagged = {f.evidence["column"] for f in findings}
    rest = frame[[c for c in frame.columns if c not in flagged]]
    findings += check_derived_target(rest, y, task, roles, seed=seed)
    flagged |= {c for f in findings for c in f.evidence.get("columns", [])}
    return findings + check_relative_leaks(frame[[c for c in frame.columns if c not in flagged]], y, task, roles, seed=seed)


def check_derived_target(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str,
                         roles: dict[str, str] | None = None, *, seed: int) -> list[Finding]:
    """Flag a regression target that a few numeric features rebuild by one formula.

    A target computed from other columns — a price that is the midpoint of a minimum and a maximum
    price, a total that is a sum of parts or quantity × unit price — is predicted perfectly by them,
    yet no single one of them gives it away, so the single-feature checks miss it. Every pair of
    the :data:`DERIVED_CANDIDATES` features most correlated with the target, and the best pairs
    with a third feature, are fitted by least squares: on the values (sums, means, differences) and,
    when all are positive, on their logarithms (products, ratios, powers). A set whose out-of-fold
    R² (3 folds, on the rows where its columns are known) reaches :data:`DERIVED_R2` is a leak.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"low": rng.uniform(5, 50, 200), "spread": rng.uniform(1, 9, 200),
    ...                       "noise": rng.normal(size=200)})
    >>> frame["high"] = frame["low"] + frame.pop("spread")
    >>> [finding] = check_derived_target(frame, (frame["low"] + frame["high"]) / 2, "regression", seed=0)
    >>> finding.evidence["columns"], finding.evidence["relation"]
    (['low', 'high'], 'values: target ≈ 0.5·low + 0.5·high')
    """
    if task != "regression":
        return []
    target = pd.Series(np.asarray(y, dtype=float), index=frame.index)
    keep = np.isfinite(target.to_numpy())
    frame = sample(frame[keep], seed=seed)
    t = target.loc[frame.index].to_numpy()
    roles = roles_of(frame, roles)
    numeric = [c for c in frame.columns if roles[c] == "numeric" and pd.api.types.is_numeric_dtype(frame[c])]
    # an infinity (or a float32 overflow) is no more known than a missing value
    values = finite_float(frame[numeric].to_numpy(dtype=float, na_value=np.nan, copy=True))
    best = None
    for scale in ("values", "logs"):
        cols, X = numeric, values
        if scale == "logs":
            positive = (np.nan_to_num(values, nan=1.0) > 0).all(axis=0)
            if (t <= 0).any() or positive.sum() < 2:
                continue
            cols, X = [c for c, ok in zip(numeric, positive) if ok], np.log(values[:, positive])
        found = _rebuild(X, np.log(t) if scale == "logs" else t, seed)
        if found and (best is None or found[1] > best[1]):
            best = ([cols[j] for j in found[0]], found[1], found[2], scale)
    if best is None or best[1] < DERIVED_R2:
        return []
    columns, r2, coef, scale = best
    names = [f"'{c}'" for c in columns]
    if scale == "values":
        negligible = abs(coef[0]) <= 1e-9 * float(np.abs(t).mean())  # a rounding error, not a term
        terms = [f"{b:.4g}·{c}" for b, c in zip(coef[1:], columns)] + ([] if negligible else [f"{coef[0]:.4g}"])
        formula = " ".join([terms[0], *(f"- {x[1:]}" if x.startswith("-") else f"+ {x}" for x in terms[1:])])
    else:
        formula = f"{np.exp(coef[0]):.4g}·" + "·".join(f"{c}^{b:.3g}" for b, c in zip(coef[1:], columns))
    return [Finding(
        "target_leakage", "error",
        f"One formula of {', '.join(names[:-1])} and {names[-1]} rebuilds the target, target ≈ {formula} "
        f"(out-of-fold R² {r2:.5f} >= {DERIVED_R2}): it is computed from them, so they carry the answer.",
        {"columns": columns, "relation": f"{scale}: target ≈ {formula}", "r2": round(r2, 6), "limit": DERIVED_R2,
         "n_rows_checked": len(frame)},
        f"If the target is computed from {', '.join(names)}, they are not known before it: add them to data.drop. "
        "If they are known when the prediction is made, the formula is the model.",
    )]


def _rebuild(values: np.ndarray, t: np.ndarray, seed: int) -> tuple[list[int], float, np.ndarray] | None:
    """The best set of 2 to DERIVED_MAX columns for a least-squares fit of ``t``: (columns, R², coefficients).

    The sets are searched on at most DERIVED_SEARCH_ROWS rows (an exact formula holds on any rows);
    the best one's R² and coefficients are then computed on all of them.
    """
    n, p = values.shape
    if p < 2 or n < 20:
        return None
    corr = pd.DataFrame(values).corrwith(pd.Series(t)).abs().fillna(0.0).to_numpy()
    top = [int(j) for j in np.argsort(-corr, kind="stable")[:DERIVED_CANDIDATES]]
    fold = np.empty(n, dtype=int)
    for k, (_, part) in enumerate(KFold(3, shuffle=True, random_state=seed).split(values)):
        fold[part] = k
    search = np.sort(np.random.default_rng(seed).choice(n, DERIVED_SEARCH_ROWS, replace=False)) \
        if n > DERIVED_SEARCH_ROWS else np.arange(n)

    def design(cols: list[int], among: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """An intercept and the columns, the target and the folds, on the rows where the columns are known."""
        X = values[np.ix_(among, np.asarray(cols, dtype=np.intp))]
        rows = ~np.isnan(X).any(axis=1)
        return np.column_stack([np.ones(rows.sum()), X[rows]]), t[among][rows], fold[among][rows]

    def oof_r2(cols: list[int], among: np.ndarray) -> float:
        A, b, f = design(cols, among)
        if len(b) < max(20, 10 * len(cols)):
            return -np.inf
        pred = np.empty_like(b)
        for k in range(3):
            coef = np.linalg.lstsq(A[f != k], b[f != k], rcond=None)[0]
            pred[f == k] = A[f == k] @ coef
        total = np.sum((b - b.mean()) ** 2)
        return 1.0 - np.sum((b - pred) ** 2) / total if total > 0 else -np.inf

    scored = sorted(((oof_r2([i, j], search), [i, j]) for a, i in enumerate(top) for j in top[a + 1:]),
                    key=lambda s: -s[0])
    best_r2, best = scored[0]
    if best_r2 < DERIVED_R2 and DERIVED_MAX >= 3:
        for _, pair in scored[:3]:
            for j in top:
                if j not in pair and (r2 := oof_r2([*pair, j], search)) > best_r2:
                    best_r2, best = r2, [*pair, j]
    if best_r2 < DERIVED_R2:
        return None
    best = sorted(best)  # in the frame's order
    everything = np.arange(n)
    A, b, _ = design(best, everything)
    return best, oof_r2(best, everything), np.linalg.lstsq(A, b, rcond=None)[0]


def check_id_order(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str, id_columns: list[str],
                   *, seed: int) -> list[Finding]:
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
        score = single_feature_score(part["order"], part["y"].to_numpy(), task, "numeric", seed=seed)
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
