"""Split first: the held-out test split is made once, before anything learns from the data.

The test rows live in a :class:`HeldOutTest` that hands them out exactly once, to the final
evaluation. Everything before it sees the training rows only, and cross-validation folds are made
inside them with the problem's seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    BaseCrossValidator,
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from ._columns import parse_dates
from .exceptions import DataError
from .problem import Problem

__all__ = ["DuplicateGroupKFold", "HeldOutTest", "SplitInfo", "copies_kept_together", "cv_splitter", "duplicate_groups",
           "sample_rows", "split_train_test"]


class HeldOutTest:
    """The test split, sealed: :meth:`read` returns it once, a second read raises.

    Examples
    --------
    >>> held = HeldOutTest(pd.DataFrame({"a": [1]}))
    >>> len(held.read())
    1
    >>> held.read()
    Traceback (most recent call last):
    ...
    RuntimeError: the test split was already read once, by the final evaluation; ...
    """

    def __init__(self, frame: pd.DataFrame, target: str | None = None):
        self._frame = frame
        self._target = target
        self.n_rows = len(frame)
        self.was_read = False

    def read(self) -> pd.DataFrame:
        if self.was_read:
            raise RuntimeError(
                "the test split was already read once, by the final evaluation; "
                "a second look would turn it into a validation set. Use cross-validation scores instead."
            )
        self.was_read = True
        frame, self._frame = self._frame, None
        return frame

    def features_for_guards(self, columns: list[str]) -> pd.DataFrame:
        """A copy of the test rows' non-target ``columns``, for the guards that compare train with test.

        Contamination and adversarial validation need the test features; nothing learns from them
        and the test split stays sealed (:meth:`read` still works once). The target is never handed
        out: asking for it raises, and so does a split made without naming its target.

        Examples
        --------
        >>> held = HeldOutTest(pd.DataFrame({"x": [1, 2], "y": [0, 1]}), target="y")
        >>> held.features_for_guards(["x"]).columns.tolist()
        ['x']
        >>> held.features_for_guards(["x", "y"])
        Traceback (most recent call last):
        ...
        ValueError: the guards may not see the test target 'y'; ask for feature columns only.
        """
        if self._target is None:
            raise ValueError("this test split was made without naming its target, so no columns are handed out.")
        if self._target in columns:
            raise ValueError(f"the guards may not see the test target '{self._target}'; ask for feature columns only.")
        if self._frame is None:
            raise RuntimeError("the test split was already read")
        return self._frame[list(columns)].copy()

    def peek_index(self) -> pd.Index:
        """The test rows' index labels (no values), for guards that compare rows by identity."""
        if self._frame is None:
            raise RuntimeError("the test split was already read")
        return self._frame.index


