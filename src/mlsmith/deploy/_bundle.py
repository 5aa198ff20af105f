from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import Schema
from ..exceptions import BundleError, DataError
from ..runs import staging_dir

PIPELINE_FILE = "pipeline.skops"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
#: Types outside scikit-learn's own that a bundle may hold. Anything else in a pipeline file is
#: refused at load time: it could run code while unpickling.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "lightgbm.", "xgboost.", "mlsmith.", "collections.OrderedDict")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_bundle(
    path: str | Path, pipeline, schema: Schema, metadata: dict[str, Any],
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a model bundle atomically: a temporary folder, renamed into place when complete.

    The bundle holds the fitted pipeline (skops format: loading it cannot run arbitrary code),
    the input schema, and metadata with the SHA-256 of every file, checked on load.
    ``extra_files`` maps file names to their text or bytes (the model card, the ONNX export).
    The bundle's ``version`` is the first 12 hex digits of the pipeline file's SHA-256.
    """
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(path.parent, path.name)
    try:
        sio.dump(pipeline, tmp / PIPELINE_FILE)
        (tmp / SCHEMA_FILE).write_text(json.dumps(schema.to_dict(), indent=2, default=str))
        for name, content in (extra_files or {}).items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content)
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        meta = {**metadata, "version": files[PIPELINE_FILE][:12], "files": files}
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


class ModelBundle:
    """A saved model: its pipeline, input schema and metadata, verified on load.

    Examples
    --------
    >>> ModelBundle.load("no/such/bundle")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """

    def __init__(self, path: Path | None, pipeline, schema: Schema, metadata: dict[str, Any]):
        """A bundle loaded from ``path``, or (path None) one not saved yet, as the run times it."""
        self.path = path
        self.pipeline = pipeline
        self.schema = schema
        self.metadata = metadata

    @classmethod
    def load(cls, path: str | Path) -> "ModelBundle":
        import skops.io as sio

        path = Path(path)
        if not (path / METADATA_FILE).is_file():
            raise BundleError(
                f"model bundle '{path}' does not exist; pass the 'model' folder of a run, e.g. runs/<id>/model."
            )
        metadata = json.loads((path / METADATA_FILE).read_text())
        for name, digest in metadata.get("files", {}).items():
            if not (path / name).is_file():
                raise BundleError(f"model bundle '{path}' is incomplete: '{name}' is missing; re-run 'mlsmith run'.")
            if _sha256(path / name) != digest:
                raise BundleError(
                    f"model bundle '{path}' was modified after it was written: the hash of '{name}' does not "
                    "match; refusing to load it. Re-create the bundle with 'mlsmith run'."
                )
        untrusted = sio.get_untrusted_types(file=path / PIPELINE_FILE)
        refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise BundleError(
                f"model bundle '{path}' holds types mlsmith does not trust ({', '.join(refused[:3])}); refusing to "
                "load it, since loading could run their code."
            )
        pipeline = sio.load(path / PIPELINE_FILE, trusted=untrusted)
        schema = Schema.from_dict(json.loads((path / SCHEMA_FILE).read_text()))
        return cls(path, pipeline, schema, metadata)

    @property
    def task(self) -> str:
        return self.metadata["task"]

    @property
    def classes(self) -> list[Any]:
        return self.metadata.get("classes") or []

    @property
    def threshold(self) -> float | None:
        return self.metadata.get("decision_threshold")

    @property
    def version(self) -> str:
        """The bundle's version: the start of its pipeline file's SHA-256."""
        return self.metadata.get("version") or self.metadata["files"][PIPELINE_FILE][:12]

    def check_columns(self, frame: pd.DataFrame) -> None:
        """Raise DataError when the input lacks a column the model needs."""
        missing = [c for c in self.schema.features() if c not in frame.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(
                f"input lacks {len(missing)} column(s) the model needs: {shown}; "
                "score data with the same columns as the training data."
            )

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-prediction explanations: each input column's contribution to each row's score.

        See :mod:`mlsmith.deploy._explain`; the reference values come from the training rows.
        """
        from ._explain import explain_rows

        reference = self.metadata.get("explanation_reference")
        if reference is None:
            raise BundleError(
                f"model bundle '{self.path}' holds no explanation reference (it predates explanations); "
                "re-create it with 'mlsmith run' to use --explain."
            )
        self.check_columns(frame)
        out = explain_rows(self.pipeline, frame[self.schema.features()], reference, self.task)
        out.index = frame.index
        return out

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows: the prediction, and class probabilities for a classifier.

        Binary predictions use the decision threshold saved in the bundle.
        """
        self.check_columns(frame)
        X = frame[self.schema.features()]
        out = pd.DataFrame(index=frame.index)
        if self.task == "regression":
            out["prediction"] = self.pipeline.predict(X)
            return out
        proba = self.pipeline.predict_proba(X)
        classes = np.asarray(self.classes, dtype=object)
        if self.task == "binary_classification":
            codes = (proba[:, 1] >= self.threshold).astype(int)
            out["prediction"] = classes[codes]
            out["probability"] = proba[:, 1]
        else:
            out["prediction"] = classes[proba.argmax(axis=1)]
            for i, label in enumerate(classes):
                out[f"probability_{label}"] = proba[:, i]
        return out

