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

#: Fewer training rows than this say too little to call anything near-certain (3 folds of 10 rows).
MIN_ROWS = 30
#: Below this many rows the pairs' trees may end in leaves of 2 rows (else 5).
SMALL_ROWS = 200
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
#: A column that one other column and the target rebuild leaving at most this share of its variance out of
#: sample, and at most COMPUTED_GAIN of what either leaves alone, is a candidate ``a = f(b, y)``; only the
#: COMPUTED_SUSPECTS columns strongest alone are tried as ``a``.
COMPUTED_LEFT = 0.05
COMPUTED_GAIN = 0.2
COMPUTED_SUSPECTS = 10
#: The columns whose linear combinations are screened (closed form: cheap for hundreds).
PAIR_MAX_LINEAR = 400
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
                         roles: dict[str, str] | None = None, *, seed: int) -> list[Finding]:
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
    seed
        The sample's, the folds' and the models' seed (the workflow passes the spec's).
    """
    y = pd.Series(np.asarray(y), index=frame.index)
    keep = y.notna().to_numpy()
    frame = sample(frame[keep], 2000, seed=seed)
    target = y.loc[frame.index].to_numpy()
    if len(frame) < MIN_ROWS or (task != "regression" and len(np.unique(target)) < 2):
        return []
    roles = roles_of(frame, roles)
    columns = [c for c in frame.columns if roles[c] != "id"]
    single: dict[str, float] = {}
    for column in columns:
        oof, classes = single_feature_oof(frame[column], target, task, roles[column], seed=seed)
        single[column] = oof_error(oof, target, classes)
    findings = []
    for column in sorted(single, key=single.__getitem__):
        if single[column] > CERTAIN_ERROR:
            break
        rest = _rest_error(frame[[c for c in columns if c != column]], target, task, roles, seed)
        if single[column] <= ERROR_RATIO * rest:
            findings.append(_finding([column], single[column], rest, task, len(frame)))
    flagged = {f.evidence["column"] for f in findings}
    with threadpool_limits(1):  # hundreds of small products: BLAS threads only contend (10x slower on 2 cores)
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

    Every pair is screened by cheap in-sample measures, and the best few of each screen are then
    cross-validated (a tree of 16 leaves on one derived column; a gradient-boosted model on a joint pair):

    - the best linear combination of the two columns, over *every* numeric column (closed form from
      2 x 2 covariance matrices: no column has to look useful alone, as each half of a difference does not);
    - of the :data:`PAIR_MAX_NUMERIC` columns strongest alone: their difference and ratios (32 bins);
      the two jointly (8 x 8 cells: any function of two columns); and whether one is computed from the
      other and the target (:func:`_computed_from`), cross-validated by reading the target back
      (:func:`_inverse_error`).

    A regression target is taken as its ranks here (a pair that determines it determines them).
    """
    numeric = [c for c in columns if roles[c] == "numeric" and pd.api.types.is_numeric_dtype(frame[c])]
    if len(numeric) < 2:
        return None
    numeric = sorted(numeric, key=single.__getitem__)[:PAIR_MAX_LINEAR]
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), min(PAIR_ROWS, len(frame)), replace=False))
    # beyond float32's range a value is no more known than a missing one (the trees compute in float32)
    values = finite_float(frame[numeric].iloc[rows].to_numpy(dtype=float, na_value=np.nan, copy=True))
    t = y[rows]
    if task == "regression":  # a target determined by the pair is determined on any monotone scale: ranks
        t = pd.Series(t).rank().to_numpy() / len(t)
    codes = np.unique(t, return_inverse=True)[1] if task != "regression" else None
    # (pair, the derived column(s) a model is cross-validated on or None for the inverse regression, leaves)
    candidates: list[tuple[tuple[int, int], np.ndarray | None, int]] = [
        ((i, j), d[:, None], 16) for i, j, d in _linear_leads(values, t, codes)]
    top = min(len(numeric), PAIR_MAX_NUMERIC)
    bins = [_bin(values[:, i], 8) for i in range(top)]
    screened, joint = [], []
    for i, j in combinations(range(top), 2):
        a, b = values[:, i], values[:, j]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for d in (a - b, a / b, b / a):
                screened.append((_binned_error(_bin(d, 32), t, codes), i, j, d))
        joint.append((_binned_error(bins[i] * 9 + bins[j], t, codes), i, j))
    for found in (screened, joint):
        found.sort(key=lambda s: s[0])
    candidates += [((i, j), np.where(np.abs(d) < 1e30, d, np.nan)[:, None], 16)  # trees take NaN, not inf
                   for _, i, j, d in screened[:PAIR_SCREENED]]
    candidates += [((i, j), values[:, [i, j]], 64) for _, i, j in joint[:PAIR_LEADS]]
    candidates += [((i, j), None, 0) for i, j, _ in _computed_from(values[:, :top], t, codes, PAIR_LEADS)]
    limit = PAIR_CERTAIN_RANK_ERROR if task == "regression" else PAIR_CERTAIN_ERROR
    # a class of 8 rows has 5 in a training fold: a leaf of 5 rows could not hold it
    min_leaf = 5 if len(t) >= SMALL_ROWS else 2
    best = None
    for (i, j), X, leaves in candidates:
        if X is None:
            error = _inverse_error(values, i, j, t, codes, task, seed)
        elif leaves <= 16:
            error = _tree_error(X, t, task, seed, leaves, min_leaf)
        else:
            error = _boosted_error(X, t, task, seed)
        alone = min(single[numeric[i]], single[numeric[j]])
        if error <= limit and error <= PAIR_GAIN * alone and (best is None or error < best[1]):
            best = ((numeric[i], numeric[j]), error)
    return best


