"""Pipeline building: the preprocessing of a schema (with stage 4's plan) followed by a family's model.

It sits above the parts it assembles: the column coercions and encoders (:mod:`mlsmith.preprocess`),
stage 4's transformers and plan blocks (:mod:`mlsmith.features`) and the catalog's families
(:mod:`mlsmith.catalog`), none of which imports it.
"""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from .catalog import CATALOG, Family
from .data import Schema
from .features import DateFeatures, FeaturePlan
from .features._build import plan_blocks, replaced_columns
from .preprocess import (
    HIGH_CARDINALITY,
    DesignMatrix,
    TextSVD,
    ending_in_float32,
    numeric_imputer,
    target_encoder,
    to_category_text,
    to_text,
)

__all__ = ["build_pipeline", "build_preprocessor"]


def build_preprocessor(schema: Schema, scale: bool, seed: int, plan: FeaturePlan | None = None) -> DesignMatrix:
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
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0, 4.0], "c": ["a", "b", "a", None], "y": [0, 1, 0, 1]})
    >>> prep = build_preprocessor(infer_schema(df, "y"), scale=True, seed=0)
    >>> prep.fit_transform(df[["x", "c"]], df["y"]).shape  # x, its missing flag, one pooled level
    (4, 3)
    """
    taken = replaced_columns(plan) if plan is not None else set()
    parts = []
    numeric = [c for c in schema.features("numeric") + schema.features("boolean") if c not in taken]
    if numeric:
        parts.append(("num", numeric_imputer(scale), numeric))
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
            TextSVD(n_components=16, random_state=seed),
        )
        parts.append((f"text_{column}", text, [column]))
    return DesignMatrix(ending_in_float32(parts), remainder="drop", sparse_threshold=0.0)


def build_pipeline(family: str | Family, schema: Schema, task: str, seed: int,
                   plan: FeaturePlan | None = None) -> Pipeline:
    """Preprocessing (scaled if the family needs it, with the feature ``plan``) followed by the family's model.

    ``family`` is a catalog name or a :class:`Family` (a user's own, see :func:`family`).

    Examples
    --------
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    >>> build_pipeline("linear", infer_schema(df, "y"), "binary_classification", 0).steps[-1][0]
    'model'
    """
    spec = CATALOG[family] if isinstance(family, str) else family
    prep = build_preprocessor(schema, scale=spec.needs_scaling, seed=seed, plan=plan)
    return Pipeline([("prep", prep), ("model", spec.make(task, seed))])
