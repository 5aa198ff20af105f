"""The ONNX forms of what mlsmith's pipelines hold that skl2onnx does not convert (or converts wrong).

Stand-ins for steps whose fitted state the export rewrites (imputation with indicators, one-hot with
rare levels pooled, per-key lookups), converters for them, for stage 4's log and ratio features,
the dummy baseline and histogram gradient boosting (split in double, as scikit-learn splits), and
LightGBM's and XGBoost's from onnxmltools. :func:`register_converters` registers them all with
skl2onnx once per process.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ..catalog import installed
from ..features import LogTransform, Ratios
from ..features._aggregate import _key as group_key
from ..preprocess import DesignMatrix, TextSVD

__all__ = ["register_converters"]


class _NotConvertible(Exception):
    """The pipeline has a part without an ONNX form; the message says which."""


class _ImputeWithIndicator(TransformerMixin, BaseEstimator):
    """The graph form of a fitted numeric ``SimpleImputer``: fill values, then the missing flags of
    ``add_indicator=True`` (none without). Not skl2onnx's Imputer, which onnxruntime runs in float32 only."""

    def __init__(self, statistics=None, features=None):
        self.statistics = statistics
        self.features = features

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=float)
        missing = np.isnan(X)
        filled = np.where(missing, np.asarray(self.statistics, dtype=float), X)
        return np.hstack([filled, missing[:, list(self.features)].astype(float)])


class _OneHotInfrequent(TransformerMixin, BaseEstimator):
    """The graph form of a fitted ``OneHotEncoder`` that pooled infrequent categories (skl2onnx has none).

    ``columns[i]`` maps feature i's categories to their output column within its ``widths[i]``
    columns: the frequent ones in order, then the pooled column; ``unknown[i]`` is where a category
    not seen in fit goes (the pooled column, or -1: no column, as ``handle_unknown`` says).
    """

    def __init__(self, columns=None, widths=None, unknown=None):
        self.columns = columns
        self.widths = widths
        self.unknown = unknown

    @classmethod
    def of(cls, encoder) -> "_OneHotInfrequent":
        columns, widths, unknown = [], [], []
        for cats, rare in zip(encoder.categories_, encoder.infrequent_categories_):
            rare = set() if rare is None else {str(c) for c in rare}
            frequent = [str(c) for c in cats if str(c) not in rare]
            pooled = len(frequent) if rare else -1
            columns.append({**{c: i for i, c in enumerate(frequent)}, **{c: pooled for c in rare}})
            widths.append(len(frequent) + bool(rare))
            unknown.append(pooled if encoder.handle_unknown == "infrequent_if_exist" else -1)
        return cls(columns, widths, unknown)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=object)
        blocks = []
        for i, (columns, width, unknown) in enumerate(zip(self.columns, self.widths, self.unknown)):
            index = np.array([columns.get(str(v), unknown) for v in X[:, i]])
            blocks.append((index[:, None] == np.arange(width)).astype(float))
        return np.hstack(blocks)


class _Lookup(TransformerMixin, BaseEstimator):
    """The graph form of a fitted ``GroupAggregate``: each output column looks the row's key up.

    ``tables[j]`` maps a key (as ``GroupAggregate`` spells it, a missing one included) to output
    column j; a key not seen in fit gets ``defaults[j]`` (0 for sums and counts,
    missing for means and last values, as ``GroupAggregate`` gives).
    """

    def __init__(self, tables=None, defaults=None):
        self.tables = tables
        self.defaults = defaults

    @classmethod
    def of(cls, aggregate) -> "_Lookup":
        tables = [{k: float(v) for k, v in zip(aggregate.keys_, row)} for row in aggregate.values_]
        return cls(tables, aggregate.defaults())

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        keys = group_key(pd.DataFrame(X).iloc[:, 0])
        return np.array([[table.get(k, d) for table, d in zip(self.tables, self.defaults)] for k in keys], dtype=float)



