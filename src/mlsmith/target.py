"""Encoding of the target: classes become 0..k-1 before anything learns (binary: positive = 1), and the
model a bundle ships, which answers in the original classes again."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

__all__ = ["LabelledClassifier", "TargetCodec", "code_model", "is_whole", "whole_model"]


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
    """A classifier that learns on class codes 0..k-1 and answers in the labels they stand for.

    mlsmith's models learn on the codes of :class:`TargetCodec` (XGBoost accepts nothing else, and
    every metric then reads ``pos_label=1``); this wrapper gives the fitted model its labels back:
    ``classes_`` are the original labels in code order, ``predict_proba``'s columns follow them, and
    ``predict`` gives the most probable one — the rule mlsmith evaluates a multiclass model by.

    As for :class:`~sklearn.model_selection.FixedThresholdClassifier`, ``estimator`` may be fitted
    already (on the codes of ``classes``): it is then used as it is. ``fit`` fits a clone of it on
    the codes of the labels it is given, so ``clone(model).fit(X, labels)`` retrains the whole model.

    Parameters
    ----------
    estimator
        Classifier
        Fitted, or to be fitted, on the codes 0..k-1.
    classes : list, default=None
        The labels the codes stand for, in code order; None takes the sorted labels of ``y`` in ``fit``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, codes = [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]
    >>> model = LabelledClassifier(LogisticRegression().fit(X, codes), classes=["No", "O'Yes"])
    >>> model.predict([[0.2], [2.9]]).tolist(), model.classes_.tolist()
    (['No', "O'Yes"], ['No', "O'Yes"])
    """

    def __init__(self, estimator, classes=None):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X, y, **fit_params) -> "LabelledClassifier":
        """Fit a clone of ``estimator`` on the codes of ``y``'s labels (in the order of ``classes``)."""
        if y is None:
            raise ValueError("LabelledClassifier requires y to be passed, but the target y is None")
        y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
        check_classification_targets(y)
        y = pd.Series(np.asarray(y, dtype=object))
        labels = sorted(y.dropna().unique().tolist(), key=str) if self.classes is None else list(self.classes)
        codes = TargetCodec("multiclass_classification", tuple(labels)).encode(y)
        self.labels_ = _label_array(labels)
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(self.estimator).input_tags.sparse
        return tags

    @property
    def classes_(self) -> np.ndarray:
        """The labels, in the order of ``predict_proba``'s columns."""
        labels = getattr(self, "labels_", None)
        if labels is None:
            if self.classes is None:
                raise AttributeError("LabelledClassifier has no classes_ before fit when given no classes")
            labels = _label_array(self.classes)
        return labels

    def __sklearn_is_fitted__(self) -> bool:
        if hasattr(self, "estimator_"):
            return True
        try:
            check_is_fitted(self.estimator)
        except NotFittedError:
            return False
        return self.classes is not None

    def _model(self):
        check_is_fitted(self)
        return getattr(self, "estimator_", self.estimator)

    @property
    def n_features_in_(self) -> int:
        """The number of features the estimator was fitted on."""
        return self._model().n_features_in_

    def predict_proba(self, X) -> np.ndarray:
        """The estimator's probabilities: one column per label of ``classes_``."""
        return self._model().predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """The most probable label of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _label_array(labels) -> np.ndarray:
    """Labels as scikit-learn holds classes: int, float or bool arrays for numbers, object arrays for text."""
    return pd.Series(list(labels)).to_numpy()


def whole_model(model, task: str | None, classes=(), threshold: float | None = None):
    """The model a bundle ships: ``model`` (fitted on class codes) answering in the original labels,
    with scikit-learn's own ``predict`` applying the decision threshold.

    A classifier's last step becomes a :class:`LabelledClassifier`; a binary one is then wrapped in
    :class:`~sklearn.model_selection.FixedThresholdClassifier` at ``threshold`` on the positive
    class (``classes[1]``) — used as it is fitted, as its documentation allows; not frozen, so
    ``clone(model).fit(X, labels)`` retrains the whole model (threshold included). A regressor, a
    model without ``classes`` and a model already whole are returned unchanged.

    Parameters
    ----------
    model
        The fitted pipeline (or estimator) whose ``predict_proba`` columns are the codes 0..k-1.
    task
        The problem's task type (None, from a bundle's metadata without one: a classifier when
        ``classes`` are given).
    classes
        The labels, in code order (binary: negative, positive).
    threshold
        The decision threshold on the positive class's probability (binary only).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> whole = whole_model(fitted, "binary_classification", ["benign", "malignant"], 0.2)
    >>> whole.predict([[0.5]]).tolist(), fitted.predict([[0.5]]).tolist()
    (['malignant'], [0])
    """
    if task == "regression" or not classes or is_whole(model):
        return model
    classes = list(classes)
    if isinstance(model, Pipeline):
        name, last = model.steps[-1]
        labelled = copy.copy(model)  # the same fitted steps; the last one answers in labels
        labelled.steps = [*model.steps[:-1], (name, LabelledClassifier(last, classes))]
    else:
        labelled = LabelledClassifier(model, classes)
    if task != "binary_classification" or threshold is None:
        return labelled
    return FixedThresholdClassifier(labelled, threshold=float(threshold), pos_label=classes[1],
                                    response_method="predict_proba")


def is_whole(model) -> bool:
    """Whether ``model`` is already a :func:`whole_model` (answers in labels, threshold applied)."""
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    return isinstance(model, FixedThresholdClassifier) or isinstance(last, LabelledClassifier)


def code_model(model) -> tuple[Any, list[Any] | None, float | None]:
    """The inverse of :func:`whole_model`: the model on class codes, its labels and its threshold.

    A model that is not whole gives itself, None and None.
    """
    threshold = None
    if isinstance(model, FixedThresholdClassifier):
        threshold = None if isinstance(model.threshold, str) else float(model.threshold)
        model = getattr(model, "estimator_", model.estimator)
    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(last, LabelledClassifier):
        return model, None, threshold
    inner = getattr(last, "estimator_", last.estimator)
    if isinstance(model, Pipeline):
        coded = copy.copy(model)
        coded.steps = [*model.steps[:-1], (model.steps[-1][0], inner)]
    else:
        coded = inner
    return coded, last.classes_.tolist(), threshold
