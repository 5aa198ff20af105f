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

from .._columns import evenly_spaced
from .._findings import Finding, Severity
from ._frame import as_time, encode, roles_of, row_keys, sample

__all__ = ["check_adversarial", "check_contamination", "check_date_trend", "check_entities", "check_time_order"]

#: Test rows within this root-mean-square distance (in training standard deviations, all categories
#: equal) of a training row are near-duplicates.
NEAR_RMS = 0.01
#: Exact test rows beyond what chance makes plausible (a Poisson upper tail of this probability at the
#: chance-collision estimate) are contamination; fewer are reported as expected.
CHANCE_P = 1e-3
#: Continuous values are rounded to this many significant digits before rows are compared, so a copy
#: saved with a rounding error (or a relative noise of 1e-6) is still a copy.
NEAR_DIGITS = 5
#: Shared rows under this share of the test split are reported (info), not warned about: one copy in
#: thousands of rows cannot move a test score.
WARN_SHARE = 0.01
#: Duplicated rows within the training split beyond this share (and beyond chance) are a warning.
TRAIN_COPIES_SHARE = 0.05
#: Adversarial validation: train vs test separable with at least this ROC-AUC is a shift.
SHIFT_AUC = 0.70
#: A datetime column whose rank correlation with the row position is at least this orders the rows.
ORDERED_RHO = 0.95


def check_contamination(train: pd.DataFrame, test: pd.DataFrame, features: list[str],
                        roles: dict[str, str] | None = None, group_column: str | None = None,
                        id_columns: list[str] | tuple[str, ...] = (), *, seed: int,
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
    rounded_train, rounded_test = rounded(train[features]), rounded(test[features])
    keys = row_keys(rounded_train)
    within = float(keys.duplicated().mean()) if len(keys) else 0.0
    exact = row_keys(rounded_test).isin(set(keys)).to_numpy()
    n_exact = int(exact.sum())
    independent = chance_matches(rounded_train, rounded_test) if n_exact or within else 0.0
    distinct = distinct_record_matches(keys, y, len(test)) if (n_exact or within) and y is not None else 0.0
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
                f"{shared}, as chance allows: about {_about(expected)} test rows (at most) would match a training row "
                f"by chance, {_chance_basis(independent, distinct)}, so up to {plausible_exact} is plausible.",
                evidence, "Nothing to do unless repeated rows are the same record entered twice (then drop them).",
            ))
        else:
            findings.append(Finding(
                "contamination", "error" if share >= 0.05 else "warning" if share >= WARN_SHARE else "info",
                f"{shared}, where chance allows about {_about(expected)} exact matches (up to {plausible_exact}): the "
                "test score rewards memorising them.", evidence,
                "Remove duplicate rows before the split, or name the entity as data.group_column so the split keeps "
                "each one on one side.",
            ))
    findings += _copies_within_train(rounded_train, y, expected / max(len(test), 1))
    sides: list[tuple[str | None, Severity]] = [(group_column, "error"), *((c, "warning") for c in id_columns)]
    for column, severity in sides:
        if not column:
            continue
        values = set(train[column].dropna()) & set(test[column].dropna())
        if values:
            in_test = int(test[column].isin(values).sum())
            findings.append(Finding(
                "contamination", severity,
                f"{len(values)} values of '{column}' appear in both train and test ({in_test} test rows): "
                "the same entity is on both sides of the split.",
                {"column": column, "n_shared": len(values), "n_test_rows": in_test,
                 "examples": [str(v) for v in sorted(values, key=str)[:5]]},
                f"Split by group: set data.group_column: {column}." if column != group_column else
                "Use a group split (data.group_column without data.time_column), or drop the repeated entities from test.",
            ))
    return findings