@functools.cache  # skl2onnx keeps the registrations: once per process
def register_converters() -> None:
    """Register every converter below with skl2onnx (and onnxmltools' for LightGBM and XGBoost)."""
    import lightgbm
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    update_registered_converter(lightgbm.LGBMClassifier, "LightGbmLGBMClassifier",
                                calculate_linear_classifier_output_shapes, convert_lightgbm, options=options)
    update_registered_converter(lightgbm.LGBMRegressor, "LightGbmLGBMRegressor",
                                calculate_linear_regressor_output_shapes, convert_lightgbm)
    if installed("xgboost"):  # an extra (mlsmith[xgboost] or [gpu]): without it no pipeline holds its models
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        update_registered_converter(xgboost.XGBClassifier, "XGBoostXGBClassifier",
                                    calculate_linear_classifier_output_shapes, convert_xgboost, options=options)
        update_registered_converter(xgboost.XGBRegressor, "XGBoostXGBRegressor",
                                    calculate_linear_regressor_output_shapes, convert_xgboost)
    update_registered_converter(_ImputeWithIndicator, "MlsmithImputeWithIndicator", _impute_shape, _impute_convert)
    update_registered_converter(LogTransform, "MlsmithLogTransform", _log_shape, _log_convert)
    update_registered_converter(Ratios, "MlsmithRatios", _ratios_shape, _ratios_convert)
    update_registered_converter(_OneHotInfrequent, "MlsmithOneHotInfrequent", _onehot_shape, _onehot_convert)
    update_registered_converter(_Lookup, "MlsmithLookup", _lookup_shape, _lookup_convert)
    update_registered_converter(DummyClassifier, "MlsmithDummyClassifier", calculate_linear_classifier_output_shapes,
                                _dummy_convert, options=options)
    update_registered_converter(DummyRegressor, "MlsmithDummyRegressor", calculate_linear_regressor_output_shapes,
                                _dummy_convert)
    from skl2onnx.operator_converters.decomposition import convert_truncated_svd
    from skl2onnx.shape_calculators.svd import calculate_sklearn_truncated_svd_output_shapes

    update_registered_converter(TextSVD, "MlsmithTextSVD", calculate_sklearn_truncated_svd_output_shapes,
                                convert_truncated_svd)
    from skl2onnx._parse import sklearn_parsers_map, update_registered_parser
    from sklearn.compose import ColumnTransformer

    # the preprocessing is a ColumnTransformer whose in-Python output may be float32: the same graph
    update_registered_parser(DesignMatrix, sklearn_parsers_map[ColumnTransformer])
    # skl2onnx's own converter splits in float32 and, with onnx 1.23, fails on its boolean
    # missing-value flags ("Unable to create node 'TreeEnsembleClassifier'"): see _hgb_convert.
    update_registered_converter(HistGradientBoostingClassifier, "MlsmithHistGradientBoostingClassifier", _hgb_shape,
                                _hgb_convert, options=options)
    update_registered_converter(HistGradientBoostingRegressor, "MlsmithHistGradientBoostingRegressor", _hgb_shape,
                                _hgb_convert)


def _float_outputs(operator, width: int) -> None:
    """One float output of ``width`` columns: double when an input is (see :func:`_splits_in_double`)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    double = any(isinstance(v.type, DoubleTensorType) for v in operator.inputs)
    kind = DoubleTensorType if double else FloatTensorType
    operator.outputs[0].type = kind([operator.inputs[0].get_first_dimension(), width])


def _proto(variable) -> int:
    """The ONNX element type of a float variable."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    return TensorProto.DOUBLE if isinstance(variable.type, DoubleTensorType) else TensorProto.FLOAT


def _log_shape(operator) -> None:
    _float_outputs(operator, operator.raw_operator.n_features_in_)


def _ratios_shape(operator) -> None:
    _float_outputs(operator, len(operator.raw_operator.pairs_))


def _onehot_shape(operator) -> None:
    _float_outputs(operator, sum(operator.raw_operator.widths))


def _lookup_shape(operator) -> None:
    _float_outputs(operator, len(operator.raw_operator.tables))


