from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import _Transformer

__all__ = ["LogTransform"]


class LogTransform(_Transformer):
    """``log1p`` of each column: zero maps to zero, and negative values are handled, not dropped.

    Parameters
    ----------
    negative : {"signed", "clip"}, default="signed"
        ``"signed"`` returns ``sign(x) * log1p(|x|)`` (monotonic, defined everywhere); ``"clip"``
        sets negative values to 0 first. ``n_negative_`` counts, per column, the negative values
        seen in ``fit`` so the plan can say how many there were.

    Examples
    --------
    >>> import pandas as pd
    >>> t = LogTransform().fit(pd.DataFrame({"amount": [0.0, 9.0, -9.0]}))
    >>> t.transform(pd.DataFrame({"amount": [0.0, 9.0, -9.0]})).round(4).ravel().tolist()
    [0.0, 2.3026, -2.3026]
    >>> t.n_negative_.tolist(), t.get_feature_names_out().tolist()
    ([1], ['amount_log'])
    """

    def __init__(self, *, negative: str = "signed"):
        self.negative = negative

    def fit(self, X, y=None):
        if self.negative not in ("signed", "clip"):
            raise ValueError(f"negative must be 'signed' or 'clip'; got {self.negative!r}.")
        X = self._numeric(X, reset=True)
        self.n_negative_ = np.sum(X < 0, axis=0)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_negative_")
        X = self._numeric(X, reset=False)
        if self.negative == "clip":
            return np.log1p(np.clip(X, 0, None))
        return np.sign(X) * np.log1p(np.abs(X))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "n_negative_")
        return np.asarray([f"{n}_log" for n in self._names_in(input_features)], dtype=object)
