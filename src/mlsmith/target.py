"""Encoding of the target: classes become 0..k-1 before anything learns (binary: positive = 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["LabelledClassifier", "TargetCodec", "coded_model", "whole_model"]


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


class LabelledClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier fitted on target codes, seen from outside with the original labels and threshold.

    Every estimator of a run learns the codes of :class:`TargetCodec` (binary: positive = 1), so the
    fitted pipeline alone predicts ``0``/``1`` at 0.5. This wrapper is what a model bundle saves:
    ``classes_`` are the original labels in code order, ``predict_proba``'s columns follow them and
    ``predict`` applies the decision threshold the run chose (binary) or the most probable class.
    scikit-learn's ``FixedThresholdClassifier`` applies a threshold but keeps the inner model's
    ``classes_``, which are the codes here; fitting the inner model on the original labels instead
    would reorder the columns (sorted labels need not put the positive class second), so the codes
    stay inside and the labels are put on at the edge.

    Parameters
    ----------
    estimator : a classifier with ``predict_proba``, fitted (or to be fitted by :meth:`fit`) on codes.
    classes : the original labels, in code order (``TargetCodec.classes``).
    threshold : the positive class's probability from which a binary prediction is positive;
        None for multiclass (the most probable class).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> labels = np.where(y == 1, "benign", "malignant")
    >>> model = LabelledClassifier(LogisticRegression(max_iter=5000), ["malignant", "benign"], 0.3).fit(X, labels)
    >>> model.classes_.tolist(), model.predict(X[:2]).tolist()
    (['malignant', 'benign'], ['malignant', 'malignant'])
    """

    def __init__(self, estimator=None, classes=(), threshold: float | None = None):
        self.estimator = estimator
        self.classes = classes
        self.threshold = threshold

    @classmethod
    def of_fitted(cls, estimator, classes, threshold: float | None = None) -> "LabelledClassifier":
        """Wrap an estimator already fitted on the codes, without fitting it again."""
        model = cls(estimator, list(classes), threshold)
        model.estimator_ = estimator
        return model

    def fit(self, X, y) -> "LabelledClassifier":
        """Fit a clone of ``estimator`` on the codes of ``y`` (original labels, in ``classes``)."""
        codes = TargetCodec("classification", tuple(self.classes)).encode(pd.Series(np.asarray(y, dtype=object)))
        self.estimator_ = clone(self.estimator).fit(X, codes)
        return self

    @property
    def classes_(self) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(list(self.classes))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, one column per label of ``classes_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """The original label of each row: at ``threshold`` for binary, the most probable otherwise."""
        proba = self.predict_proba(X)
        if self.threshold is not None and proba.shape[1] == 2:
            codes = (proba[:, 1] >= self.threshold).astype(int)
        else:
            codes = proba.argmax(axis=1)
        return self.classes_[codes]


def whole_model(pipeline, task: str, classes, threshold: float | None):
    """The model as users take it out: a classifier with its labels and threshold, a regressor as is."""
    if task == "regression" or isinstance(pipeline, LabelledClassifier):
        return pipeline
    return LabelledClassifier.of_fitted(pipeline, classes, threshold)


def coded_model(model):
    """The pipeline inside :func:`whole_model` (what predicts codes), for code that reads its steps."""
    return model.estimator_ if isinstance(model, LabelledClassifier) else model
