"""Leak-free preprocessing: every learned step lives in one ColumnTransformer inside the Pipeline.

Imputers, scalers, encoders and date expansion are fitted on the rows they are given — within a
cross-validation fold, on the training folds only — never on the whole table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler, TargetEncoder
from sklearn.utils.validation import _num_samples, validate_data

from ._columns import finite_float, numbers_from_text

__all__ = ["FLOAT32_ROWS", "HIGH_CARDINALITY", "BlockEnd", "DesignMatrix", "ending_in_float32", "TextSVD", "numeric_imputer", "target_encoder", "to_category_text", "to_float", "to_text"]

#: Categorical columns with more distinct values than this are target-encoded (cross-fitted)
#: instead of one-hot encoded.
HIGH_CARDINALITY = 20


#: Past this many rows, the preprocessing is fitted to give a float32 design matrix (see :class:`DesignMatrix`).
FLOAT32_ROWS = 1_000_000


class DesignMatrix(ColumnTransformer):
    """scikit-learn's ``ColumnTransformer``, stacking its blocks into a float32 matrix when fitted on more
    than :data:`FLOAT32_ROWS` rows.

    The design matrix is what a model's fit on every row holds at its peak: the blocks' outputs and
    their stacked copy, then the model's fit on it. On 8 million rows of 54 columns that is 2 x 3.2 GB
    in float64. Stacked as float32 the copy is half as large, and the models that fit float32 as given
    (the linear models, LightGBM, XGBoost, scikit-learn's trees, which cast to float32 themselves) hold
    half as much; histogram gradient boosting and the SVM take a float64 copy, as large as before. The
    logistic regression's test AUC on 1M rows of the generated table agrees to 7 digits. Below the
    threshold the output is float64 as before, so a small table's models are unchanged to the last
    digit. The choice is made at fit (``float32_``) and kept for every transform. The blocks built by
    :func:`mlsmith.pipeline.build_preprocessor` end with :class:`BlockEnd`, which casts each block's
    output as it is made (scikit-learn holds every block's output until it stacks them).

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    >>> DesignMatrix([("num", StandardScaler(), ["a"])]).fit_transform(X).dtype
    dtype('float64')
    """

    def fit_transform(self, X, y=None, **params):
        self.float32_ = len(X) > FLOAT32_ROWS
        return super().fit_transform(X, y, **params)

    def _hstack(self, Xs, *, n_samples):
        dense = all(isinstance(x, np.ndarray) for x in Xs)
        if not getattr(self, "float32_", False) or self.sparse_output_ or not dense:
            return super()._hstack(Xs, n_samples=n_samples)
        # one float32 allocation, written from each block in turn: no float64 copy of the whole matrix
        return np.hstack(Xs, dtype=np.float32) if Xs else np.empty((n_samples, 0), dtype=np.float32)


class BlockEnd(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The last step of every :class:`DesignMatrix` block: its output as float32 when fitted on more than
    :data:`FLOAT32_ROWS` rows, unchanged below.

    scikit-learn's ``ColumnTransformer`` keeps every block's output in a list until it stacks them, so a
    float32 matrix stacked from float64 blocks holds 1.5 times the float64 matrix's size at its peak (the
    blocks and the copy). Cast at the end of its own block, each block's float64 output lives only while
    that block runs: on the 1,600,000 training rows of the generated 2M table (54 columns), the fit of the
    preprocessing peaks at 0.66 GiB over its input instead of 0.99. The values are those the float32 stack
    wrote before (the same cast of the same float64 numbers). Below the threshold it returns its input
    itself, so a small table's pipeline computes exactly what it did without it.

    Examples
    --------
    >>> X = np.array([[0.1], [0.2]])
    >>> BlockEnd().fit(X).transform(X) is X
    True
    """

    def fit(self, X, y=None):
        validate_data(self, X, skip_check_array=True)  # the input's width and names, for the feature names
        self.float32_ = _num_samples(X) > FLOAT32_ROWS
        return self

    def transform(self, X):
        if not getattr(self, "float32_", False) or not hasattr(X, "astype") or isinstance(X, pd.DataFrame):
            return X
        return X.astype(np.float32, copy=False)


def ending_in_float32(blocks: list[tuple[str, object, list[str]]]) -> list[tuple[str, Pipeline, list[str]]]:
    """``(name, transformer, columns)`` blocks for a :class:`DesignMatrix`, each ending with :class:`BlockEnd`."""
    out = []
    for name, block, columns in blocks:
        steps = block.steps if isinstance(block, Pipeline) else [(type(block).__name__.lower(), block)]
        out.append((name, Pipeline([*steps, ("float32", BlockEnd())]), columns))
    return out


def to_float(X):
    """Coerce columns to float: numbers stored as strings, 'true'/'false', booleans; ``inf`` is missing.

    >>> to_float(pd.DataFrame({"a": [1.0, float("inf")], "b": ["2", "yes"]})).tolist()
    [[1.0, 2.0], [nan, 1.0]]
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    # dtype kinds, not per-column pandas checks: this runs on every fit and predict of every fold
    text_like = [dtype.kind not in "iuf" for dtype in frame.dtypes]
    if not any(text_like):  # the common case, on every fit and predict: no per-column work
        return finite_float(frame.to_numpy(dtype=float))
    out = np.empty(frame.shape, dtype=float)
    for i, (is_text, (_, s)) in enumerate(zip(text_like, frame.items())):
        if is_text:
            s = numbers_from_text(s)
        out[:, i] = s.to_numpy(dtype=float, na_value=np.nan)
    return finite_float(out)


def to_category_text(X):
    """Categories as stripped strings, missing kept missing (one spelling per category).

    It runs on every fit and predict of every fold: numpy's vectorised string functions, not
    pandas' masked assignment (half the time on 5,000 rows).

    >>> to_category_text(pd.DataFrame({"c": [" a", None, 1, True]})).ravel().tolist()
    ['a', nan, '1', 'True']
    """
    frame = pd.DataFrame(X)
    out = np.empty(frame.shape, dtype=object)
    for i, (_, column) in enumerate(frame.items()):
        values = column.to_numpy(dtype=object, copy=True)
        missing = pd.isna(values)
        present = ~missing
        values[present] = np.char.strip(values[present].astype(str)).astype(object)
        values[missing] = np.nan
        out[:, i] = values
    return out


def to_text(X):
    """One text column as a 1-D array of strings, missing as empty."""
    return pd.Series(np.asarray(X, dtype=object).ravel()).fillna("").astype(str).to_numpy()


def numeric_imputer(scale: bool) -> Pipeline:
    steps = [FunctionTransformer(to_float, feature_names_out="one-to-one"),
             SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)]
    return make_pipeline(*steps, *([StandardScaler()] if scale else []))


def _shuffled_cross_fitting(seed: int) -> dict:
    """``TargetEncoder``'s seeded, shuffled 5-fold cross fitting, as the installed scikit-learn spells it.

    scikit-learn 1.9 deprecates ``shuffle`` and ``random_state`` (removed in 1.11) for a splitter in ``cv``.
    """
    if TargetEncoder().get_params()["random_state"] == "deprecated":
        from sklearn.model_selection import KFold

        return {"cv": KFold(5, shuffle=True, random_state=seed)}
    return {"random_state": seed}


def target_encoder(scale: bool, seed: int) -> Pipeline:
    """Categories to scikit-learn's cross-fitted ``TargetEncoder`` (a row never sees its own target)."""
    return make_pipeline(
        FunctionTransformer(to_category_text, feature_names_out="one-to-one"),
        SimpleImputer(strategy="constant", fill_value="(missing)"),
        TargetEncoder(**_shuffled_cross_fitting(seed)),
        *([StandardScaler()] if scale else []),
    )


class TextSVD(TruncatedSVD):
    """scikit-learn's ``TruncatedSVD``, keeping at most as many components as the TF-IDF has terms.

    A free-text column with a short vocabulary (a handful of words) gives fewer TF-IDF terms than
    the 16 components a text block asks for, and ``TruncatedSVD`` then refuses to fit: every family
    of the run failed on it. The fitted object is a ``TruncatedSVD`` in all but name (its
    ``components_``, ``transform`` and feature names), so the ONNX export converts it with
    skl2onnx's own converter.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((30, 5))
    >>> TextSVD(n_components=16, random_state=0).fit_transform(X).shape
    (30, 5)
    """

    def fit_transform(self, X, y=None):
        k = min(self.n_components, X.shape[1])
        if k == self.n_components:
            return super().fit_transform(X, y)
        inner = TruncatedSVD(k, algorithm=self.algorithm, n_iter=self.n_iter, n_oversamples=self.n_oversamples,
                             power_iteration_normalizer=self.power_iteration_normalizer,
                             random_state=self.random_state, tol=self.tol)
        out = inner.fit_transform(X, y)
        for attribute in ("components_", "explained_variance_", "explained_variance_ratio_", "singular_values_",
                          "n_features_in_", "feature_names_in_"):
            if hasattr(inner, attribute):
                setattr(self, attribute, getattr(inner, attribute))
        return out

    def fit(self, X, y=None):
        self.fit_transform(X, y)
        return self