def rounded(frame: pd.DataFrame, digits: int = NEAR_DIGITS) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``digits`` significant digits (others unchanged).

    Examples
    --------
    >>> rounded(pd.DataFrame({"x": [1234.5678, 0.000123456], "s": ["a", "b"]}), 4)["x"].tolist()
    [1235.0, 0.0001235]
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            x = out[column].to_numpy(dtype=float, copy=True)
            with np.errstate(divide="ignore", invalid="ignore"):
                magnitude = np.floor(np.log10(np.abs(x)))
            unit = 10.0 ** (magnitude - (digits - 1))
            ok = np.isfinite(unit) & (unit > 0)
            x[ok] = np.round(x[ok] / unit[ok]) * unit[ok]
            # one float for one rounded value (10**k is not exact); past 1e290 the x * 1e12 inside
            # np.round overflows to inf, and there the product above is already the one float
            small = np.abs(x) < 1e290
            x[small] = np.round(x[small], 12)
            out[column] = x
    return out


def _copies_within_train(rounded_train: pd.DataFrame, y: np.ndarray | pd.Series | None,
                         chance_share: float) -> list[Finding]:
    """A warning when many training rows are copies of others, beyond what chance collisions give.

    With the target, a copy is a row equal to another in its features *and* its target, and chance is the
    share of rows that collide on the features (``chance_share``) times the chance that two records share
    the target; distinct records with equal features but different targets are not copies. The split and
    the folds keep copies together, so they do not inflate the scores; but a table in which every record
    is entered twice (or copied with a rounding error) weighs those records double.
    """
    n_train = len(rounded_train)
    if not n_train:
        return []
    frame = rounded_train
    if y is not None:
        labels = pd.Series(np.asarray(y), index=rounded_train.index)
        frame = rounded_train.assign(**{"\x00target": labels})
        p = labels.astype(str).value_counts(normalize=True).to_numpy()
        chance_share = chance_share * float((p ** 2).sum())
    within = float(row_keys(frame).duplicated().mean())
    if within < TRAIN_COPIES_SHARE or within < 3 * chance_share:
        return []
    n_copies = int(round(within * n_train))
    return [Finding(
        "contamination", "warning",
        f"{n_copies} training rows ({within:.1%}) are copies of other rows (equal to {NEAR_DIGITS} significant "
        f"digits{', target included' if y is not None else ''}), where chance collisions of distinct records give "
        f"about {chance_share:.1%}: records entered twice weigh double in training. The split and the folds keep "
        "copies on one side, so scores are not inflated.",
        {"n_train_copies": n_copies, "train_duplicate_share": round(within, 4),
         "share_by_chance": round(max(chance_share, 0.0), 4) + 0.0, "digits": NEAR_DIGITS},
        "Drop the repeated rows before the split if they are one record entered twice.",
    )]


#: An entity column: at least this many distinct values, half the training rows in a repeated value, and
#: repeated values holding the same target (classes: this share of pairs within a value agree beyond
#: chance; regression: this share of the target's variance lies between the values).
ENTITY_MIN_VALUES = 20
ENTITY_AGREEMENT = 0.9


