"""Scoring validated records with a bundle, through scikit-learn or onnxruntime."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._columns import naive_utc, python_value
from ..exceptions import BundleError
from ..target import code_model
from ._bundle import ModelBundle
from ._onnx import ONNX_FILE, ONNX_INFO, OnnxModel

__all__ = ["Runtime", "Scorer", "UnscorableRecords"]

Runtime = Literal["sklearn", "onnx"]


class UnscorableRecords(ValueError):
    """The model gave no finite score for these records (their values are far outside the training data)."""

    def __init__(self, indices: list[int]):
        super().__init__(indices)
        self.indices = indices


class Scorer:
    """A bundle ready to score records: the prediction and the probability per record.

    ``probability`` is the positive class's for a binary classifier, the predicted class's for a
    multiclass one (with every class's in ``probabilities``) and None for a regressor.
    """

    def __init__(self, bundle: ModelBundle, runtime: Runtime = "sklearn"):
        if runtime not in ("sklearn", "onnx"):
            raise BundleError(f"runtime must be 'sklearn' or 'onnx'; got '{runtime}'.")
        self.bundle = bundle
        self.runtime = runtime
        self.version = bundle.version
        self.features = bundle.schema.features()
        self.dates = bundle.schema.features("datetime")
        self.model = bundle.pipeline
        if runtime == "onnx":
            if bundle.path is None:  # the graph is a file of the saved bundle
                raise BundleError("the onnx runtime scores a saved model bundle and this one is not saved yet; "
                                  "save it (save_bundle) and load it (ModelBundle.load), or use runtime 'sklearn'.")
            onnx_path = bundle.path / ONNX_FILE
            if not onnx_path.is_file():
                info_path = bundle.path / ONNX_INFO
                why = json.loads(info_path.read_text()).get("reason") if info_path.is_file() else "it was saved without one"
                raise BundleError(f"model bundle '{bundle.path}' has no ONNX graph ({why}); serve it with --runtime sklearn.")
            # The file's hash was checked when the bundle was loaded.
            self.model = OnnxModel(onnx_path.read_bytes(), code_model(bundle.pipeline)[0], bundle.task)
        self.classes = np.asarray(bundle.classes, dtype=object)

    def frame(self, records: list[dict[str, Any]]) -> pd.DataFrame:
        columns = {c: [r.get(c) for r in records] for c in self.features}
        for c in self.dates:  # validated records hold naive UTC already; records built in Python may not
            columns[c] = [naive_utc(v) if isinstance(v, datetime) else v for v in columns[c]]
        return pd.DataFrame(columns)

    def score(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``{"prediction", "probability"}`` dict per record (plus ``probabilities`` for multiclass)."""
        output = self.model.run_records(records) if isinstance(self.model, OnnxModel) else None
        if output is None:
            output = self._predict(self.model, self.frame(records))
        bad = ~np.isfinite(output.reshape(len(records), -1)).all(axis=1)
        if bad.any() and isinstance(self.model, OnnxModel):
            # float32 arithmetic overflows on extreme inputs; the float64 pipeline may still score them
            rows = np.flatnonzero(bad)
            output[rows] = self._predict(self.bundle.pipeline, self.frame([records[i] for i in rows]))
            bad = ~np.isfinite(output.reshape(len(records), -1)).all(axis=1)
        if bad.any():
            raise UnscorableRecords(np.flatnonzero(bad).tolist())
        return self._results(output)

    def _predict(self, model, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(model.predict(X) if self.bundle.task == "regression" else model.predict_proba(X), dtype=float)

    def _results(self, output: np.ndarray) -> list[dict[str, Any]]:
        task = self.bundle.task
        if task == "regression":
            return [{"prediction": float(v), "probability": None} for v in output]
        proba = output
        if task == "binary_classification":
            positive = proba[:, 1]
            labels = [python_value(c) for c in self.classes]
            return [{"prediction": labels[k], "probability": p}
                    for k, p in zip((positive >= self.bundle.threshold).tolist(), positive.tolist())]
        best = proba.argmax(axis=1)
        names = [str(c) for c in self.classes]
        return [
            {"prediction": python_value(self.classes[k]), "probability": float(row[k]),
             "probabilities": dict(zip(names, map(float, row)))}
            for k, row in zip(best, proba)
        ]