def _linear_leads(values: np.ndarray, t: np.ndarray, codes: np.ndarray | None
                  ) -> list[tuple[int, int, np.ndarray]]:
    """The :data:`PAIR_LEADS` pairs whose best linear combination comes closest to determining the target.

    For classes, the combination ``w·(a, b)`` with the least within-class share of its variance (the
    smaller root of ``det(W - λT) = 0`` for the pair's within-class and total 2 x 2 covariances: Fisher's
    discriminant of two columns); for a regression target (ranks), the least unexplained share of a
    linear fit. Closed forms for every pair at once, so a table of hundreds of columns is screened in
    milliseconds. Missing values count as the column's mean here; the returned combinations keep them missing.
    """
    filled = np.where(np.isnan(values), np.nanmean(values, axis=0), values)
    filled = np.nan_to_num(filled)
    centred = filled - filled.mean(axis=0)
    n, p = centred.shape
    total = centred.T @ centred / n
    if codes is None:
        ty = (t - t.mean()) / (t.std() or 1.0)
        c = centred.T @ ty / n  # covariance of each column with the target
        within = None
    else:
        means = np.zeros_like(filled)
        for k in np.unique(codes):
            means[codes == k] = filled[codes == k].mean(axis=0)
        w_centred = filled - means
        within = w_centred.T @ w_centred / n
    i, j = np.triu_indices(p, 1)
    t11, t22, t12 = total[i, i], total[j, j], total[i, j]
    det_t = t11 * t22 - t12 ** 2
    ok = det_t > 1e-12 * np.maximum(t11 * t22, 1e-300)  # collinear pairs (a copy, a constant) say nothing new
    with np.errstate(divide="ignore", invalid="ignore"):
        if within is None:  # 1 - R² of the linear fit of the ranks on (a, b)
            c1, c2 = c[i], c[j]
            share = 1.0 - (c1 ** 2 * t22 - 2 * c1 * c2 * t12 + c2 ** 2 * t11) / det_t
            w1, w2 = (c1 * t22 - c2 * t12) / det_t, (c2 * t11 - c1 * t12) / det_t
        else:  # the smaller generalised eigenvalue of (W, T), and its eigenvector
            w11, w22, w12 = within[i, i], within[j, j], within[i, j]
            det_w = w11 * w22 - w12 ** 2
            b = w11 * t22 + w22 * t11 - 2 * w12 * t12
            share = (b - np.sqrt(np.maximum(b ** 2 - 4 * det_t * det_w, 0.0))) / (2 * det_t)
            w1, w2 = -(w12 - share * t12), w11 - share * t11
    share = np.where(ok & np.isfinite(share), share, np.inf)
    leads = []
    for k in np.argsort(share)[:PAIR_LEADS]:
        if not np.isfinite(share[k]):
            break
        a, b = int(i[k]), int(j[k])
        leads.append((a, b, w1[k] * values[:, a] + w2[k] * values[:, b]))
    return leads


def _computed_from(values: np.ndarray, t: np.ndarray, codes: np.ndarray | None, leads: int
                   ) -> list[tuple[int, int, float]]:
    """Columns ``a`` that one other column ``b`` and the target rebuild near-exactly: ``a = f(b, y)``.

    ``a`` (and its log, when positive) is fitted by least squares on a cubic of ``b`` per class, or on
    the bivariate cubic of ``b`` and the target's rank, which holds sums, products and ratios of the two
    (``x · (1 + y)²``, ``x + y``) closely; the out-of-sample share of ``a``'s variance left unexplained
    is read from the leave-one-out residuals (PRESS), and must be far below what ``b`` alone or the
    target alone leave. Only the :data:`PAIR_MAX_NUMERIC` first columns are fitted (``a`` among the
    :data:`COMPUTED_SUSPECTS` first: a column computed from the target predicts it fairly well alone).
    Returns ``(a, b, unexplained share)`` of the ``leads`` best, best first.
    """
    target_basis = _target_basis(t, codes)
    found = []
    for i in range(min(COMPUTED_SUSPECTS, values.shape[1])):
        for j in range(values.shape[1]):
            if i == j:
                continue
            present = ~np.isnan(values[:, i]) & ~np.isnan(values[:, j])
            if present.sum() < 20:
                continue
            z = _standardised(values[present, j])
            if z is None:
                continue
            a = values[present, i]
            scales = [a] + ([np.log(a)] if a.min() > 0 else [])
            by_b = _cubic(z)
            both = _joint_basis(z, target_basis[present], codes is not None)
            for v in scales:
                both_left = _loo_unexplained(both, v)
                if both_left > COMPUTED_LEFT:
                    continue
                alone = min(_loo_unexplained(by_b, v), _loo_unexplained(target_basis[present], v))
                if both_left <= COMPUTED_GAIN * alone:
                    found.append((i, j, both_left))
    best: dict[tuple[int, int], float] = {}
    for i, j, left in sorted(found, key=lambda f: f[2]):
        best.setdefault((i, j), left)  # a pair found on both scales counts once, at its better fit
    return [(i, j, left) for (i, j), left in best.items()][:leads]


