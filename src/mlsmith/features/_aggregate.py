from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ._base import _Transformer

__all__ = ["GroupAggregate"]

STATS = ("mean", "sum", "count", "last")


class GroupAggregate(_Transformer):
    """Per-entity statistics of columns, grouped by a key and learned from the rows seen in ``fit``.

    The first input column is the key; each further column is aggregated per key. Inside a
    pipeline this is fitted within each cross-validation fold, so a held-out row's statistics come
    from the training folds only. Keys not seen in ``fit`` get ``count`` and ``sum`` 0 and a missing
    ``mean``/``last`` (imputed later in the pipeline).

    Parameters
    ----------
    stats : tuple of str, default=("mean", "count")
        Any of ``mean``, ``sum``, ``count`` (rows per key, once), ``last`` (the last non-missing
        value in row order — sort the data by time for "most recent").

    Examples
    --------
    >>> X = pd.DataFrame({"customer": ["a", "a", "b"], "amount": [10.0, 30.0, 5.0]})
    >>> g = GroupAggregate(stats=("mean", "count", "last")).fit(X)
    >>> g.transform(pd.DataFrame({"customer": ["a", "z"], "amount": [0.0, 0.0]})).tolist()
    [[20.0, 30.0, 2.0], [nan, nan, 0.0]]
    >>> g.get_feature_names_out().tolist()
    ['amount_mean_by_customer', 'amount_last_by_customer', 'count_by_customer']
    """

    def __init__(self, *, stats: tuple[str, ...] = ("mean", "count")):
        self.stats = stats

    def fit(self, X, y=None):
        unknown = [s for s in self.stats if s not in STATS]
        if unknown or not self.stats:
            raise ValueError(f"stats must be some of {', '.join(STATS)}; got {list(self.stats)!r}.")
        frame = self._frame(X, reset=True)
        key = _key(frame.iloc[:, 0])
        # Plain lists and arrays, not pandas objects: the model bundle (skops) stores these.
        self.keys_ = list(pd.unique(key))
        self.columns_ = [(k, stat) for k in range(1, frame.shape[1]) for stat in self._value_stats()]
        rows = []
        for k, stat in self.columns_:
            grouped = pd.Series(np.asarray(frame.iloc[:, k], dtype=float)).groupby(key, sort=False)
            rows.append(grouped.agg(stat).reindex(self.keys_).to_numpy(dtype=float, na_value=np.nan))
        if "count" in self.stats:
            rows.append(key.groupby(key, sort=False).size().reindex(self.keys_).to_numpy(dtype=float))
        self.values_ = np.array(rows, dtype=float).reshape(len(rows), len(self.keys_))
        return self

    def transform(self, X):
        check_is_fitted(self, "values_")
        frame = self._frame(X, reset=False)
        key = _key(frame.iloc[:, 0])
        for k in range(1, frame.shape[1]):
            np.asarray(frame.iloc[:, k], dtype=float)  # the same input check as in fit
        position = pd.Index(self.keys_).get_indexer(key)  # -1: a key not seen in fit
        out = np.tile(np.asarray(self.defaults(), dtype=float), (len(frame), 1))
        seen = position >= 0
        out[seen] = self.values_[:, position[seen]].T
        return out

    def defaults(self) -> list[float]:
        """Each output column's value for a key not seen in ``fit``: 0 for sums and counts, else missing."""
        check_is_fitted(self, "values_")
        return [0.0 if stat == "sum" else np.nan for _, stat in self.columns_] + [0.0] * ("count" in self.stats)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "values_")
        names = self._names_in(input_features)
        out = [f"{names[k]}_{stat}_by_{names[0]}" for k, stat in self.columns_]
        out += [f"count_by_{names[0]}"] if "count" in self.stats else []
        return np.asarray(out, dtype=object)

    def _value_stats(self) -> list[str]:
        return [s for s in self.stats if s != "count"]


#: The group of the rows without a key. A marker, not a missing value: pandas matched a missing key
#: to its group or not depending on the other keys of the batch (a batch of missing keys alone did not).
MISSING_KEY = "\x00(missing)"


def _key(s: pd.Series) -> pd.Series:
    """Keys compared as text so 'a' and 'a' from different readers match; missing as :data:`MISSING_KEY`.

    A key must be a string, a number or a date (a dict or a list is a TypeError, as in scikit-learn).
    """
    out = s.astype(object).where(s.notna(), None)
    return out.map(lambda v: MISSING_KEY if v is None else _text(v))


def _text(value) -> str:
    if isinstance(value, (dict, list, set, tuple)):
        raise TypeError(f"argument must be a string or a number as a group key; got a {type(value).__name__}.")
    return str(value)
