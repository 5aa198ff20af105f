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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from .._columns import finite_float, naive_utc
from ..features import DateFeatures, ElapsedDays, GroupAggregate
from ..features._aggregate import _key as group_key
from ..features._dates import PARTS
from ..preprocess import BlockEnd, to_category_text, to_float, to_text
from ..target import code_model
from ._onnx_ops import _ImputeWithIndicator, _Lookup, _NotConvertible, _OneHotInfrequent, register_converters

__all__ = ["ONNX_FILE", "ONNX_INFO", "OnnxExport", "OnnxModel", "export_onnx"]

ONNX_FILE = "model.onnx"
ONNX_INFO = "onnx.json"
#: Largest absolute difference allowed between the graph's probabilities and the pipeline's.
TOLERANCE = 1e-4
_MISSING_CATEGORY = "(missing)"


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
        elif self.kind == "date" and self.expand is not None and not self.expand.holidays_country:
            names = iter(self.input_names())
            for c, has_time in zip(self.columns, self.expand.has_time_):
                wanted = [PARTS.index(p) for p in self.expand._parts(has_time)]
                stamps = [_naive(r.get(c)) for r in records]
                if any(v is not None and not isinstance(v, datetime) for v in stamps):
                    return None  # dates as text: pandas parses them
                if len(stamps) <= 8:  # a few rows: Python's datetime beats numpy's per-call costs
                    parts: np.ndarray = np.array([_date_parts(v) for v in stamps], dtype=self.dtype).T[wanted].copy()
                else:
                    parts = _date_parts_array(stamps)[wanted].astype(self.dtype)
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
        # BlockEnd casts to float32, in which the graph computes already (float64 for histogram boosting)
        rest = [(step_name, step) for step_name, step in steps[1:] if not isinstance(step, BlockEnd)]
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


def export_onnx(pipeline, X_check: pd.DataFrame, task: str, tolerance: float = TOLERANCE) -> OnnxExport:
    """Convert a fitted mlsmith pipeline to ONNX and check it against the pipeline on held-out rows.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted Pipeline (preprocessing, model).
    X_check : pandas.DataFrame
        Held-out rows (the test split) on which the graph must match the pipeline.
    task : str
        The problem's task type.
    tolerance : float, default=1e-4
        The largest absolute difference allowed between probabilities (classification)
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
    if labels is not None and classes is not None:
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

    register_converters()
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
    _sort_opsets(onx)
    return onx.SerializeToString()


def _sort_opsets(onx) -> None:
    """List the graph's operator sets by domain: skl2onnx lists them in the order of a set of domains,
    which depends on ``PYTHONHASHSEED``, so the same model gave other bytes from run to run."""
    opsets = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in opsets:
        onx.opset_import.add(domain=domain, version=version)


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