def _impute_shape(operator) -> None:
    op = operator.raw_operator
    _float_outputs(operator, len(op.statistics) + len(op.features))


def _graph(scope, container) -> tuple[Callable[..., str], Callable[..., str]]:
    """``node(op_type, inputs, output=None, domain=None, **attrs)`` and ``constant(values, dtype, shape)``
    for one converter: each adds to the graph under a unique name and returns that name."""
    from onnx import TensorProto

    def node(op_type: str, inputs: list[str], output: str | None = None, domain: str | None = None,
             version: int = 2, **attrs) -> str:
        output = output or scope.get_unique_variable_name(op_type.lower())
        opset = {"op_domain": domain, "op_version": version} if domain else {}  # ai.onnx.ml's LabelEncoder-2
        container.add_node(op_type, inputs, [output], name=scope.get_unique_operator_name(op_type), **opset, **attrs)
        return output

    def constant(values: list, dtype: int = TensorProto.DOUBLE, shape: list[int] | None = None) -> str:
        name = scope.get_unique_variable_name("const")
        container.add_initializer(name, dtype, shape or [len(values)], values)
        return name

    return node, constant


def _joined(operator, node: Callable[..., str]) -> str:
    """The operator's inputs side by side in one tensor, of the first one's type.

    Not skl2onnx's ``concatenate_variables``: its FeatureVectorizer rounds double inputs to float32.
    """
    names = [v.full_name for v in operator.inputs]
    if len(names) == 1:
        return names[0]
    first = _proto(operator.inputs[0])
    names = [name if _proto(v) == first else node("Cast", [name], to=first) for name, v in zip(names, operator.inputs)]
    return node("Concat", names, axis=1)


def _in_double(operator, node: Callable[..., str]) -> str:
    """The operator's inputs as one double tensor: mlsmith's transformers compute in float64, and so
    does their graph, cast back to the output's type at the end."""
    from onnx import TensorProto

    return node("Cast", [_joined(operator, node)], to=TensorProto.DOUBLE)


def _log_convert(scope, operator, container) -> None:
    """``sign(x) * log(1 + |x|)``, or ``log(1 + x)`` with negatives set to 0 (``negative='clip'``); NaN stays NaN."""

    node, constant = _graph(scope, container)
    x = _in_double(operator, node)
    one = constant([1.0])
    if operator.raw_operator.negative == "clip":  # Where, not Max: a missing value must stay missing
        zero = constant([0.0])
        logged = node("Log", [node("Add", [node("Where", [node("Less", [x, zero]), zero, x]), one])])
    else:
        logged = node("Mul", [node("Sign", [x]), node("Log", [node("Add", [node("Abs", [x]), one])])])
    node("Cast", [logged], operator.outputs[0].full_name, to=_proto(operator.outputs[0]))


def _ratios_convert(scope, operator, container) -> None:
    """Each pair's numerator over its denominator; missing where the denominator is (nearly) zero."""
    from onnx import TensorProto

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    x = _in_double(operator, node)
    num, den = ([int(pair[k]) for pair in op.pairs_] for k in (0, 1))
    top = node("Gather", [x, constant(num, TensorProto.INT64)], axis=1)
    bottom = node("Gather", [x, constant(den, TensorProto.INT64)], axis=1)
    safe = node("Greater", [node("Abs", [bottom]), constant([float(op.min_denominator)])])
    ratio = node("Where", [safe, node("Div", [top, bottom]), constant([float("nan")])])
    node("Cast", [ratio], operator.outputs[0].full_name, to=_proto(operator.outputs[0]))


def _onehot_convert(scope, operator, container) -> None:
    """Per feature: its category's column number (a LabelEncoder), compared with 0..width-1."""
    from onnx import TensorProto

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    inputs = [v.full_name for v in operator.inputs]
    if len(inputs) != len(op.columns):  # one input holding every feature: take them apart
        inputs = [node("Gather", [inputs[0], constant([i], TensorProto.INT64)], axis=1) for i in range(len(op.columns))]
    blocks = []
    for x, columns, width, unknown in zip(inputs, op.columns, op.widths, op.unknown):
        index = node("LabelEncoder", [x], domain="ai.onnx.ml", keys_strings=list(columns),
                     values_int64s=[int(v) for v in columns.values()], default_int64=int(unknown))
        span = constant(list(range(width)), TensorProto.INT64, [1, width])
        blocks.append(node("Cast", [node("Equal", [index, span])], to=TensorProto.FLOAT))
    node("Concat", blocks, operator.outputs[0].full_name, axis=1)


