"""ONNX export of a bundle's pipeline, verified against it, and scoring through onnxruntime.

mlsmith's preprocessing starts each column block with a stateless Python coercion (numbers stored
as text, category spelling, date parsing, text cleaning) that has no ONNX form. The export keeps
those coercions in Python and converts everything that learned from data — imputation, encoding
(one-hot with rare levels pooled, which skl2onnx lacks, included), scaling, stage 4's log, ratio
and per-key aggregate features, and the model — into the graph: the graph's inputs are the coerced
columns (a date column enters as its expanded parts, a pair of dates as the days between them, an
aggregate's key as text). A pipeline with a step that does not convert (stage 4's bins and
polynomial terms) gets a one-sentence reason in ``onnx.json`` instead of a graph. The graph computes
in float32, but for scikit-learn's histogram gradient boosting, which splits float64 inputs as
scikit-learn does (see :func:`_splits_in_double`).

The graph is the whole model, as the bundle's pipeline is (:func:`mlsmith.target.whole_model`): its
``label`` output is the original class, the positive one when its probability reaches the decision
threshold (the most probable one for a multiclass model), and its ``probabilities`` output has one
column per class, in the order of the bundle's ``classes``.
"""

from __future__ import annotations

import copy
import json
import warnings
from datetime import datetime
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from .._columns import finite_float, naive_utc
from ..catalog import installed
from ..features import DateFeatures, ElapsedDays, GroupAggregate, LogTransform, Ratios
from ..features._aggregate import _key as group_key
from ..features._dates import PARTS
from ..preprocess import to_category_text, to_float, to_text
from ..target import code_model

__all__ = ["ONNX_FILE", "ONNX_INFO", "OnnxExport", "OnnxModel", "export_onnx"]

ONNX_FILE = "model.onnx"
ONNX_INFO = "onnx.json"
#: Largest absolute difference allowed between the graph's probabilities and the pipeline's.
TOLERANCE = 1e-4
_MISSING_CATEGORY = "(missing)"


class _NotConvertible(Exception):
    """The pipeline has a part without an ONNX form; the message says which."""


@dataclass
class OnnxExport:
    """The outcome of an ONNX export: the graph, or why there is none."""

    converted: bool
    reason: str
    max_abs_diff: float | None = None
    n_rows_checked: int = 0
    tolerance: float = TOLERANCE
    inputs: list[dict[str, Any]] = field(default_factory=list)
    model: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "model"}

    def files(self) -> dict[str, str | bytes]:
        """The bundle files of this export: onnx.json always, model.onnx when it converted."""
        out: dict[str, str | bytes] = {ONNX_INFO: json.dumps(self.to_dict(), indent=2)}
        if self.converted and self.model is not None:
            out[ONNX_FILE] = self.model
        return out


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