def check_entities(train: pd.DataFrame, test: pd.DataFrame, features: list[str], y: np.ndarray | pd.Series,
                   task: str, roles: dict[str, str] | None = None) -> list[Finding]:
    """Flag a column naming entities whose rows share the target and straddle the split.

    Repeated measurements of one patient, customer or machine carry its outcome: a random split puts
    some of its rows in training and some in test, and the model scores by recognising the entity.
    A column is such an entity key when its values repeat over rows (at least half the training rows
    share their value with another row, over at least :data:`ENTITY_MIN_VALUES` values), the rows of
    a value hold the same target far beyond chance (:data:`ENTITY_AGREEMENT` of the target's spread
    lies between values, with each value fitted on its other rows only), and test rows hold values
    seen in training. Only categorical, id and integer columns are looked at: a repeated measurement
    is named, not measured.
    """
    roles = roles_of(train[features], roles)
    y = pd.Series(np.asarray(y), index=train.index)
    findings = []
    for column in features:
        x = train[column]
        if roles[column] not in ("categorical", "id", "text") and not pd.api.types.is_integer_dtype(x):
            continue
        key = x.astype(str).where(x.notna())
        counts = key.value_counts()
        repeated = key.map(counts).fillna(1) > 1
        if len(counts) < ENTITY_MIN_VALUES or repeated.mean() < 0.5 or len(counts) > 0.7 * len(key):
            continue
        agreement = _within_agreement(key[repeated], y[repeated], task)
        straddle = test[column].astype(str).where(test[column].notna()).isin(set(counts.index))
        share = float(straddle.mean()) if len(test) else 0.0
        if agreement < ENTITY_AGREEMENT or share < WARN_SHARE:
            continue
        findings.append(Finding(
            "contamination", "error" if share >= 0.05 else "warning",
            f"Column '{column}' names entities: {repeated.mean():.0%} of training rows share their value with other "
            f"rows, those rows hold the same target ({agreement:.0%} agreement, each row scored by its entity's other "
            f"rows), and {int(straddle.sum())} test rows ({share:.1%}) belong to entities seen in training: the test "
            "score rewards recognising the entity, not predicting a new one.",
            {"column": column, "n_values": int(len(counts)), "share_train_repeated": round(float(repeated.mean()), 4),
             "target_agreement": round(agreement, 4), "n_test_rows_seen": int(straddle.sum()),
             "share_test_seen": round(share, 4), "limit": ENTITY_AGREEMENT},
            f"Split by entity: set data.group_column: {column} (whole entities go to one side, and to one CV fold).",
        ))
    return findings