def _lookup_convert(scope, operator, container) -> None:
    """One LabelEncoder per output column: key -> value, with the column's default for unseen keys."""
    op = operator.raw_operator
    node, _ = _graph(scope, container)
    key = operator.inputs[0].full_name
    outputs = [node("LabelEncoder", [key], domain="ai.onnx.ml", keys_strings=list(table),
                    values_floats=[float(v) for v in table.values()], default_float=float(default))
               for table, default in zip(op.tables, op.defaults)]
    node("Concat", outputs, operator.outputs[0].full_name, axis=1)


def _dummy_convert(scope, operator, container) -> None:
    """A dummy model gives every row the same output: its prediction for any one row, repeated."""
    from onnx import TensorProto

    op = operator.raw_operator
    if getattr(op, "strategy", None) in ("stratified", "uniform"):
        raise NotImplementedError(f"DummyClassifier(strategy='{op.strategy}') draws at random; it has no ONNX form")
    node, constant = _graph(scope, container)
    one_row = np.zeros((1, op.n_features_in_))
    rows = node("Gather", [node("Shape", [operator.inputs[0].full_name]), constant([0], TensorProto.INT64)], axis=0)
    if not hasattr(op, "predict_proba"):  # a regressor: one column of predictions
        value = np.asarray(op.predict(one_row), dtype=float).ravel()
        node("Expand", [constant([float(v) for v in value], TensorProto.FLOAT, [1, len(value)]),
                        node("Concat", [rows, constant([len(value)], TensorProto.INT64)], axis=0)],
             operator.outputs[0].full_name)
        return
    proba = op.predict_proba(one_row)[0]
    width = node("Concat", [rows, constant([len(proba)], TensorProto.INT64)], axis=0)
    node("Expand", [constant([float(v) for v in proba], TensorProto.FLOAT, [1, len(proba)]), width],
         operator.outputs[1].full_name)
    label = op.predict(one_row)[0]
    if np.asarray(op.classes_).dtype.kind in "iub":
        labelled = constant([int(label)], TensorProto.INT64)
    else:
        labelled = constant([str(label)], TensorProto.STRING)
    node("Expand", [labelled, rows], operator.outputs[0].full_name)


def _hgb_shape(operator) -> None:
    """A histogram gradient boosting model's outputs: float32, as every other model's."""
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    op, n = operator.raw_operator, operator.inputs[0].get_first_dimension()
    if hasattr(op, "classes_"):
        numeric = np.asarray(op.classes_).dtype.kind in "iub"
        operator.outputs[0].type = (Int64TensorType if numeric else StringTensorType)([n])
        operator.outputs[1].type = FloatTensorType([n, len(op.classes_)])
    else:
        operator.outputs[0].type = FloatTensorType([n, 1])


