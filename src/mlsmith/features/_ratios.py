from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import _Transformer, resolve_pairs

__all__ = ["Ratios"]


class Ratios(_Transformer):
    """Ratios between pairs of columns, with a guard for division by zero.

    Parameters
    ----------
    pairs : list of (numerator, denominator), default=None
        Column names (DataFrame input) or positions. ``None``: every pair ``(i, j)``, ``i < j``,
        as column i over column j.
    min_denominator : float, default=1e-12
        A denominator whose absolute value is at most this gives a missing value (imputed later in
        the pipeline) instead of an infinity.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"debt": [10.0, 5.0, 3.0], "income": [20.0, 0.0, 6.0]})
    >>> Ratios(pairs=[("debt", "income")]).fit_transform(X).ravel().tolist()
    [0.5, nan, 0.5]
    """

    def __init__(self, *, pairs=None, min_denominator: float = 1e-12):
        self.pairs = pairs
        self.min_denominator = min_denominator

    def fit(self, X, y=None):
        self._numeric(X, reset=True)
        self.pairs_ = resolve_pairs(self.pairs, self._names_in())
        return self

    def transform(self, X):
        check_is_fitted(self, "pairs_")
        X = self._numeric(X, reset=False)
        out = np.empty((X.shape[0], len(self.pairs_)))
        for k, (i, j) in enumerate(self.pairs_):
            den = X[:, j]
            safe = np.abs(den) > self.min_denominator
            out[:, k] = np.divide(X[:, i], den, out=np.full(len(den), np.nan), where=safe)
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "pairs_")
        names = self._names_in(input_features)
        return np.asarray([f"{names[i]}_per_{names[j]}" for i, j in self.pairs_], dtype=object)
