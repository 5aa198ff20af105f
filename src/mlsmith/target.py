"""Encoding of the target: classes become 0..k-1 before anything learns (binary: positive = 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TargetCodec"]


@dataclass(frozen=True)
class TargetCodec:
    """Maps target values to the codes every estimator sees, and back.

    For a binary task the negative class is 0 and the positive class is 1, so every metric reads
    ``pos_label=1``. Multiclass codes follow the sorted class values. Regression passes through.

    Examples
    --------
    >>> codec = TargetCodec.fit(pd.Series(["no", "yes", "no"]), "binary_classification", "yes")
    >>> codec.encode(pd.Series(["yes", "no"])).tolist(), codec.decode([1, 0]).tolist()
    ([1, 0], ['yes', 'no'])
    """

    task: str
    classes: tuple[Any, ...] = ()

    @classmethod
    def fit(cls, y: pd.Series, task: str, positive_class: Any = None) -> "TargetCodec":
        if task == "regression":
            return cls(task)
        values = sorted(y.dropna().unique().tolist(), key=str)
        if task == "binary_classification":
            negative = next(v for v in values if v != positive_class)
            values = [negative, positive_class]
        return cls(task, tuple(v.item() if isinstance(v, np.generic) else v for v in values))

    @property
    def n_classes(self) -> int | None:
        return len(self.classes) if self.classes else None

    def encode(self, y: pd.Series) -> np.ndarray:
        if self.task == "regression":
            return y.to_numpy(dtype=float)
        lookup = {str(v): i for i, v in enumerate(self.classes)}
        codes = y.astype(str).map(lookup)
        if codes.isna().any():
            unseen = sorted(set(y[codes.isna()].astype(str)))[:5]
            raise ValueError(f"target values {unseen} were not seen in training")
        return codes.to_numpy(dtype=int)

    def decode(self, codes) -> np.ndarray:
        if self.task == "regression":
            return np.asarray(codes, dtype=float)
        return np.asarray(self.classes, dtype=object)[np.asarray(codes, dtype=int)]
