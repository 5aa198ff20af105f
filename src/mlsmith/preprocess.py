"""Leak-free preprocessing: every learned step lives in one ColumnTransformer inside the Pipeline.

Imputers, scalers, encoders and date expansion are fitted on the rows they are given — within a
cross-validation fold, on the training folds only — never on the whole table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler, TargetEncoder

from ._columns import finite_float, numbers_from_text
from .data import Schema
from .features import DateFeatures, FeaturePlan

__all__ = ["HIGH_CARDINALITY", "build_preprocessor"]

#: Categorical columns with more distinct values than this are target-encoded (cross-fitted)
#: instead of one-hot encoded.
HIGH_CARDINALITY = 20


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


def _numeric(scale: bool) -> Pipeline:
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


def build_preprocessor(schema: Schema, scale: bool, seed: int = 0, plan: FeaturePlan | None = None) -> ColumnTransformer:
    """The preprocessing for a schema, scaled for models that need it.

    - numeric and boolean: coerced to float, median-imputed with missing indicators, scaled;
    - categorical: one-hot (rare levels pooled) or, above :data:`HIGH_CARDINALITY` levels,
      scikit-learn's cross-fitted ``TargetEncoder``;
    - datetime: :class:`~mlsmith.features.DateFeatures`, then imputed and scaled;
    - free text: TF-IDF reduced to 16 components.

    With a feature ``plan`` (stage 4), the plan decides instead: its transforms run as blocks of
    their own (see :func:`mlsmith.features.plan_features`); categoricals it does not target-encode
    are one-hot encoded, and date columns it does not expand enter as a plain day count — the raw
    columns, so that an empty plan measures what the engineered features add.

    Examples
    --------
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "b", "a", None], "y": [0, 1, 0, 1]})
    >>> prep = build_preprocessor(infer_schema(df, "y"), scale=True)
    >>> prep.fit_transform(df[["x", "c"]], df["y"]).shape  # x, its missing flag, one pooled level
    (4, 3)
    """
    from .features._build import plan_blocks, replaced_columns

    taken = replaced_columns(plan) if plan is not None else set()
    parts = []
    numeric = [c for c in schema.features("numeric") + schema.features("boolean") if c not in taken]
    if numeric:
        parts.append(("num", _numeric(scale), numeric))
    categorical = [c for c in schema.features("categorical") if c not in taken]
    high = [c for c in categorical if schema[c].n_unique > HIGH_CARDINALITY] if plan is None else []
    low = [c for c in categorical if c not in high]
    if low:
        onehot = make_pipeline(
            FunctionTransformer(to_category_text, feature_names_out="one-to-one"),
            SimpleImputer(strategy="constant", fill_value="(missing)"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5, max_categories=50,
                          sparse_output=False),
        )
        parts.append(("cat", onehot, low))
    if high:
        parts.append(("target_enc", target_encoder(scale, seed), high))
    dates = [c for c in schema.features("datetime") if c not in taken]
    if dates:
        expand = make_pipeline(
            DateFeatures(parts=None if plan is None else ("days",)),
            SimpleImputer(strategy="median", keep_empty_features=True),
            *([StandardScaler()] if scale else []),
        )
        parts.append(("date", expand, dates))
    if plan is not None:
        parts += plan_blocks(plan, scale, seed)
    for column in schema.features("text"):
        text = make_pipeline(
            FunctionTransformer(to_text),
            TfidfVectorizer(max_features=2000, min_df=2, sublinear_tf=True),
            TruncatedSVD(n_components=16, random_state=seed),
        )
        parts.append((f"text_{column}", text, [column]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
