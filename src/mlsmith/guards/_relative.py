"""Leak evidence judged against the rest of the table: columns and column pairs that are near-certain.

A fixed cut on one column's score (ROC-AUC 0.98) misses a column that equals the class in 97 % of
rows (0.96-0.97) and flags nothing that two columns give away together. Here a column, or a pair
of numeric columns, is a leak when it predicts the target near-certainly *and* far better than
every other column together: its out-of-fold error is at most :data:`ERROR_RATIO` of the error of a
gradient-boosted model of the rest of the table. The error is 1 - balanced accuracy for classes
(every class must be recognised, so a majority class does not make a column look certain) and
1 - R² for regression. A table whose other columns already predict the target as well (iris' petal
measurements) raises nothing: one more column that good is a signal, not a leak.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import cross_val_predict
from threadpoolctl import threadpool_limits

from .._columns import finite_float
from .._findings import Finding
from ._frame import encode, roles_of, sample
from ._oof import folds_for, single_feature_oof, tree_oof

__all__ = ["check_relative_leaks", "oof_error"]

#: A column (or pair) is near-certain when its out-of-fold error is at most this ...
CERTAIN_ERROR = 0.06
#: ... and at most this share of the error the rest of the table reaches.
ERROR_RATIO = 0.35
#: A pair must be closer to certain than a column: two real measurements together (penguins' bill length
#: and depth, 0.96 balanced accuracy) often come close; a planted function of the target is exact.
PAIR_CERTAIN_ERROR = 0.02
#: For regression the pair is judged on the target's ranks, which a model of two columns fitted on a few
#: hundred rows rebuilds less finely than it separates classes: 1 - R² of the ranks at most this.
PAIR_CERTAIN_RANK_ERROR = 0.05
#: A pair's error must also be at most this share of the better of its two columns alone.
PAIR_GAIN = 0.5
#: Rows the pairs are searched on, and the joint pairs cross-validated after the screen.
PAIR_ROWS = 1500
PAIR_LEADS = 3
PAIR_MAX_NUMERIC = 40
#: Pairs whose difference or ratio screens best, cross-validated.
PAIR_SCREENED = 8


def oof_error(oof: np.ndarray, y: np.ndarray, classes: np.ndarray | None) -> float:
    """1 - balanced accuracy of out-of-fold class probabilities, or 1 - R² of out-of-fold values."""
    if classes is None:
        return float(1.0 - r2_score(y, oof))
    return float(1.0 - balanced_accuracy_score(y, classes[np.argmax(oof, axis=1)]))


def _rest_error(frame: pd.DataFrame, y: np.ndarray, task: str, roles: dict[str, str], seed: int) -> float:
    """The out-of-fold error of a gradient-boosted model of ``frame`` (the columns other than a suspect)."""
    if frame.shape[1] == 0:
        return 1.0
    X = encode([frame], {c: roles[c] for c in frame.columns})[0]
    classify = task != "regression"
    model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
        max_iter=80, random_state=seed)
    with threadpool_limits(1):
        pred = cross_val_predict(model, X, y, cv=folds_for(y, task, seed),
                                 method="predict_proba" if classify else "predict")
    return oof_error(pred, y, np.unique(y) if classify else None)


def check_relative_leaks(frame: pd.DataFrame, y: pd.Series | np.ndarray, task: str,
                         roles: dict[str, str] | None = None, seed: int = 0) -> list[Finding]:
    """Flag columns and pairs of numeric columns that predict the target near-certainly, beyond the rest.

    Parameters
    ----------
    frame
        The training features (a sample of 2,000 rows is used); columns already flagged left out.
    y
        The training target aligned with ``frame`` (encoded classes, or values).
    task
        The problem's task type.
    roles
        Column roles (the schema's); inferred when not given.
    """
    y = pd.Series(np.asarray(y), index=frame.index)
    keep = y.notna().to_numpy()
    frame = sample(frame[keep], 2000, seed)
    target = y.loc[frame.index].to_numpy()
    if len(frame) < 50 or (task != "regression" and len(np.unique(target)) < 2):
        return []
    roles = roles_of(frame, roles)
    columns = [c for c in frame.columns if roles[c] != "id"]
    single: dict[str, float] = {}
    for column in columns:
        oof, classes = single_feature_oof(frame[column], target, task, roles[column], seed)
        single[column] = oof_error(oof, target, classes)
    findings = []
    for column in sorted(single, key=single.get):
        if single[column] > CERTAIN_ERROR:
            break
        rest = _rest_error(frame[[c for c in columns if c != column]], target, task, roles, seed)
        if single[column] <= ERROR_RATIO * rest:
            findings.append(_finding([column], single[column], rest, task, len(frame)))
    flagged = {f.evidence["column"] for f in findings}
    pair = _best_pair(frame, target, task, roles, [c for c in columns if c not in flagged], single, seed)
    if pair is not None:
        (a, b), error = pair
        rest = _rest_error(frame[[c for c in columns if c not in (a, b)]], target, task, roles, seed)
        if error <= ERROR_RATIO * rest:
            findings.append(_finding([a, b], error, rest, task, len(frame)))
    return findings


def _best_pair(frame: pd.DataFrame, y: np.ndarray, task: str, roles: dict[str, str], columns: list[str],
               single: dict[str, float], seed: int) -> tuple[tuple[str, str], float] | None:
    """The numeric pair with the lowest out-of-fold error, when near-certain and well below the
    error of both its columns alone (:data:`PAIR_GAIN`).

    Every pair is screened by in-sample binned fits (cheap): of its difference and ratios (32 bins), and of
    the two columns jointly (8 x 8 cells: any function of two columns). The best few of each are then
    cross-validated: a tree (16 leaves) on a difference or ratio, a gradient-boosted model on a joint pair.
    A regression target is taken as its ranks here (a pair that determines it determines them).
    """
    numeric = [c for c in columns if roles[c] == "numeric" and pd.api.types.is_numeric_dtype(frame[c])]
    numeric = sorted(numeric, key=single.get)[:PAIR_MAX_NUMERIC]
    if len(numeric) < 2:
        return None
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), min(PAIR_ROWS, len(frame)), replace=False))
    # beyond float32's range a value is no more known than a missing one (the trees compute in float32)
    values = finite_float(frame[numeric].iloc[rows].to_numpy(dtype=float, na_value=np.nan, copy=True))
    t = y[rows]
    if task == "regression":  # a target determined by the pair is determined on any monotone scale: ranks
        t = pd.Series(t).rank().to_numpy() / len(t)
    codes = np.unique(t, return_inverse=True)[1] if task != "regression" else None
    bins = [_bin(values[:, i], 8) for i in range(len(numeric))]
    screened, joint = [], []
    for i, j in combinations(range(len(numeric)), 2):
        a, b = values[:, i], values[:, j]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for d in (a - b, a / b, b / a):
                screened.append((_binned_error(_bin(d, 32), t, codes), i, j, d))
        joint.append((_binned_error(bins[i] * 9 + bins[j], t, codes), i, j))
    screened.sort(key=lambda s: s[0])
    joint.sort(key=lambda s: s[0])
    candidates = [((i, j), np.where(np.abs(d) < 1e30, d, np.nan)[:, None], 16)  # trees take NaN, not inf
                  for _, i, j, d in screened[:PAIR_SCREENED]]
    candidates += [((i, j), values[:, [i, j]], 64) for _, i, j in joint[:PAIR_LEADS]]
    limit = PAIR_CERTAIN_RANK_ERROR if task == "regression" else PAIR_CERTAIN_ERROR
    best = None
    for (i, j), X, leaves in candidates:
        error = _tree_error(X, t, task, seed, leaves, 5) if leaves <= 16 else _boosted_error(X, t, task, seed)
        alone = min(single[numeric[i]], single[numeric[j]])
        if error <= limit and error <= PAIR_GAIN * alone and (best is None or error < best[1]):
            best = ((numeric[i], numeric[j]), error)
    return best


def _bin(d: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bin of each value (0 to ``bins`` - 1); missing and infinite values get the bin ``bins``."""
    ok = np.isfinite(d)
    out = np.full(len(d), bins)
    if ok.sum() >= 2:
        edges = np.unique(np.quantile(d[ok], np.linspace(0, 1, bins + 1)[1:-1]))
        out[ok] = np.searchsorted(edges, d[ok])
    return out


def _binned_error(which: np.ndarray, t: np.ndarray, codes: np.ndarray | None) -> float:
    """In-sample error of a step function over bins (a screen, not evidence)."""
    if codes is None:
        y = t.astype(float)
        total = float(((y - y.mean()) ** 2).sum())
        if total <= 0:
            return 1.0
        n = np.bincount(which)
        means = np.bincount(which, weights=y) / np.maximum(n, 1)
        return float(((y - means[which]) ** 2).sum() / total)
    k = codes.max() + 1
    table = np.zeros((which.max() + 1, k))
    np.add.at(table, (which, codes), 1)
    predicted = table.argmax(axis=1)[which]
    recalls = [np.mean(predicted[codes == m] == m) for m in range(k) if (codes == m).any()]
    return float(1.0 - np.mean(recalls))


def _boosted_error(values: np.ndarray, y: np.ndarray, task: str, seed: int) -> float:
    """Out-of-fold error of a gradient-boosted model of two columns: any smooth function of the pair."""
    classify = task != "regression"
    model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(
        max_iter=60, learning_rate=0.2, min_samples_leaf=5, random_state=seed)
    with threadpool_limits(1):
        pred = cross_val_predict(model, values, y, cv=folds_for(y, task, seed),
                                 method="predict_proba" if classify else "predict")
    return oof_error(pred, y, np.unique(y) if classify else None)


def _tree_error(values: np.ndarray, y: np.ndarray, task: str, seed: int, leaves: int, min_leaf: int) -> float:
    oof, classes = tree_oof(values, y, task, seed, leaves, min_leaf)
    return oof_error(oof, y, classes)


def _finding(columns: list[str], error: float, rest: float, task: str, n_rows: int) -> Finding:
    name = "R²" if task == "regression" else "balanced accuracy"
    what = f"Feature '{columns[0]}' alone" if len(columns) == 1 else \
        f"Features '{columns[0]}' and '{columns[1]}' together (their difference, ratio or a function of both)"
    return Finding(
        "target_leakage", "error",
        f"{what} predict{'s' if len(columns) == 1 else ''} the target near-certainly (cross-validated {name} "
        f"{1 - error:.3f}), far beyond all the other columns together ({1 - rest:.3f}): a near-certain leak.",
        {**({"column": columns[0]} if len(columns) == 1 else {"columns": columns}), "metric": name, "score": round(1 - error, 4), "rest_score": round(1 - rest, 4),
         "error_ratio_limit": ERROR_RATIO, "certain_error_limit": CERTAIN_ERROR, "n_rows_checked": n_rows},
        f"Check how {' and '.join(repr(c) for c in columns)} are recorded; if set from or after the outcome, "
        "add them to data.drop.",
    )