@dataclass
class _Block:
    """One ColumnTransformer block: how its columns are coerced in Python and fed to the graph."""

    kind: str  # numeric | categorical | text | date | elapsed | aggregate
    columns: list[str]
    #: For date and elapsed blocks: the stateless step run in Python whose outputs the graph takes
    #: (DateFeatures' parts, ElapsedDays' day counts).
    expand: DateFeatures | ElapsedDays | None = None
    names: list[str] = field(default_factory=list)
    #: The graph's float inputs: float64 when the model splits in double (:func:`_splits_in_double`).
    dtype: type = np.float32

    def __post_init__(self):
        # The graph's inputs for this block: one per column, one per expanded output for dates, the
        # key alone for an aggregate (its values were summarised in fit).
        if self.expand is not None:
            self.names = [str(n) for n in self.expand.get_feature_names_out()]
        elif self.kind == "aggregate":
            self.names = [f"{self.columns[0]}__group_key"]
        else:
            self.names = list(self.columns)

    def input_names(self) -> list[str]:
        return self.names

    def feeds(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        sub = frame[self.columns]
        if self.kind == "numeric":
            values = _floats(to_float(sub), self.dtype)
            return {c: values[:, [i]] for i, c in enumerate(self.columns)}
        if self.expand is not None:
            parts = _floats(self.expand.transform(sub), self.dtype)
            return {name: parts[:, [i]] for i, name in enumerate(self.input_names())}
        if self.kind == "text":
            return {self.columns[0]: to_text(sub).astype(object).reshape(-1, 1)}
        if self.kind == "aggregate":
            return {self.names[0]: group_key(sub.iloc[:, 0]).to_numpy(dtype=object).reshape(-1, 1)}
        values = pd.DataFrame(to_category_text(sub)).fillna(_MISSING_CATEGORY).to_numpy(dtype=object)
        return {c: values[:, [i]] for i, c in enumerate(self.columns)}


    def record_feeds(self, records: list[dict[str, Any]]) -> dict[str, np.ndarray] | None:
        """The same feeds from validated JSON records, without a DataFrame of every column.

        None when a value needs pandas' coercion (text that is not a plain number, dates as text).
        """
        out: dict[str, np.ndarray] = {}
        if self.kind == "aggregate":
            return None  # a key is spelled as pandas reads its column
        if self.kind == "numeric":
            # one (columns, rows) array: each column's (rows, 1) feed is then a contiguous view
            try:
                block = _floats(np.array([[r.get(c) for r in records] for c in self.columns], dtype=float), self.dtype)
            except (TypeError, ValueError):
                return None
            for i, c in enumerate(self.columns):
                out[c] = block[i].reshape(-1, 1)
        elif self.kind == "categorical":
            for c in self.columns:
                values = [_MISSING_CATEGORY if (v := r.get(c)) is None else str(v).strip() for r in records]
                out[c] = np.array(values, dtype=object).reshape(-1, 1)
        elif self.kind == "text":
            c = self.columns[0]
            out[c] = np.array(["" if r.get(c) is None else str(r[c]) for r in records], dtype=object).reshape(-1, 1)
        elif self.kind == "date" and not self.expand.holidays_country:
            names = iter(self.input_names())
            for c, has_time in zip(self.columns, self.expand.has_time_):
                wanted = [PARTS.index(p) for p in self.expand._parts(has_time)]
                values = [_naive(r.get(c)) for r in records]
                if any(v is not None and not isinstance(v, datetime) for v in values):
                    return None  # dates as text: pandas parses them
                if len(values) <= 8:  # a few rows: Python's datetime beats numpy's per-call costs
                    parts = np.array([_date_parts(v) for v in values], dtype=self.dtype).T[wanted].copy()
                else:
                    parts = _date_parts_array(values)[wanted].astype(self.dtype)
                for row in parts:
                    out[next(names)] = row.reshape(-1, 1)
        else:
            frame = pd.DataFrame({c: [_naive(r.get(c)) for r in records] for c in self.columns})
            out.update(self.feeds(frame))
        return out


_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()


def _floats(values: np.ndarray, dtype: type) -> np.ndarray:
    """The graph's float inputs, by the float rule the pipeline's ``to_float`` applies: an infinity
    or a magnitude past float32's is missing (NaN, which the graph imputes), never clipped."""
    return finite_float(values).astype(dtype)


def _naive(value: Any) -> Any:
    return naive_utc(value) if isinstance(value, datetime) else value


def _date_parts(value: datetime | None) -> list[float]:
    """DateFeatures' parts (``PARTS``) of one naive datetime: year, month, day, day of week, weekend, days, hour."""
    if value is None:
        return [np.nan] * len(PARTS)
    weekday = value.weekday()
    return [value.year, value.month, value.day, weekday, float(weekday >= 5), (value - _EPOCH).days, value.hour]


def _date_parts_array(values: list[datetime | None]) -> np.ndarray:
    """``_date_parts`` of many naive datetimes at once: a (len(PARTS), n) float array, NaN where missing."""
    # from each date's ordinal and hour: numpy's own conversion of datetime objects is 20x slower
    missing = np.array([v is None for v in values])
    n_days = np.array([_EPOCH_ORDINAL if v is None else v.toordinal() for v in values], dtype=np.int64) - _EPOCH_ORDINAL
    days = n_days.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    weekday = (n_days + 3) % 7  # 1970-01-01 was a Thursday
    parts = np.array([
        days.astype("datetime64[Y]").astype(np.int64) + 1970,
        months.astype(np.int64) % 12 + 1,
        (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
        weekday, weekday >= 5, n_days,
        [0 if v is None else v.hour for v in values],
    ], dtype=float)
    parts[:, missing] = np.nan
    return parts


def _plan(pipeline) -> tuple[Pipeline, list[_Block]]:
    """A copy of the pipeline (on class codes) whose steps all have an ONNX form, and the Python
    coercion per block."""
    pipeline = code_model(pipeline)[0]
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2 or not hasattr(pipeline.steps[0][1], "transformers_"):
        raise _NotConvertible("the pipeline is not mlsmith's preprocessing followed by one model")
    graph = copy.deepcopy(pipeline)
    blocks = []
    prep = graph.steps[0][1]
    for position, (name, sub, columns) in enumerate(prep.transformers_):
        if name == "remainder" or isinstance(sub, str):
            continue
        steps = list(sub.steps) if isinstance(sub, Pipeline) else [("only", sub)]
        first = steps[0][1]
        if isinstance(first, (DateFeatures, ElapsedDays)):
            blocks.append(_Block("date" if isinstance(first, DateFeatures) else "elapsed", list(columns), first))
        elif isinstance(first, GroupAggregate):
            blocks.append(_Block("aggregate", list(columns)))
            steps.insert(1, ("lookup", _Lookup.of(first)))
        elif isinstance(first, FunctionTransformer) and first.func in (to_float, to_category_text, to_text):
            kind = {to_float: "numeric", to_category_text: "categorical", to_text: "text"}[first.func]
            blocks.append(_Block(kind, list(columns)))
        else:
            raise _NotConvertible(f"block '{name}' starts with {type(first).__name__}, which has no ONNX form")
        rest = steps[1:]
        if blocks[-1].kind == "categorical" and rest and isinstance(rest[0][1], SimpleImputer):
            rest = rest[1:]  # the constant fill happens in the Python coercion
        for i, (step_name, step) in enumerate(rest):
            if isinstance(step, SimpleImputer) and _numeric_fill(step):
                flags = step.indicator_.features_ if step.add_indicator else []
                rest[i] = (step_name, _ImputeWithIndicator(step.statistics_, flags))
            elif (isinstance(step, OneHotEncoder) and step.drop is None
                  and any(r is not None for r in step.infrequent_categories_)):
                rest[i] = (step_name, _OneHotInfrequent.of(step))
        if not rest:
            rest = [("identity", FunctionTransformer().fit(np.zeros((1, 1))))]
        sub.steps = rest
        if blocks[-1].names != blocks[-1].columns:  # the graph's inputs are the expanded outputs, or the key
            prep.transformers_[position] = (name, sub, blocks[-1].input_names())
    if _splits_in_double(graph.steps[-1][1]):
        for block in blocks:
            block.dtype = np.float64
    return graph, blocks


def _numeric_fill(imputer: SimpleImputer) -> bool:
    """Whether a fitted imputer fills numbers into every column it was given (it drops none)."""
    stats = np.asarray(imputer.statistics_)
    return stats.dtype.kind == "f" and (imputer.keep_empty_features or not np.isnan(stats).any())


def _splits_in_double(model) -> bool:
    """Whether the model is scikit-learn's histogram gradient boosting, which compares float64 inputs
    with float64 thresholds: its graph takes float64 inputs, or a value lying on a threshold takes the
    other branch. scikit-learn's other trees and XGBoost cast to float32 themselves; LightGBM splits
    in double too, but onnxmltools' converter is float32 only (the check on held-out rows then
    refuses a graph that differs)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return isinstance(model, (HistGradientBoostingClassifier, HistGradientBoostingRegressor))


def _register_converters() -> None:
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
        version = {"op_domain": domain, "op_version": version} if domain else {}  # ai.onnx.ml's LabelEncoder-2
        container.add_node(op_type, inputs, [output], name=scope.get_unique_operator_name(op_type), **version, **attrs)
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
    from onnx import TensorProto

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
        value = constant([int(label)], TensorProto.INT64)
    else:
        value = constant([str(label)], TensorProto.STRING)
    node("Expand", [value, rows], operator.outputs[0].full_name)


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


def export_onnx(pipeline, X_check: pd.DataFrame, task: str, tolerance: float = TOLERANCE) -> OnnxExport:
    """Convert a fitted mlsmith pipeline to ONNX and check it against the pipeline on held-out rows.

    Parameters
    ----------
    pipeline : the fitted Pipeline (preprocessing, model).
    X_check : held-out rows (the test split) on which the graph must match the pipeline.
    task : the problem's task type.
    tolerance : the largest absolute difference allowed between probabilities (classification)
        or between predictions relative to their scale (regression).

    Returns
    -------
    OnnxExport
        ``converted`` is true only when the graph matched; otherwise ``reason`` says why.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> export_onnx(make_pipeline(LogisticRegression()).fit(X, [0, 0, 1, 1]), X, "binary_classification").reason
    "the pipeline is not mlsmith's preprocessing followed by one model"
    """
    if len(X_check) == 0:
        return OnnxExport(False, "no held-out rows to verify the ONNX graph on")
    _, classes, threshold = code_model(pipeline)
    try:
        graph, blocks = _plan(pipeline)
        feeds = _feeds(blocks, X_check)
        model = _convert(graph, feeds, task, classes, threshold)
        session = _session(model)
        got = _run(session, feeds, task)
        labels = _labels(session, feeds) if classes is not None and task != "regression" else None
    except _NotConvertible as exc:
        return OnnxExport(False, str(exc))
    except Exception as exc:  # skl2onnx raises RuntimeError, NotImplementedError, KeyError, ... on unsupported parts
        return OnnxExport(False, f"skl2onnx could not convert the pipeline: {str(exc).splitlines()[0][:300]}")
    if task == "regression":
        want = pipeline.predict(X_check)
        diff = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
    else:
        want = pipeline.predict_proba(X_check)
        diff = float(np.max(np.abs(got - want)))
    inputs = [{"name": k, "dtype": "string" if v.dtype == object else str(v.dtype), "width": int(v.shape[1])}
              for k, v in feeds.items()]
    if not diff <= tolerance:
        return OnnxExport(False, f"the ONNX graph differs from the pipeline by up to {diff:.2g} on {len(X_check)} "
                          f"held-out rows, above the tolerance {tolerance:g}", diff, len(X_check), tolerance, inputs)
    if labels is not None:
        wrong = _label_differences(labels, pipeline.predict(X_check), want, classes, threshold, diff)
        if wrong:
            return OnnxExport(False, f"the ONNX graph's label differs from the pipeline's on {wrong} of {len(X_check)} "
                              "held-out rows whose probabilities are not at the decision point", diff, len(X_check),
                              tolerance, inputs)
    return OnnxExport(True, "", diff, len(X_check), tolerance, inputs, model)


def _label_tensor(classes: list[Any]) -> np.ndarray:
    """The classes as the graph's label output holds them: int64 for integers, double for other
    numbers, text for anything else (booleans included)."""
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) for c in classes):
        return np.array(classes, dtype=np.int64)
    if all(isinstance(c, (int, float, np.number)) and not isinstance(c, (bool, np.bool_)) for c in classes):
        return np.array(classes, dtype=np.float64)
    return np.array([str(c) for c in classes], dtype=object)


def _label_output(onx, classes: list[Any], threshold: float | None) -> None:
    """Make the graph's ``label`` output the bundle's prediction: the class (as :func:`_label_tensor`
    holds it) whose probability is largest, or for a binary model the positive class when its
    probability reaches ``threshold`` (as scikit-learn's ``FixedThresholdClassifier`` decides)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = onx.graph
    label, proba = graph.output[0].name, graph.output[1].name
    for node in graph.node:  # the converter's own label (a class code) stays inside the graph
        node.output[:] = [f"{label}_code" if name == label else name for name in node.output]

    def constant(name: str, values: np.ndarray) -> str:
        graph.initializer.append(numpy_helper.from_array(values, f"mlsmith_{name}"))
        return f"mlsmith_{name}"

    if threshold is None:
        nodes = [helper.make_node("ArgMax", [proba], ["mlsmith_index"], name="mlsmith_argmax", axis=1, keepdims=0)]
    else:
        nodes = [
            helper.make_node("Gather", [proba, constant("positive", np.array(1, dtype=np.int64))],
                             ["mlsmith_positive_probability"], name="mlsmith_positive", axis=1),
            helper.make_node("GreaterOrEqual", ["mlsmith_positive_probability",
                                                constant("threshold", np.array(threshold, dtype=np.float32))],
                             ["mlsmith_reached"], name="mlsmith_threshold"),
            helper.make_node("Cast", ["mlsmith_reached"], ["mlsmith_index"], name="mlsmith_index",
                             to=TensorProto.INT64),
        ]
    values = _label_tensor(classes)
    nodes.append(helper.make_node("Gather", [constant("classes", values), "mlsmith_index"], [label],
                                  name="mlsmith_label", axis=0))
    graph.node.extend(nodes)
    graph.output[0].type.tensor_type.elem_type = (TensorProto.STRING if values.dtype == object
                                                  else helper.np_dtype_to_tensor_dtype(values.dtype))


def _labels(session, feeds: dict[str, np.ndarray]) -> np.ndarray:
    names = [i.name for i in session.get_inputs()]
    return session.run([session.get_outputs()[0].name], dict(zip(names, feeds.values())))[0]


def _label_differences(got: np.ndarray, want: np.ndarray, proba: np.ndarray, classes: list[Any],
                       threshold: float | None, diff: float) -> int:
    """Rows whose graph label is not the pipeline's, leaving out those the probabilities' float32
    difference may decide otherwise (within ``diff`` of the threshold, or of a tie)."""
    as_graph = dict(zip(map(str, classes), _label_tensor(classes)))
    want = np.array([as_graph[str(v)] for v in want], dtype=_label_tensor(classes).dtype)
    if threshold is not None:
        close = np.abs(proba[:, 1] - threshold) <= diff
    else:
        top = np.sort(proba, axis=1)[:, -2:]
        close = top[:, 1] - top[:, 0] <= 2 * diff
    return int(((np.asarray(got) != want) & ~close).sum())


def _feeds(blocks: list[_Block], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for block in blocks:
        out.update(block.feeds(frame))
    return out


def _convert(graph: Pipeline, feeds: dict[str, np.ndarray], task: str, classes: list[Any] | None = None,
             threshold: float | None = None) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    _register_converters()
    kinds = {np.dtype(object): StringTensorType, np.dtype(np.float64): DoubleTensorType}
    types = [(name, kinds.get(a.dtype, FloatTensorType)([None, a.shape[1]])) for name, a in feeds.items()]
    options = {} if task == "regression" else {id(graph.steps[-1][1]): {"zipmap": False}}
    with warnings.catch_warnings():  # skl2onnx reads attributes scikit-learn has deprecated (SVC's probA_)
        warnings.simplefilter("ignore", FutureWarning)
        # A fixed graph name (skl2onnx draws a random one): the same model gives the same bytes.
        onx = convert_sklearn(graph, name="mlsmith", initial_types=types, options=options,
                              target_opset={"": 17, "ai.onnx.ml": 3})
    if classes is not None and task != "regression":
        _label_output(onx, classes, threshold)
    return onx.SerializeToString()


def _session(model: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _io(session, task: str) -> tuple[list[str], list[str]]:
    """The graph's input names, and the one output scoring needs (a classifier's probabilities)."""
    # skl2onnx renames inputs whose column names are not identifiers; the order is kept.
    return [i.name for i in session.get_inputs()], [session.get_outputs()[0 if task == "regression" else 1].name]


def _run(model: bytes | Any, feeds: dict[str, np.ndarray], task: str,
         io: tuple[list[str], list[str]] | None = None) -> np.ndarray:
    session = _session(model) if isinstance(model, bytes) else model
    names, outputs = io or _io(session, task)
    result = np.asarray(session.run(outputs, dict(zip(names, feeds.values())))[0], dtype=float)
    return result.ravel() if task == "regression" else result


class OnnxModel:
    """A bundle's ONNX graph behind the same ``predict_proba`` / ``predict`` as its pipeline.

    The Python coercions of each column block are read from the bundle's (safely loaded) pipeline.
    """

    def __init__(self, model: bytes, pipeline, task: str):
        _, self._blocks = _plan(pipeline)
        self._session = _session(model)
        self._task = task
        self._io = _io(self._session, task)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return _run(self._session, _feeds(self._blocks, X), self._task, self._io)

    def run_records(self, records: list[dict[str, Any]]) -> np.ndarray | None:
        """Probabilities (or predictions, for a regressor) of validated records; None if pandas is needed."""
        feeds: dict[str, np.ndarray] = {}
        for block in self._blocks:
            part = block.record_feeds(records)
            if part is None:
                return None
            feeds.update(part)
        return _run(self._session, feeds, self._task, self._io)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The graph's predictions: a classifier's ``label`` output (see :func:`_label_output`)."""
        if self._task == "regression":
            return _run(self._session, _feeds(self._blocks, X), self._task, self._io)
        return _labels(self._session, _feeds(self._blocks, X))
