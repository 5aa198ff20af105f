"""Stage 7b: deployment — the model bundle, batch scoring, ONNX export, the model card and serving.

One module per concern: ``_bundle`` (the safe-to-load bundle), ``_batch`` (chunked file scoring),
``_onnx`` (export and onnxruntime scoring), ``_card`` (the model card), ``_schema`` (the request
contract), ``_runtime`` (scoring records), ``_serve`` (the app factory and routers), ``_metrics``
(Prometheus), ``_log`` (the prediction log and the champion/challenger comparison).
"""

from ._batch import predict_file
from ._bundle import ModelBundle, save_bundle
from ._card import bundle_extras, model_card
from ._log import LogComparison, PredictionLog, compare_log
from ._onnx import OnnxExport, export_onnx
from ._serve import create_app, serve

__all__ = [
    "LogComparison",
    "ModelBundle",
    "OnnxExport",
    "PredictionLog",
    "bundle_extras",
    "compare_log",
    "create_app",
    "export_onnx",
    "model_card",
    "predict_file",
    "save_bundle",
    "serve",
]