def _hgb_trees(op) -> dict[str, Any]:
    """The trees of a fitted histogram gradient boosting model as TreeEnsembleRegressor attributes:
    tree ``i * k + c`` is iteration i's tree for score c; thresholds and leaf values stay float64."""
    from onnx import numpy_helper

    attrs: dict[str, list] = {key: [] for key in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_truenodeids",
        "nodes_falsenodeids", "nodes_missing_value_tracks_true", "target_treeids", "target_nodeids", "target_ids")}
    thresholds, leaves = [], []
    for i, trees in enumerate(op._predictors):
        for c, tree in enumerate(trees):
            tree_id = i * op.n_trees_per_iteration_ + c
            for node_id, node in enumerate(tree.nodes):
                if node["is_categorical"]:
                    raise _NotConvertible("a histogram gradient boosting model with native categorical splits has no "
                                          "ONNX form")
                leaf = bool(node["is_leaf"])
                attrs["nodes_treeids"].append(tree_id)
                attrs["nodes_nodeids"].append(node_id)
                attrs["nodes_featureids"].append(0 if leaf else int(node["feature_idx"]))
                attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(0 if leaf else int(node["left"]))
                attrs["nodes_falsenodeids"].append(0 if leaf else int(node["right"]))
                # a missing value goes where training sent it: left (the true branch) or right
                attrs["nodes_missing_value_tracks_true"].append(0 if leaf else int(node["missing_go_to_left"]))
                thresholds.append(0.0 if leaf else float(node["num_threshold"]))
                if leaf:
                    attrs["target_treeids"].append(tree_id)
                    attrs["target_nodeids"].append(node_id)
                    attrs["target_ids"].append(c)
                    leaves.append(float(node["value"]))
    base = np.asarray(op._baseline_prediction, dtype=np.float64).ravel()
    return {**attrs, "nodes_values_as_tensor": numpy_helper.from_array(np.array(thresholds, dtype=np.float64)),
            "target_weights_as_tensor": numpy_helper.from_array(np.array(leaves, dtype=np.float64)),
            "base_values_as_tensor": numpy_helper.from_array(base),
            "n_targets": op.n_trees_per_iteration_, "aggregate_function": "SUM", "post_transform": "NONE"}


def _hgb_convert(scope, operator, container) -> None:
    """scikit-learn's histogram gradient boosting, split in double as scikit-learn splits.

    Its trees compare float64 inputs with float64 thresholds; in float32 a value that lies on a
    threshold — decimal data often do: 12.47 against 12.469999999999999, the midpoint of 12.37 and
    12.57 — takes the other branch (on the wine data, one row of 89 moved a probability by 0.003).
    One TreeEnsembleRegressor (ai.onnx.ml 3, thresholds and leaf values as double tensors) sums the
    raw scores; the loss's link makes them probabilities (the label: the most probable class) or predictions.
    """
    from onnx import TensorProto

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    x = node("Cast", [_joined(operator, node)], to=TensorProto.DOUBLE)
    raw = node("TreeEnsembleRegressor", [x], domain="ai.onnx.ml", version=3, **_hgb_trees(op))
    link = type(op._loss.link).__name__
    if not hasattr(op, "classes_"):
        if link not in ("IdentityLink", "LogLink"):
            raise _NotConvertible(f"a histogram gradient boosting regressor with the {link} has no ONNX form here")
        node("Exp" if link == "LogLink" else "Identity", [raw], operator.outputs[0].full_name)
        return
    proba = operator.outputs[1].full_name
    if op.n_trees_per_iteration_ == 1:  # binary: the score is the positive class's log-odds
        positive = node("Sigmoid", [raw])
        node("Concat", [node("Sub", [constant([1.0], TensorProto.FLOAT), positive]), positive], proba, axis=1)
    else:
        node("Softmax", [raw], proba, axis=1)
    labels = np.asarray(op.classes_)
    values = constant([int(v) for v in labels], TensorProto.INT64) if labels.dtype.kind in "iub" else \
        constant([str(v) for v in labels], TensorProto.STRING)
    node("Gather", [values, node("ArgMax", [proba], axis=1, keepdims=0)], operator.outputs[0].full_name, axis=0)


def _impute_convert(scope, operator, container) -> None:
    from onnx import TensorProto

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    x = _joined(operator, node)
    kind = _proto(operator.outputs[0])
    stats = constant([float(v) for v in op.statistics], kind, [1, len(op.statistics)])
    isnan = node("IsNaN", [x])
    filled = node("Where", [isnan, stats, x])
    out = operator.outputs[0].full_name
    if len(op.features) == 0:
        node("Identity", [filled], out)
        return
    flags = node("Gather", [isnan, constant([int(v) for v in op.features], TensorProto.INT64)], axis=1)
    node("Concat", [filled, node("Cast", [flags], to=kind)], out, axis=1)
