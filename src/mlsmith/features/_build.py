"""The plan as preprocessing: one ColumnTransformer block per transform, fitted inside the Pipeline."""

from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, PolynomialFeatures, StandardScaler

from ..preprocess import target_encoder, to_float
from ._aggregate import GroupAggregate
from ._binning import Binning
from ._dates import DateFeatures, ElapsedDays
from ._log import LogTransform
from ._plan import FeaturePlan
from ._ratios import Ratios

__all__ = ["plan_blocks", "replaced_columns"]

#: Kinds that take over their columns (the raw column leaves the default block); the others add.
REPLACING = ("dates", "log", "target_encoding")


def replaced_columns(plan: FeaturePlan) -> set[str]:
    return {c for t in plan.transforms if t.kind in REPLACING for c in t.columns}


def beyond_linear(X, n: int):
    """The columns of PolynomialFeatures' output past the first ``n`` (the inputs, already present raw)."""
    return X.iloc[:, n:] if hasattr(X, "iloc") else X[:, n:]


def _beyond_linear_names(transformer, names):
    return np.asarray(names[transformer.kw_args["n"]:], dtype=object)


def plan_blocks(plan: FeaturePlan, scale: bool, seed: int) -> list[tuple[str, object, list[str]]]:
    """``(name, transformer, columns)`` for each transform of the plan, ready for a ColumnTransformer."""
    tail = [StandardScaler()] if scale else []

    def impute(indicator: bool = False):
        return SimpleImputer(strategy="median", add_indicator=indicator, keep_empty_features=True)

    def numbers():
        return FunctionTransformer(to_float, feature_names_out="one-to-one")

    blocks = []
    # Log transforms are per column in the plan (each with its reason) but one block per setting
    # here: thirty one-column pipelines cost thirty times the per-call overhead on every fit and predict.
    logged: dict[str, list[str]] = {}
    for t in plan.transforms:
        if t.kind == "log":
            columns = logged.setdefault(t.negative, [])
            columns += [c for c in t.columns if c not in columns]
    for i, t in enumerate(plan.transforms):
        cols = list(t.columns)
        if t.kind == "log":
            if t.negative not in logged:
                continue  # already emitted with the first log transform of this setting
            cols = logged.pop(t.negative)
        if t.kind == "dates":
            steps = [DateFeatures(holidays_country=t.country), impute()]
        elif t.kind == "elapsed":
            steps = [ElapsedDays(), impute()]
        elif t.kind == "log":
            steps = [numbers(), LogTransform(negative=t.negative), impute(indicator=True)]
        elif t.kind == "bin":
            steps = [numbers(), impute(), Binning(strategy=t.strategy, n_bins=t.n_bins, edges=t.edges, labels=t.labels)]
        elif t.kind in ("polynomial", "interaction"):
            poly = PolynomialFeatures(degree=t.degree if t.kind == "polynomial" else 2,
                                      interaction_only=t.kind == "interaction", include_bias=False)
            cut = FunctionTransformer(beyond_linear, kw_args={"n": len(cols)}, feature_names_out=_beyond_linear_names)
            steps = [numbers(), impute(), poly, cut]
        elif t.kind == "ratio":
            steps = [numbers(), Ratios(), impute()]
        elif t.kind == "target_encoding":
            blocks.append((f"target_enc_{i}", target_encoder(scale, seed), cols))
            continue
        else:  # aggregate: the key first, then the columns it summarises
            assert t.by is not None, "FeatureSpec requires 'by' for an aggregate"
            cols = [t.by, *cols]
            steps = [GroupAggregate(stats=tuple(t.stats)), impute()]
        blocks.append((f"{t.kind}_{i}", make_pipeline(*steps, *tail), cols))
    return blocks