@dataclass(frozen=True)
class SplitInfo:
    """How the data was split."""

    strategy: str
    n_train: int
    n_test: int
    test_size: float
    description: str
    cv: str
    #: Rows that repeat an earlier row exactly (features and target): each set of copies is kept on one
    #: side of the split and of every CV fold (when no group or time column decides the split).
    n_duplicate_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def split_train_test(df: pd.DataFrame, problem: Problem) -> tuple[pd.DataFrame, HeldOutTest, SplitInfo]:
    """Split rows into training rows and a sealed test split, following the problem's strategy.

    - ``data.time_column``: the latest ``test_size`` share of rows (by time) is the test split;
    - ``data.group_column``: whole groups go to one side (no entity in both);
    - otherwise a random split, stratified by the target for classification; rows that are exact
      copies of each other (:func:`duplicate_groups`) are split as one, so no copy is on both sides.
    """
    spec, seed, size = problem.data, problem.seed, problem.split.test_size
    n_folds = problem.split.cv_folds
    y = df[problem.target]
    n_duplicates = 0
    if spec.time_column:
        times = _as_time(df[spec.time_column], spec.time_column)
        order = np.argsort(times.to_numpy(), kind="stable")
        n_test = max(1, int(round(size * len(df))))
        train_idx, test_idx = order[:-n_test], order[-n_test:]
        cut = times.iloc[test_idx].min()
        strategy, desc = "time", f"time-ordered on '{spec.time_column}': test rows are those from {cut} on"
    elif spec.group_column:
        splitter = GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
        train_idx, test_idx = next(splitter.split(df, groups=df[spec.group_column]))
        strategy, desc = "group", f"by group '{spec.group_column}': no group in both splits"
    else:
        stratify = y if problem.is_classification else None
        if stratify is not None and y.value_counts().min() < 2:
            rare = y.value_counts().idxmin()
            rare = rare.item() if isinstance(rare, np.generic) else rare  # 12, not np.int64(12)
            quantity = (" or, if it is a quantity, set 'type: regression'"
                        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y) else "")
            raise DataError(
                f"class {rare!r} of target '{problem.target}' has a single row; a stratified split needs at "
                f"least two per class: drop that class or gather more data{quantity}."
            )
        sets = duplicate_groups(df, problem)
        n_copies = len(df) - len(np.unique(sets))
        n_duplicates = n_copies if copies_kept_together(df, problem, sets, 2 * n_folds) else 0
        try:
            if n_duplicates:
                train_idx, test_idx = _split_sets(sets, stratify, size, seed)
            else:
                train_idx, test_idx = train_test_split(
                    np.arange(len(df)), test_size=size, random_state=seed, stratify=stratify
                )
        except ValueError as exc:
            raise DataError(f"cannot split {len(df)} rows with test_size={size}: {exc}.") from None
        strategy = "stratified" if stratify is not None else "random"
        desc = f"{'stratified random' if strategy == 'stratified' else 'random'} split, seed {seed}"
        if n_duplicates:
            desc += (f"; {n_duplicates} rows are exact copies of others, each set of copies kept on one side of "
                     "the split and of every CV fold")
        elif n_copies:
            desc += (f"; {n_copies} rows are exact copies of others, split as rows: a class has too few distinct "
                     "rows to keep copies together (the contamination guard says whether chance explains them)")
    if strategy != "time":  # keep time order for TimeSeriesSplit; file order otherwise
        train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    train, test = df.iloc[train_idx], df.iloc[test_idx]
    if len(train) < n_folds * 2:
        raise DataError(
            f"only {len(train)} training rows for {n_folds}-fold cross-validation; need at least "
            f"{n_folds * 2}: supply more data or lower 'split.cv_folds'."
        )
    if spec.group_column and train[spec.group_column].nunique() < n_folds:
        raise DataError(
            f"group_column '{spec.group_column}' has {train[spec.group_column].nunique()} groups in the training "
            f"rows, fewer than the {n_folds} cross-validation folds; lower 'split.cv_folds' or use a finer group."
        )
    if problem.is_classification and not spec.time_column:
        rows = train[problem.target].value_counts()
        # copies share a fold, so a class offers as many fold members as it has distinct rows
        train_sets = duplicate_groups(train, problem)
        distinct = rows if spec.group_column or not copies_kept_together(train, problem, train_sets, 2 * n_folds) else (
            pd.Series(train_sets, index=train.index).groupby(train[problem.target]).nunique())
        if distinct.min() < n_folds:
            label = distinct.idxmin()
            label = label.item() if isinstance(label, np.generic) else label
            copies = f" ({rows[label]} rows, the rest exact copies)" if rows[label] > distinct[label] else ""
            raise DataError(
                f"class {label!r} has {distinct[label]} distinct training rows{copies}, fewer than the "
                f"{n_folds} cross-validation folds; lower 'split.cv_folds' or gather more rows of that class."
            )
    cv_name = type(cv_splitter(problem, train)[0]).__name__
    info = SplitInfo(strategy, len(train), len(test), size, desc, f"{cv_name}(n_splits={n_folds})", n_duplicates)
    return train, HeldOutTest(test, target=problem.target), info


def cv_splitter(problem: Problem, train: pd.DataFrame) -> tuple[Any, np.ndarray | None]:
    """The cross-validation splitter for the training rows, and the groups it needs (or None)."""
    spec, k, seed = problem.data, problem.split.cv_folds, problem.seed
    if spec.time_column:
        return TimeSeriesSplit(n_splits=k), None
    if spec.group_column:
        groups = train[spec.group_column].to_numpy()
        if problem.is_classification:
            return StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed), groups
        return GroupKFold(n_splits=k), groups
    sets = duplicate_groups(train, problem)
    if copies_kept_together(train, problem, sets, 2 * k):  # two distinct rows per class and fold, as the split asks
        return DuplicateGroupKFold(k, stratify=problem.is_classification, random_state=seed), sets
    if problem.is_classification:
        return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), None
    return KFold(n_splits=k, shuffle=True, random_state=seed), None


def copies_kept_together(df: pd.DataFrame, problem: Problem, sets: np.ndarray, minimum: int) -> bool:
    """Whether exact copies can be kept on one side of a split: every class (or, for regression, the
    table) has at least ``minimum`` distinct rows.

    A table of a few categorical columns (Titanic's class, age and sex: 16 combinations for 2,201
    passengers) repeats rows because distinct records coincide, not because a record was entered twice;
    grouping them would leave a class with fewer distinct rows than folds. Such copies are split as
    rows, and the contamination guard judges whether their number is what chance gives.

    Examples
    --------
    >>> p = Problem(target="y", type="binary_classification", data={"path": "x.csv"})
    >>> df = pd.DataFrame({"x": [1, 1, 2, 2, 1, 2], "y": [0, 0, 0, 0, 1, 1]})
    >>> sets = duplicate_groups(df, p)
    >>> copies_kept_together(df, p, sets, 2), copies_kept_together(df, p, sets, 3)
    (True, False)
    """
    if len(np.unique(sets)) == len(sets):
        return False
    if not problem.is_classification:
        return len(np.unique(sets)) >= minimum
    return bool(pd.Series(sets, index=df.index).groupby(df[problem.target].to_numpy()).nunique().min() >= minimum)