def _within_agreement(key: pd.Series, y: pd.Series, task: str) -> float:
    """How well an entity's other rows predict a row's target, beyond the overall rate (1 = perfectly, 0 = chance).

    Classes: the leave-one-out share of a row's entity-mates with its class, against the share two random
    rows give (a kappa). Regression: 1 - the leave-one-out error of the entity-mates' mean over the variance.
    """
    frame = pd.DataFrame({"k": key.to_numpy(), "y": y.to_numpy()})
    n = frame.groupby("k")["k"].transform("size").to_numpy(dtype=float)
    if task == "regression":
        t = frame["y"].astype(float)
        total = frame.groupby("k")["y"].transform("sum").to_numpy(dtype=float)
        loo = (total - t.to_numpy()) / (n - 1)
        var = float(t.var())
        return 1.0 - float(np.mean((t.to_numpy() - loo) ** 2)) / var if var > 0 else 0.0
    same = frame.groupby(["k", "y"])["y"].transform("size").to_numpy(dtype=float)
    observed = float(np.mean((same - 1) / (n - 1)))
    p = frame["y"].value_counts(normalize=True).to_numpy()
    chance = float((p ** 2).sum())
    return (observed - chance) / (1.0 - chance) if chance < 1 else 0.0


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
    a, b = encode([sample(train, 20_000, seed=seed), sample(test, 2000, seed=seed)], {c: roles[c] for c in train.columns},
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
                      roles: dict[str, str] | None = None, *, seed: int,
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
    # Copies of one row on both sides of a fold would be told apart by memory, not by a shift.
    a_frame, b_frame = (f[~row_keys(f).duplicated().to_numpy()] for f in (a_frame, b_frame))
    a, b = encode([sample(a_frame, 2000, seed=seed), sample(b_frame, 2000, seed=seed)], roles)
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
    breaks = [c for c in drifting if per_column[c] - within_columns.get(c, 0.5) >= BREAK_AUC]
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


#: A date whose rank trend with the target reaches this (|Spearman ρ| for regression; for classes, the
#: largest one-vs-rest ROC-AUC of the date, folded about 0.5, minus 0.5, doubled) makes a random split
#: test on the past. It is a trend, not a leak: the single-feature leak checks look for near-certainty.
#: Chance is kept out by TREND_Z; 0.25 (was 0.3) since a held-out table's planted trend measured 0.297
#: at 4.6 standard errors, while no random-date control on 35 tables reached 3.4 standard errors.
TREND_LIMIT = 0.25


def check_date_trend(train: pd.DataFrame, y: np.ndarray | pd.Series, task: str, strategy: str,
                     roles: dict[str, str] | None = None, *, seed: int) -> list[Finding]:
    """Warn when the target trends with a date column but the split ignores time, whatever the file order.

    :func:`check_time_order` sees rows stored in date order; a shuffled file hides that, yet a target that
    drifts over the dates still makes a random split mix the future into training.
    """
    if strategy == "time":
        return []
    roles = roles_of(train, roles)
    part = sample(train, seed=seed)
    target = pd.Series(np.asarray(y), index=train.index).loc[part.index].to_numpy()
    findings = []
    for column, times, ok in _date_columns(part, roles, at_least=30):
        days = times[ok].astype("int64").to_numpy(dtype=float)
        strength = _trend(days, target[ok], task)
        if strength >= TREND_LIMIT:
            findings.append(Finding(
                "time_order", "warning",
                f"The target trends with date column '{column}' (trend strength {strength:.2f} >= {TREND_LIMIT}) but "
                f"the split is {strategy}: training rows from after the test rows let the model see the future.",
                {"column": column, "trend": round(strength, 4), "limit": TREND_LIMIT, "split": strategy},
                f"If the model will predict the future, set data.time_column: {column} for a time-ordered split "
                "and TimeSeriesSplit folds.",
            ))
    return findings


#: A trend must also stand this many standard errors from none (a small table or class trends by chance).
TREND_Z = 4.0


def _trend(days: np.ndarray, y: np.ndarray, task: str) -> float:
    """|Spearman ρ| of the dates with the target; for classes, 2·(the largest folded one-vs-rest AUC − 0.5).

    A trend within :data:`TREND_Z` standard errors of none counts as none (0).
    """
    if len(np.unique(days)) < 2:
        return 0.0
    if task == "regression":
        rho = spearmanr(days, y.astype(float)).statistic
        if not np.isfinite(rho) or abs(rho) * np.sqrt(len(y) - 1) < TREND_Z:
            return 0.0
        return float(abs(rho))
    best = 0.0
    for c in np.unique(y):
        hit = y == c
        n1, n0 = int(hit.sum()), int((~hit).sum())
        if n1 and n0:
            shift = abs(float(roc_auc_score(hit, days)) - 0.5)
            if shift >= TREND_Z * np.sqrt((n1 + n0 + 1) / (12 * n1 * n0)):  # the AUC's standard error under no trend
                best = max(best, shift * 2)
    return best


def check_time_order(train: pd.DataFrame, strategy: str, roles: dict[str, str] | None = None) -> list[Finding]:
    """Warn when a date column orders the rows but the split ignores time (random, stratified or group).

    ``train`` must be in file order (the split keeps it).
    """
    if strategy == "time":
        return []
    roles = roles_of(train, roles)
    findings = []
    part = evenly_spaced(train, 20_000)
    for column, times, ok in _date_columns(part, roles, at_least=20):
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


def _date_columns(frame: pd.DataFrame, roles: dict[str, str], at_least: int):
    """Each column that reads as dates (a datetime, or text holding dates) with at least ``at_least``
    of them: its name, the dates, and where they are present."""
    for column in frame.columns:
        if roles[column] not in ("datetime", "categorical", "text"):
            continue
        times = as_time(frame[column])
        if times is not None and times.notna().sum() >= at_least:
            yield column, times, times.notna().to_numpy()


def _about(count: float) -> str:
    """An expected count as a sentence says it: whole above ten, one decimal below.

    >>> _about(659.0), _about(2.345)
    ('659', '2.3')
    """
    return f"{count:,.0f}" if count >= 10 else f"{count:.1f}"
