"""The settings of one cross-validated experiment, built once by the workflow and passed to every stage.

The model comparison, the feature ablation, tuning, the learning curves and the evaluation's
out-of-fold predictions all cross-validate on the same rows, folds, groups and seed. They used to
take those as a dozen parameters each, with disagreeing seed defaults; a missed hand-off silently
changed the seed. :class:`CVSetup` carries them as one frozen value: a stage that works on other
rows or another metric says so with :meth:`CVSetup.on_rows` or :func:`dataclasses.replace`.

It imports no stage (the schema is an annotation only), nor pandas: the CV engine
(:mod:`mlsmith.parallel`) takes it and is imported before the workers start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from .data import Schema

__all__ = ["CVSetup"]


@dataclass(frozen=True, kw_only=True)
class CVSetup:
    """The data, task, metric, folds, groups, seed and workers of a cross-validated experiment.

    Parameters
    ----------
    X : DataFrame
        The training features.
    y : ndarray
        The encoded target (see :class:`~mlsmith.target.TargetCodec`).
    schema : Schema
        The column roles that drive preprocessing.
    task : str
        ``binary_classification``, ``multiclass_classification`` or ``regression``.
    metric : str
        The metric the experiment scores (a name of :mod:`mlsmith.metrics`).
    cv : splitter
        The cross-validation splitter (see :func:`~mlsmith.split.cv_splitter`); it carries the seed.
    seed : int
        The problem's seed: every estimator, sample and search of the experiment uses it.
    groups : ndarray or None, default=None
        The splitter's groups.
    n_jobs : int, default=-1
        Folds run in parallel on this many workers (-1: all cores, or the Dask cluster in use).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": np.arange(12.0), "y": np.arange(12.0) % 3})
    >>> setup = CVSetup(X=df[["x"]], y=df["y"].to_numpy(), schema=infer_schema(df, "y"), task="regression",
    ...                 metric="rmse", cv=KFold(3), seed=7)
    >>> [len(test) for _, test in setup.folds()], setup.on_rows(np.arange(6)).folds()[0][1].tolist()
    ([4, 4, 4], [0, 1])
    """

    X: pd.DataFrame
    y: np.ndarray
    schema: Schema
    task: str
    metric: str
    cv: Any
    seed: int
    groups: np.ndarray | None = None
    n_jobs: int = -1

    @property
    def n_classes(self) -> int | None:
        """The classes of a classification target (None for a regression)."""
        return int(len(np.unique(self.y))) if self.task != "regression" else None

    def folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The splitter's (train, test) row positions, in its order."""
        return list(self.cv.split(self.X, self.y, self.groups))

    def on_rows(self, idx: np.ndarray) -> CVSetup:
        """The same experiment on the rows at positions ``idx`` (a sample: halving's rungs, the searches)."""
        return replace(self, X=self.X.iloc[idx], y=self.y[idx], groups=None if self.groups is None else self.groups[idx])