def duplicate_groups(df: pd.DataFrame, problem: Problem) -> np.ndarray:
    """An integer per row, equal for rows that are exact copies (every column but the declared ids and
    dropped ones, target included), numbered in order of first appearance.

    Examples
    --------
    >>> p = Problem(target="y", data={"path": "x.csv"})
    >>> duplicate_groups(pd.DataFrame({"x": [1, 2, 1, 1], "y": [0, 1, 0, 1]}), p).tolist()
    [0, 1, 0, 2]
    """
    skip = {*problem.data.id_columns, *problem.data.drop}
    columns = [c for c in df.columns if c not in skip]
    keys = pd.util.hash_pandas_object(df[columns], index=False).to_numpy()
    return pd.factorize(keys)[0]


def _split_sets(sets: np.ndarray, stratify: pd.Series | None, size: float,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split whole sets of copies, with as many test rows as a row split (``ceil(size * n)``) and each
    class's share of them (a set holds one class): per class, sets in a seeded random order join the
    test split while they fit its quota."""
    n = len(sets)
    n_test = int(np.ceil(size * n))
    labels = np.zeros(n, dtype=int) if stratify is None else pd.factorize(stratify)[0]
    rows = np.bincount(labels)
    exact = n_test * rows / n
    quota = np.floor(exact).astype(int)
    quota[np.argsort(-(exact - quota), kind="stable")[: n_test - quota.sum()]] += 1  # largest remainders
    sizes = np.bincount(sets)
    first = np.unique(sets, return_index=True)[1]
    rng = np.random.default_rng(seed)
    test_sets = []
    for label, room in enumerate(quota):
        for s in rng.permutation(np.flatnonzero(labels[first] == label)):
            if sizes[s] <= room:
                test_sets.append(s)
                room -= sizes[s]
    in_test = np.isin(sets, test_sets)
    if in_test.all() or not in_test.any():
        raise ValueError("every set of copies falls on one side")
    return np.flatnonzero(~in_test), np.flatnonzero(in_test)


class DuplicateGroupKFold(BaseCrossValidator):
    """K folds that keep each set of exact copies in one fold (``groups``: :func:`duplicate_groups`).

    The sets are folded like rows (shuffled with ``random_state``; stratified by class when
    ``stratify``, as a set of copies holds one class), then each row follows its set. Unlike
    StratifiedGroupKFold this costs one StratifiedKFold over the sets, whatever their number.

    Examples
    --------
    >>> groups = np.array([0, 0, 1, 2, 2, 3, 4, 5])
    >>> folds = DuplicateGroupKFold(2, random_state=0).split(np.zeros((8, 1)), np.zeros(8), groups)
    >>> [sorted(set(groups[test].tolist())) for _, test in folds]
    [[1, 2, 4], [0, 3, 5]]
    """

    def __init__(self, n_splits: int = 5, *, stratify: bool = True, random_state: int | None = None):
        self.n_splits = n_splits
        self.stratify = stratify
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise ValueError("DuplicateGroupKFold needs groups: the duplicate-set id of each row.")
        groups = np.asarray(groups)
        sets, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        kind = StratifiedKFold if self.stratify else KFold
        inner = kind(self.n_splits, shuffle=True, random_state=self.random_state)
        labels = np.asarray(y)[first] if self.stratify else None
        for _, test_sets in inner.split(np.zeros((len(sets), 1)), labels):
            in_test = np.isin(inverse, test_sets)
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)

    def _iter_test_indices(self, X=None, y=None, groups=None):  # required by BaseCrossValidator; split is overridden
        for _, test in self.split(X, y, groups):
            yield test


def _as_time(s: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_datetime64_any_dtype(s):
        return s
    parsed = parse_dates(s)
    if parsed.isna().mean() > 0.05:
        raise DataError(f"time_column '{name}' does not parse as dates (e.g. {s.iloc[0]!r}); use ISO dates like 2024-01-31.")
    return parsed


def sample_rows(n: int, size: int, y: np.ndarray, task: str, cv: Any, groups: np.ndarray | None,
                seed: int) -> np.ndarray:
    """``size`` of ``n`` training rows for work that is bounded on a large table (a comparison rung,
    a search), as the folds see rows: the most recent ``size`` for time-ordered folds, whole groups
    for grouped folds, a class-stratified sample otherwise; positions in their original order.

    >>> sample_rows(10, 4, np.zeros(10), "regression", TimeSeriesSplit(2), None, 0).tolist()
    [6, 7, 8, 9]
    """
    if isinstance(cv, TimeSeriesSplit):
        return np.arange(n - size, n)
    rng = np.random.default_rng(seed)
    if groups is not None:
        order = rng.permutation(pd.unique(groups))
        counts = pd.Series(groups).value_counts()
        chosen = order[:int(np.searchsorted(np.cumsum(counts[order].to_numpy()), size)) + 1]
        return np.flatnonzero(np.isin(groups, chosen))
    stratify = y if task != "regression" else None
    picked, _ = train_test_split(np.arange(n), train_size=size, stratify=stratify, random_state=int(rng.integers(2**31)))
    return np.sort(picked)
