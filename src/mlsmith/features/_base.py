"""What every mlsmith transformer shares: input validation, NaN passing through, column pairs."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import _check_feature_names_in, check_array, validate_data


class _Transformer(TransformerMixin, BaseEstimator):
    """Missing values pass through (an imputer follows in the pipeline); output is float."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _numeric(self, X, reset: bool) -> np.ndarray:
        return validate_data(self, X, reset=reset, dtype=float, ensure_all_finite="allow-nan")

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        """The input as a DataFrame of its original values (dates, strings, keys), validated."""
        if isinstance(X, pd.DataFrame):
            check_array(X.to_numpy(dtype=object), dtype=None, ensure_all_finite=False)
            validate_data(self, X, reset=reset, skip_check_array=True)
            return X.reset_index(drop=True)
        X = check_array(X, dtype=None, ensure_all_finite=False)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return pd.DataFrame(X)

    def _names_in(self, input_features=None) -> np.ndarray:
        return _check_feature_names_in(self, input_features)


def resolve_pairs(pairs, names: np.ndarray) -> list[tuple[int, int]]:
    """Column pairs as index pairs: ``None`` means every pair (i < j); names or indices otherwise."""
    if pairs is None:
        return list(combinations(range(len(names)), 2))
    position = {str(n): i for i, n in enumerate(names)}
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"each pair must name two columns; got {pair!r}.")
        idx = []
        for item in pair:
            if isinstance(item, (int, np.integer)) and 0 <= item < len(names):
                idx.append(int(item))
            elif str(item) in position:
                idx.append(position[str(item)])
            else:
                raise ValueError(f"pair {pair!r} names {item!r}, which is not an input column; columns are {list(names)}.")
        out.append((idx[0], idx[1]))
    return out