def _inverse_error(values: np.ndarray, i: int, j: int, t: np.ndarray, codes: np.ndarray | None, task: str,
                   seed: int) -> float:
    """Out-of-fold error of reading the target back from ``a = f(b, y)`` fitted on the other folds.

    Each held-out row gets the class (or, for regression, the rank on a grid of 101) whose fitted
    ``f(b, ·)`` comes nearest its ``a``: an inverse regression, the classifier a column computed from
    the target and another column makes. Rows missing ``a`` or ``b`` get the training majority (mean).
    """
    a_all, b_all = values[:, i], values[:, j]
    present = ~np.isnan(a_all) & ~np.isnan(b_all)
    z_all = np.zeros(len(t))
    z = _standardised(b_all[present])
    if z is None:
        return 1.0
    z_all[present] = z
    log = bool(present.any() and a_all[present].min() > 0)
    a_fit = np.log(np.where(present, a_all, 1.0)) if log else np.where(present, a_all, 0.0)
    basis = _target_basis(t, codes)
    classify = codes is not None
    classes = np.unique(t) if classify else None
    oof = np.zeros((len(t), len(classes))) if classes is not None else np.zeros(len(t))
    grid = np.linspace(0.0, 1.0, 101)
    for fit_idx, pred_idx in folds_for(t, task, seed).split(values, t):
        fit_idx = fit_idx[present[fit_idx]]
        design = _joint_basis(z_all[fit_idx], basis[fit_idx], classify)
        coef = np.linalg.lstsq(design, a_fit[fit_idx], rcond=None)[0]
        ok = pred_idx[present[pred_idx]]
        if codes is not None and classes is not None:
            oof[pred_idx] = np.bincount(codes[fit_idx], minlength=len(classes)) / max(len(fit_idx), 1)
            if len(ok):
                options = [_joint_basis(z_all[ok], np.tile(np.eye(len(classes))[k], (len(ok), 1)), True) @ coef
                           for k in range(len(classes))]
                nearest = np.argmin(np.abs(np.column_stack(options) - a_fit[ok, None]), axis=1)
                oof[ok] = np.eye(len(classes))[nearest]
        else:
            oof[pred_idx] = t[fit_idx].mean()
            if len(ok):
                options = [_joint_basis(z_all[ok], _target_basis(np.full(len(ok), g), None), False) @ coef
                           for g in grid]
                oof[ok] = grid[np.argmin(np.abs(np.column_stack(options) - a_fit[ok, None]), axis=1)]
    return oof_error(oof, t, classes)


def _standardised(x: np.ndarray) -> np.ndarray | None:
    scale = x.std()
    return None if not np.isfinite(scale) or scale <= 0 else (x - x.mean()) / scale


def _cubic(z: np.ndarray) -> np.ndarray:
    """The columns 1, z, z², z³."""
    return np.column_stack([z ** k for k in range(4)])


def _target_basis(t: np.ndarray, codes: np.ndarray | None) -> np.ndarray:
    """One column per class (classification), or the cubic of the target's rank in [0, 1] mapped to [-1, 1]."""
    if codes is not None:
        return np.eye(codes.max() + 1)[codes]
    return _cubic(2.0 * t - 1.0)


def _joint_basis(z: np.ndarray, target_basis: np.ndarray, classify: bool) -> np.ndarray:
    """A cubic of ``b`` per class, or the bivariate cubic of ``b`` and the target's rank."""
    powers = _cubic(z)
    if classify:
        return (target_basis[:, :, None] * powers[:, None, :]).reshape(len(z), -1)
    return np.column_stack([powers[:, k] * target_basis[:, m] for k in range(4) for m in range(4) if k + m <= 3])


def _loo_unexplained(design: np.ndarray, v: np.ndarray) -> float:
    """The share of ``v``'s variance a least-squares fit on ``design`` leaves, out of sample (PRESS / SST).

    From the normal equations: the design has at most 40 columns, so its k x k Gram matrix is solved in
    microseconds where a QR of the n x k design costs milliseconds, and hundreds of pairs are fitted.
    """
    inverse = np.linalg.pinv(design.T @ design, hermitian=True)
    projected = design @ inverse
    residual = v - projected @ (design.T @ v)
    leverage = np.minimum(np.einsum("ij,ij->i", projected, design), 1 - 1e-9)
    total = float(((v - v.mean()) ** 2).sum())
    return float((((residual / (1 - leverage)) ** 2).sum() / total)) if total > 0 else 1.0


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
