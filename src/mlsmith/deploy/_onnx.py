"""ONNX export of a bundle's pipeline, verified against it, and scoring through onnxruntime.

mlsmith's preprocessing starts each column block with a stateless Python coercion (numbers stored
as text, category spelling, date parsing, text cleaning) that has no ONNX form. The export keeps
those coercions in Python and converts everything that learned from data — imputation, encoding
(one-hot with rare levels pooled, which skl2onnx lacks, included), scaling, stage 4's log, ratio
and per-key aggregate features, and the model — into the graph: the graph's inputs are the coerced
columns (a date column enters as its expanded parts, a pair of dates as the days between them, an
aggregate's key as text). A pipeline with a step that does not convert (stage 4's bins and
polynomial terms) gets a one-sentence reason in ``onnx.json`` instead of a graph.
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
    """The graph form of ``SimpleImputer(add_indicator=True)``: fill values, then missing flags."""

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
            values = _float32(to_float(sub))
            return {c: values[:, [i]] for i, c in enumerate(self.columns)}
        if self.expand is not None:
            parts = _float32(self.expand.transform(sub))
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
                block = _float32(np.array([[r.get(c) for r in records] for c in self.columns], dtype=float))
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
                    parts = np.array([_date_parts(v) for v in values], dtype=np.float32).T[wanted].copy()
                else:
                    parts = _date_parts_array(values)[wanted].astype(np.float32)
                for row in parts:
                    out[next(names)] = row.reshape(-1, 1)
        else:
            frame = pd.DataFrame({c: [_naive(r.get(c)) for r in records] for c in self.columns})
            out.update(self.feeds(frame))
        return out


_EPOCH = datetime(1970, 1, 1)
_EPOCH_ORDINAL = _EPOCH.toordinal()
def _float32(values: np.ndarray) -> np.ndarray:
    """The graph's float32 inputs, by the float rule the pipeline's ``to_float`` applies: an infinity
    or a magnitude past float32's is missing (NaN, which the graph imputes), never clipped."""
    return finite_float(values).astype(np.float32)


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
    """A copy of the pipeline whose steps all have an ONNX form, and the Python coercion per block."""
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
            if isinstance(step, SimpleImputer) and step.add_indicator:
                replacement = _ImputeWithIndicator(step.statistics_, step.indicator_.features_)
                rest[i] = (step_name, replacement)
            elif (isinstance(step, OneHotEncoder) and step.drop is None
                  and any(r is not None for r in step.infrequent_categories_)):
                rest[i] = (step_name, _OneHotInfrequent.of(step))
        if not rest:
            rest = [("identity", FunctionTransformer().fit(np.zeros((1, 1))))]
        sub.steps = rest
        if blocks[-1].names != blocks[-1].columns:  # the graph's inputs are the expanded outputs, or the key
            prep.transformers_[position] = (name, sub, blocks[-1].input_names())
    return graph, blocks


def _register_converters() -> None:
    import lightgbm
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

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


def _float_outputs(operator, width: int) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    operator.outputs[0].type = FloatTensorType([operator.inputs[0].get_first_dimension(), width])


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

    def node(op_type: str, inputs: list[str], output: str | None = None, domain: str | None = None, **attrs) -> str:
        output = output or scope.get_unique_variable_name(op_type.lower())
        version = {"op_domain": domain, "op_version": 2} if domain else {}  # ai.onnx.ml's LabelEncoder-2
        container.add_node(op_type, inputs, [output], name=scope.get_unique_operator_name(op_type), **version, **attrs)
        return output

    def constant(values: list, dtype: int = TensorProto.DOUBLE, shape: list[int] | None = None) -> str:
        name = scope.get_unique_variable_name("const")
        container.add_initializer(name, dtype, shape or [len(values)], values)
        return name

    return node, constant


def _in_double(scope, operator, container, node: Callable[..., str]) -> str:
    """The operator's inputs as one double tensor: mlsmith's transformers compute in float64, and so
    does their graph, cast back to float32 at the end."""
    from onnx import TensorProto
    from skl2onnx.operator_converters.common import concatenate_variables

    return node("Cast", [concatenate_variables(scope, operator.inputs, container)], to=TensorProto.DOUBLE)


