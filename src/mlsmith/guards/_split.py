"""The split: rows or entities shared by train and test, a shifted test split, ignored time order."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom, chi2, poisson, spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from ._finding import Finding
from ._frame import as_time, encode, roles_of, row_keys, sample

__all__ = ["check_adversarial", "check_contamination", "check_time_order"]

#: Test rows within this root-mean-square distance (in training standard deviations, all categories
#: equal) of a training row are near-duplicates.
NEAR_RMS = 0.01
#: Exact test rows beyond what chance makes plausible (a Poisson upper tail of this probability at the
#: chance-collision estimate) are contamination; fewer are reported as expected.
CHANCE_P = 1e-3
#: Adversarial validation: train vs test separable with at least this ROC-AUC is a shift.
SHIFT_AUC = 0.70
#: A datetime column whose rank correlation with the row position is at least this orders the rows.
ORDERED_RHO = 0.95


def check_contamination(train: pd.DataFrame, test: pd.DataFrame, features: list[str],
                        roles: dict[str, str] | None = None, group_column: str | None = None,
                        id_columns: list[str] | tuple[str, ...] = (), seed: int = 0,
                        y: np.ndarray | pd.Series | None = None) -> list[Finding]:
    """Flag test rows that also appear in train (exactly or nearly) and entities in both splits.

    Exact duplicates are counted on all rows and judged against chance: the number of test rows
    that would find an identical training row if the columns were independent, from each column's
    value frequencies in train (:func:`chance_matches`); with the training target ``y``, at least
    the rate at which distinct training records (equal features, different targets) collide
    (:func:`distinct_record_matches`), which holds when the columns depend on each other. Within what
    that estimate makes plausible, shared rows are expected (info, with the estimate); beyond it, contamination (a warning, an
    error from 5 % of the test rows). Near-duplicates are counted on a sample of 2,000 test rows
    against 20,000 training rows, and only beyond chance: in a space of few continuous features
    (ISLP's Default has two) rows fall close together at random, so the count is the excess over the
    rate at which held-back training rows find such a neighbour among the same 20,000.
    """
    findings = []
    keys = row_keys(train[features])
    within = float(keys.duplicated().mean()) if len(keys) else 0.0
    exact = row_keys(test[features]).isin(set(keys)).to_numpy()
    n_exact = int(exact.sum())
    independent = chance_matches(train[features], test[features]) if n_exact else 0.0
    distinct = distinct_record_matches(keys, y, len(test)) if n_exact and y is not None else 0.0
    expected = max(independent, distinct)
    plausible_exact = int(poisson.isf(CHANCE_P, expected)) if n_exact else 0
    k, checked, k_chance, n_probe = _near_duplicates(train[features], test[features][~exact], roles, seed)
    near_rate = k / max(checked, 1)
    chance_rate = k_chance / max(n_probe, 1)
    # Beyond chance: more near test rows than a binomial at the chance rate makes plausible (p < 0.001;
    # the rate is bounded away from zero by one pseudo-count, since few probes may find none by luck).
    plausible = binom.isf(1e-3, checked, (k_chance + 1) / (n_probe + 1)) if checked else 0
    excess = near_rate - chance_rate
    n_near = int(round(excess * (~exact).sum())) if k > plausible and excess > 0 else 0
    n_shared = n_exact + n_near
    if n_shared:
        share = n_shared / len(test)
        evidence = {"n_test": len(test), "n_exact": n_exact, "n_exact_by_chance": round(expected, 2),
                    "n_exact_by_chance_independent_columns": round(independent, 2),
                    "n_exact_by_chance_distinct_records": None if y is None else round(distinct, 2),
                    "n_exact_plausible": plausible_exact, "n_near": n_near, "share": round(share, 4),
                    "near_rms_limit": NEAR_RMS, "n_near_checked": checked, "near_rate": round(near_rate, 4),
                    "near_rate_by_chance": round(chance_rate, 4), "train_duplicate_share": round(within, 4)}
        shared = (f"{n_shared} test rows ({share:.1%}) also appear in the training split ({n_exact} exact"
                  f"{f', about {n_near} near-duplicates' if n_near else ''})")
        if not n_near and n_exact <= plausible_exact:
            findings.append(Finding(
                "contamination", "info",
                f"{shared}, as chance allows: about {expected:.1f} test rows (at most) would match a training row "
                f"by chance, {_chance_basis(independent, distinct)}, so up to {plausible_exact} is plausible.",
                evidence, "Nothing to do unless repeated rows are the same record entered twice (then drop them).",
            ))
        else:
            findings.append(Finding(
                "contamination", "error" if share >= 0.05 else "warning",
                f"{shared}, where chance allows about {expected:.1f} exact matches (up to {plausible_exact}): the "
                "test score rewards memorising them.", evidence,
                "Remove duplicate rows before the split, or name the entity as data.group_column so the split keeps "
                "each one on one side.",
            ))
    for column, severity in [(group_column, "error"), *((c, "warning") for c in id_columns)]:
        if not column:
            continue
        shared = set(train[column].dropna()) & set(test[column].dropna())
        if shared:
            in_test = int(test[column].isin(shared).sum())
            findings.append(Finding(
                "contamination", severity,
                f"{len(shared)} values of '{column}' appear in both train and test ({in_test} test rows): "
                "the same entity is on both sides of the split.",
                {"column": column, "n_shared": len(shared), "n_test_rows": in_test,
                 "examples": [str(v) for v in sorted(shared, key=str)[:5]]},
                f"Split by group: set data.group_column: {column}." if column != group_column else
                "Use a group split (data.group_column without data.time_column), or drop the repeated entities from test.",
            ))
    return findings


def _chance_basis(independent: float, distinct: float) -> str:
    if distinct > independent:
        return "from the rate at which distinct training records (different targets) share all feature values"
    return "from the columns' value frequencies, were the columns independent"


def distinct_record_matches(keys: pd.Series, y: np.ndarray | pd.Series, n_test: int) -> float:
    """Expected number of test rows with an identical training row by chance, from the training rows.

    Training rows whose features equal another's but whose target differs are distinct records that
    collide by chance (copies of one record carry one target). Their share of the training rows,
    divided by the chance that two records share the target (which hides the other collisions),
    estimates how often a new record finds a feature twin; it holds whatever the columns' dependence.
    The counts of colliding rows are themselves samples: their 99 % upper Poisson bounds are used, once
    at least one collision is seen (none seen: no sign that records collide by chance).

    Examples
    --------
    >>> keys = np.arange(1000); keys[1::50] = keys[::50]  # 20 pairs of rows with equal features
    >>> y = np.arange(1000) % 2  # and different targets: 40 colliding rows of 1,000
    >>> round(distinct_record_matches(pd.Series(keys), y, 100), 1)  # capped by the twins: 99 % bound of 40 / 1,000
    5.7
    """
    y = pd.Series(np.asarray(y), index=keys.index).astype(str)
    n_targets = pd.DataFrame({"k": keys.to_numpy(), "y": y.to_numpy()}).groupby("k")["y"].transform("nunique")
    n_rows = max(len(keys), 1)
    share_distinct = _upper(int((n_targets > 1).sum())) / n_rows
    share_twinned = _upper(int(keys.duplicated(keep=False).sum())) / n_rows  # no more than all twins
    p = y.value_counts(normalize=True).to_numpy()
    hidden = float((p ** 2).sum())  # two records drawn at random share the target
    return n_test * min(share_distinct / max(1.0 - hidden, 1e-9), share_twinned, 1.0)


def _upper(count: int) -> float:
    """The 99 % upper Poisson bound of a count (0 stays 0)."""
    return float(chi2.ppf(0.99, 2 * (count + 1)) / 2) if count else 0.0


def chance_matches(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Expected number of test rows with an identical training row, were the columns independent.

    A test row's chance of equalling one random training row is the product over columns of its
    value's frequency in train (missing counts as a value); over ``len(train)`` rows it finds a twin
    with probability 1 - (1 - q)^n. Few discrete columns give a large estimate, one continuous
    column a negligible one.

    Examples
    --------
    >>> train = pd.DataFrame({"a": ["x", "y"] * 50, "b": [0, 1, 2, 3] * 25})
    >>> round(chance_matches(train, pd.DataFrame({"a": ["x", "z"], "b": [0, 0]})), 3)  # 'z' never in train
    1.0
    """
    log_q = np.zeros(len(test))
    for column in train.columns:
        codes, _ = pd.factorize(pd.concat([train[column], test[column]], ignore_index=True), use_na_sentinel=False)
        freq = np.bincount(codes[:len(train)], minlength=codes.max() + 1) / max(len(train), 1)
        with np.errstate(divide="ignore"):
            log_q += np.log(freq[codes[len(train):]])
    return float(-np.expm1(len(train) * np.log1p(-np.exp(log_q))).sum())


def _near_duplicates(train: pd.DataFrame, test: pd.DataFrame, roles, seed: int) -> tuple[int, int, int, int]:
    """(test rows with a near-duplicate in train, test rows checked, training rows with a near-duplicate
    among the other training rows, training rows checked).

    The second pair is what chance gives in this feature space, measured leave-one-out on the same
    reference rows (training rows with an exact twin are left out, as exact test rows are): a test
    split drawn like the training rows finds about the same share.
    """
    if test.empty or len(train) < 2:
        return 0, 0, 0, 0
    roles = roles_of(train, roles)
    a, b = encode([sample(train, 20_000, seed), sample(test, 2000, seed)], {c: roles[c] for c in train.columns},
                  pool_rare=False)  # every category its own code: only equality matters here
    numeric = np.array([roles[c] in ("numeric", "boolean", "datetime") for c in train.columns])
    center, scale = np.nanmean(a, axis=0), np.nanstd(a, axis=0)
    scale[~numeric | ~(scale > 0)] = 1.0
    center[~numeric] = 0.0
    a = _near_space(a, center, scale, numeric)
    index = NearestNeighbors(n_neighbors=2).fit(a)
    limit = NEAR_RMS * np.sqrt(a.shape[1])
    dist_test, _ = index.kneighbors(_near_space(b, center, scale, numeric), n_neighbors=1)
    probe = np.random.default_rng(seed).choice(len(a), size=min(2000, len(a)), replace=False)
    dist_train, _ = index.kneighbors(a[probe])  # the first neighbour is the row itself
    other = dist_train[:, 1][dist_train[:, 1] > 0]
    return int(np.sum(dist_test[:, 0] <= limit)), len(b), int(np.sum(other <= limit)), len(other)


def _near_space(x: np.ndarray, center: np.ndarray, scale: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """Standardised numbers; any difference of category, or missing against present, counts as far."""
    x = (x - center) / scale
    x[:, ~numeric] *= 1e3
    return np.nan_to_num(x, nan=-1e6)


def check_adversarial(train: pd.DataFrame, test: pd.DataFrame, features: list[str],
                      roles: dict[str, str] | None = None, seed: int = 0,
                      exclude_dates: bool = False, time_ordered: bool = False) -> list[Finding]:
    """Adversarial validation: can a classifier tell test rows from training rows?

    A gradient-boosted classifier is cross-validated (3 folds) on up to 2,000 rows of each split.
    With a time-ordered split (``time_ordered``: ``train`` in time order, ``test`` after it) a shift
    is expected and a random split would be the mistake: the same classifier then tells the last
    training rows (as many as the test rows, at most a third) from the earlier ones, and the finding
    says how much of the train/test shift that drift within the training period accounts for, and
    which columns drift. Dates separate a time split by construction; pass ``exclude_dates``.
    """
    roles = roles_of(train[features], roles)
    columns = [c for c in features if not (exclude_dates and roles[c] == "datetime")]
    if not columns or len(test) < 20:
        return []
    auc, per_column, n_a, n_b = _adversarial(train[columns], test[columns], {c: roles[c] for c in columns}, seed)
    if auc < SHIFT_AUC:
        return []
    top = dict(sorted(per_column.items(), key=lambda kv: -kv[1])[:3])
    evidence = {"adversarial_auc": round(auc, 4), "limit": SHIFT_AUC, "n_train": n_a, "n_test": n_b,
                "top_columns_auc": top}
    if time_ordered:
        return [_time_shift(train[columns], len(test), {c: roles[c] for c in columns}, seed, auc, per_column, evidence)]
    return [Finding(
        "train_test_shift", "warning",
        f"A classifier tells test rows from training rows with ROC-AUC {auc:.3f} (0.5 = indistinguishable): "
        "the test split does not represent the training data.",
        evidence,
        f"Check how the split was made and the columns that separate it most ({', '.join(top)}); "
        "use a random or stratified split unless the shift is the point (then expect a lower test score).",
    )]


#: A column is drifting when it alone tells the two periods apart with at least this ROC-AUC.
DRIFT_AUC = 0.60
#: A drifting column breaks at the cut when its test-vs-train ROC-AUC exceeds its within-train one by this.
BREAK_AUC = 0.15


def _adversarial(a_frame: pd.DataFrame, b_frame: pd.DataFrame, roles: dict[str, str],
                 seed: int) -> tuple[float, dict[str, float], int, int]:
    """Cross-validated ROC-AUC of a classifier telling ``b_frame`` rows from ``a_frame`` rows (2,000 of
    each at most), each column's own AUC (folded about 0.5), and the row counts used."""
    a, b = encode([sample(a_frame, 2000, seed), sample(b_frame, 2000, seed)], roles)
    X = np.vstack([a, b])
    is_test = np.r_[np.zeros(len(a)), np.ones(len(b))]
    model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=seed)
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    with threadpool_limits(1):  # OpenMP threads on a busy machine cost more than they give on 4,000 rows
        proba = cross_val_predict(model, X, is_test, cv=cv, method="predict_proba")[:, 1]
    per_column = {}
    for j, column in enumerate(roles):
        x = X[:, j]
        ok = ~np.isnan(x)
        if ok.sum() > 10 and len(np.unique(is_test[ok])) == 2:
            per_column[column] = round(abs(float(roc_auc_score(is_test[ok], x[ok])) - 0.5) + 0.5, 4)
    return float(roc_auc_score(is_test, proba)), per_column, len(a), len(b)


def _time_shift(train: pd.DataFrame, n_test: int, roles: dict[str, str], seed: int, auc: float,
                per_column: dict[str, float], evidence: dict) -> Finding:
    """The train/test shift of a time-ordered split, set against the drift within the training period."""
    m = min(n_test, len(train) // 3)
    within, within_columns, _, _ = _adversarial(train.iloc[:-m], train.iloc[-m:], roles, seed) if m >= 20 else (
        0.5, {}, 0, 0)
    share = float(np.clip((within - 0.5) / (auc - 0.5), 0.0, 1.0))
    drifting = {c: {"test_vs_train_auc": v, "within_train_auc": within_columns.get(c)}
                for c, v in sorted(per_column.items(), key=lambda kv: -kv[1]) if v >= DRIFT_AUC}
    names = ", ".join(f"'{c}' ({d['test_vs_train_auc']:.2f})" for c, d in list(drifting.items())[:5]) or "none alone"
    breaks = [c for c, d in drifting.items() if d["test_vs_train_auc"] - (d["within_train_auc"] or 0.5) >= BREAK_AUC]
    evidence = {**evidence, "time_ordered": True, "within_train_auc": round(within, 4), "n_within_recent": m,
                "share_explained_by_trend": round(share, 4), "drifting_columns": drifting, "break_columns": breaks}
    within_text = (f"the drift over time within the training rows (their last {m} rows against the earlier ones: "
                   f"ROC-AUC {within:.3f}) accounts for {share:.0%} of it. Drifting columns (ROC-AUC alone): {names}.")
    if share >= 0.5 and not breaks:
        return Finding("train_test_shift", "info",
                       f"The test period differs from the training period (adversarial ROC-AUC {auc:.3f}), as a "
                       f"time-ordered split expects; {within_text}", evidence,
                       "Keep the time-ordered split; expect the test score below the cross-validated one by about the "
                       "drift the folds already see, retrain as often as the drift requires, and monitor the drifting "
                       "columns.")
    quoted = ", ".join(f"'{c}'" for c in (breaks or drifting)) or "the columns"
    jump = f" {quoted} change at the cut far more than within the training period." if breaks else ""
    return Finding("train_test_shift", "warning",
                   f"The test period differs from the training period (adversarial ROC-AUC {auc:.3f}) more than the "
                   f"training periods differ from each other: {within_text}{jump}", evidence,
                   f"Keep the time-ordered split, and look at what changed at the cut in {quoted}: "
                   "a new definition, unit or source? Train on the recent rows (or weight them) if the change is real.")


def check_time_order(train: pd.DataFrame, strategy: str, roles: dict[str, str] | None = None) -> list[Finding]:
    """Warn when a date column orders the rows but the split ignores time (random, stratified or group).

    ``train`` must be in file order (the split keeps it).
    """
    if strategy == "time":
        return []
    roles = roles_of(train, roles)
    findings = []
    part = train if len(train) <= 20_000 else train.iloc[np.linspace(0, len(train) - 1, 20_000).astype(int)]
    for column in train.columns:
        if roles[column] not in ("datetime", "categorical", "text"):
            continue
        times = as_time(part[column])
        if times is None or times.notna().sum() < 20:
            continue
        ok = times.notna().to_numpy()
        rho = float(spearmanr(np.arange(len(part))[ok], times[ok].astype("int64")).statistic)
        if abs(rho) >= ORDERED_RHO:
            findings.append(Finding(
                "time_order", "warning",
                f"The rows are ordered by date column '{column}' (rank correlation with row position {rho:.3f}) "
                f"but the split is {strategy}: the model is tested on the past it was trained around.",
                {"column": column, "spearman_rho": round(rho, 4), "split": strategy},
                f"If the model will predict the future, set data.time_column: {column} for a time-ordered "
                "split and TimeSeriesSplit folds.",
            ))
    return findings
