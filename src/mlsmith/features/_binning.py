from __future__ import annotations

import warnings

import numpy as np
from sklearn.preprocessing import KBinsDiscretizer
from sklearn.utils.validation import check_is_fitted

from ._base import _Transformer

__all__ = ["Binning"]


class Binning(_Transformer):
    """Bin each column by quantiles, equal widths or fixed edges; codes out, labels kept.

    Quantile and uniform edges come from scikit-learn's ``KBinsDiscretizer``. The output is the
    bin's ordinal code (0, 1, ...); ``bin_labels_`` holds each column's bin labels, in code order.

    Parameters
    ----------
    strategy : {"quantile", "uniform", "fixed"}, default="quantile"
    n_bins : int, default=5
        Bins per column for ``quantile`` and ``uniform``.
    edges : list of float, default=None
        The inner cut points for ``fixed`` (sorted); values equal to an edge fall in the upper bin.
    labels : list of str, default=None
        Names of the bins (one per bin, ``fixed`` only); default: the intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> b = Binning(strategy="fixed", edges=[18, 65], labels=["minor", "adult", "senior"])
    >>> b.fit_transform(pd.DataFrame({"age": [10, 18, 70]})).ravel().tolist()
    [0.0, 1.0, 2.0]
    >>> b.bin_labels_
    [['minor', 'adult', 'senior']]
    """

    def __init__(self, *, strategy: str = "quantile", n_bins: int = 5, edges=None, labels=None):
        self.strategy = strategy
        self.n_bins = n_bins
        self.edges = edges
        self.labels = labels

    def fit(self, X, y=None):
        X = self._numeric(X, reset=True)
        if self.strategy == "fixed":
            if not self.edges or list(self.edges) != sorted(self.edges):
                raise ValueError(f"strategy='fixed' needs sorted 'edges', e.g. [18, 65]; got {self.edges!r}.")
            inner = [np.asarray(self.edges, dtype=float)] * X.shape[1]
        elif self.strategy in ("quantile", "uniform"):
            inner = [self._learned_edges(X[:, [k]]) for k in range(X.shape[1])]
        else:
            raise ValueError(f"strategy must be 'quantile', 'uniform' or 'fixed'; got {self.strategy!r}.")
        if self.labels is not None:
            if self.strategy != "fixed" or len(self.labels) != len(self.edges) + 1:
                raise ValueError(f"'labels' needs strategy='fixed' and one label per bin ({len(self.edges or []) + 1}); "
                                 f"got {len(self.labels)} labels.")
        self.edges_ = inner
        self.bin_labels_ = [list(self.labels) if self.labels is not None else _interval_labels(e) for e in inner]
        return self

    def _learned_edges(self, column: np.ndarray) -> np.ndarray:
        finite = column[~np.isnan(column[:, 0])]
        if len(finite) == 0:
            return np.empty(0)
        kb = KBinsDiscretizer(n_bins=self.n_bins, encode="ordinal", strategy=self.strategy,
                              quantile_method="averaged_inverted_cdf" if self.strategy == "quantile" else "warn")
        with warnings.catch_warnings():
            # few distinct values: scikit-learn merges bins that would be empty and warns; that is what we want
            warnings.filterwarnings("ignore", message=".*[Bb]ins whose width are too small.*")
            warnings.filterwarnings("ignore", message=".*Feature 0 is constant.*")
            kb.fit(finite)
        return np.asarray(kb.bin_edges_[0][1:-1], dtype=float)

    def transform(self, X):
        check_is_fitted(self, "edges_")
        X = self._numeric(X, reset=False)
        out = np.empty(X.shape)
        for k, inner in enumerate(self.edges_):
            out[:, k] = np.searchsorted(inner, X[:, k], side="right")
            out[np.isnan(X[:, k]), k] = np.nan
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "edges_")
        return np.asarray([f"{n}_bin" for n in self._names_in(input_features)], dtype=object)


def _interval_labels(inner: np.ndarray) -> list[str]:
    if len(inner) == 0:
        return ["all"]
    cuts = [f"{e:g}" for e in inner]
    return [f"< {cuts[0]}"] + [f"[{a}, {b})" for a, b in zip(cuts, cuts[1:])] + [f">= {cuts[-1]}"]