def _log_convert(scope, operator, container) -> None:
    """``sign(x) * log(1 + |x|)``, or ``log(1 + x)`` with negatives set to 0 (``negative='clip'``); NaN stays NaN."""
    from onnx import TensorProto

    node, constant = _graph(scope, container)
    x = _in_double(scope, operator, container, node)
    one = constant([1.0])
    if operator.raw_operator.negative == "clip":  # Where, not Max: a missing value must stay missing
        zero = constant([0.0])
        logged = node("Log", [node("Add", [node("Where", [node("Less", [x, zero]), zero, x]), one])])
    else:
        logged = node("Mul", [node("Sign", [x]), node("Log", [node("Add", [node("Abs", [x]), one])])])
    node("Cast", [logged], operator.outputs[0].full_name, to=TensorProto.FLOAT)


def _ratios_convert(scope, operator, container) -> None:
    """Each pair's numerator over its denominator; missing where the denominator is (nearly) zero."""
    from onnx import TensorProto

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    x = _in_double(scope, operator, container, node)
    num, den = ([int(pair[k]) for pair in op.pairs_] for k in (0, 1))
    top = node("Gather", [x, constant(num, TensorProto.INT64)], axis=1)
    bottom = node("Gather", [x, constant(den, TensorProto.INT64)], axis=1)
    safe = node("Greater", [node("Abs", [bottom]), constant([float(op.min_denominator)])])
    ratio = node("Where", [safe, node("Div", [top, bottom]), constant([float("nan")])])
    node("Cast", [ratio], operator.outputs[0].full_name, to=TensorProto.FLOAT)


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


def _impute_convert(scope, operator, container) -> None:
    from onnx import TensorProto
    from skl2onnx.operator_converters.common import concatenate_variables

    op = operator.raw_operator
    node, constant = _graph(scope, container)
    x = concatenate_variables(scope, operator.inputs, container)
    stats = constant([float(v) for v in op.statistics], TensorProto.FLOAT, [1, len(op.statistics)])
    isnan = node("IsNaN", [x])
    filled = node("Where", [isnan, stats, x])
    out = operator.outputs[0].full_name
    if len(op.features) == 0:
        node("Identity", [filled], out)
        return
    flags = node("Gather", [isnan, constant([int(v) for v in op.features], TensorProto.INT64)], axis=1)
    node("Concat", [filled, node("Cast", [flags], to=TensorProto.FLOAT)], out, axis=1)


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
    try:
        graph, blocks = _plan(pipeline)
        feeds = _feeds(blocks, X_check)
        model = _convert(graph, feeds, task)
        got = _run(model, feeds, task)
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
    inputs = [{"name": k, "dtype": "string" if v.dtype == object else "float32", "width": int(v.shape[1])}
              for k, v in feeds.items()]
    if not diff <= tolerance:
        return OnnxExport(False, f"the ONNX graph differs from the pipeline by up to {diff:.2g} on {len(X_check)} "
                          f"held-out rows, above the tolerance {tolerance:g}", diff, len(X_check), tolerance, inputs)
    return OnnxExport(True, "", diff, len(X_check), tolerance, inputs, model)


def _feeds(blocks: list[_Block], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for block in blocks:
        out.update(block.feeds(frame))
    return out


def _convert(graph: Pipeline, feeds: dict[str, np.ndarray], task: str) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    _register_converters()
    types = [(name, StringTensorType([None, a.shape[1]]) if a.dtype == object else FloatTensorType([None, a.shape[1]]))
             for name, a in feeds.items()]
    options = {} if task == "regression" else {id(graph.steps[-1][1]): {"zipmap": False}}
    with warnings.catch_warnings():  # skl2onnx reads attributes scikit-learn has deprecated (SVC's probA_)
        warnings.simplefilter("ignore", FutureWarning)
        # A fixed graph name (skl2onnx draws a random one): the same model gives the same bytes.
        onx = convert_sklearn(graph, name="mlsmith", initial_types=types, options=options,
                              target_opset={"": 17, "ai.onnx.ml": 3})
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
        if self._task == "regression":
            return _run(self._session, _feeds(self._blocks, X), self._task, self._io)
        return self.predict_proba(X).argmax(axis=1)
