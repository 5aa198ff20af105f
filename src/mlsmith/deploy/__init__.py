"""Stage 7b: deployment — the model bundle, batch scoring, ONNX export, the model card and serving.

One module per concern: ``_bundle`` (the safe-to-load bundle), ``_assemble`` (a run's bundle: its
metadata, files and the saved-bundle check), ``_batch`` (chunked file scoring), ``_onnx`` (export
and onnxruntime scoring) with ``_onnx_ops`` (the converters it registers), ``_card`` (the model
card), ``_rules`` (the input rules serving and batch scoring share), ``_schema`` (the request
contract), ``_runtime`` (scoring records), ``_app`` (``create_app``: the app factory), ``_serve``
(``POST /predict`` and the ASGI layer that runs it), ``_operations`` (``/health``, ``/metadata``,
``/metrics``), ``_state`` (what the routes share), ``_supervise`` (``serve``: uvicorn in one process
or several), ``_guard`` (who may call the server, what a request may cost), ``_metrics``
(Prometheus), ``_log`` (the prediction log, its readers and the champion/challenger comparison).
"""

# Names load their module on first use: a run saves a bundle without importing the web server.
from .._lazy import attach  # noqa: E402

__getattr__, __dir__ = attach(__name__, {
    "BatchResult": "_batch", "LogComparison": "_log", "ModelBundle": "_bundle", "OnnxExport": "_onnx", "PredictionLog": "_log",
    "bundle_extras": "_card", "compare_log": "_log", "create_app": "_app", "export_onnx": "_onnx",
    "model_card": "_card", "predict_file": "_batch", "save_bundle": "_bundle", "serve": "_supervise",
})

__all__ = [  # noqa: F822 (defined lazily by __getattr__)
    "BatchResult",
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
