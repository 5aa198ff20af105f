"""The model bundle: a folder holding the fitted pipeline, its input schema and metadata.

What loading a bundle guarantees (see SECURITY.md):

- every file is listed in ``manifest.json`` with its SHA-256, ``metadata.json`` included; a changed
  file, a missing one or one not listed refuses the bundle;
- with ``MLSMITH_BUNDLE_KEY`` set, the manifest carries an HMAC-SHA256 signature made with that key
  (``manifest.sig``), and a bundle without a valid one is refused;
- the pipeline is the whole model (see :func:`mlsmith.target.whole_model`): its own ``predict``
  gives the original labels with the decision threshold applied, as :meth:`ModelBundle.predict` does;
- the pipeline file (skops format) may only hold the types in :data:`TRUSTED_TYPES` (the classes and
  functions mlsmith's own pipelines are made of) besides those skops trusts itself; any other type
  refuses the bundle before anything in it is built, unless the caller names it in ``trusted``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from .._reading import as_pandas
from .._skops import TRUSTED_TYPES, NotSkopsError, refusal, untrusted_types
from ..data import Schema
from ..exceptions import BundleError, DataError
from ..runs import staging_dir
from ..target import whole_model

__all__ = ["BUNDLE_FORMAT", "KEY_ENV", "REFERENCE_FILE", "ModelBundle", "TRUSTED_TYPES", "refused_types", "save_bundle"]

PIPELINE_FILE = "pipeline.skops"
SCHEMA_FILE = "schema.json"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
#: The monitoring reference (training distributions, test-set performance: ``monitor.build_reference``).
REFERENCE_FILE = "reference.json"
#: The layout of the bundles this version writes, recorded in their metadata as ``bundle_format``.
#: 1 (no ``bundle_format``): the pipeline answers in class codes, the threshold is in the metadata
#: only; such a bundle still loads, its pipeline made whole in memory. 2: the pipeline is the whole model.
BUNDLE_FORMAT = 2
#: The environment variable holding the key that signs bundles at save and is required at load.
KEY_ENV = "MLSMITH_BUNDLE_KEY"

#: A fixed time stamp for the members of the pipeline file, so that identical models give identical bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV)
    return key.encode() if key else None


def _signature(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def pipeline_bytes(pipeline) -> bytes:
    """The pipeline in skops format, the same bytes for the same fitted pipeline.

    skops names the arrays it stores after ``id()`` of the objects, records those ids in its
    schema, stamps each zip member with the current time and writes sets in hash order; here the
    ids and file names are renumbered in the order they appear, sets are sorted, and every member
    gets one fixed time stamp. Loading is unchanged: the renumbering is one-to-one.
    """
    import skops.io as sio

    with zipfile.ZipFile(io.BytesIO(sio.dumps(pipeline))) as src:
        schema = json.loads(src.read("schema.json"))
        ids: dict[Any, int] = {}
        files: dict[str, str] = {}

        def canonical(node: Any) -> Any:
            if isinstance(node, list):
                return [canonical(item) for item in node]
            if not isinstance(node, dict):
                return node
            if node.get("__loader__") == "SetNode":
                node = {**node, "content": sorted(node["content"], key=_without_ids)}
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    value = ids.setdefault(value, len(ids))
                elif key == "file" and isinstance(value, str):
                    value = files.setdefault(value, f"{len(files)}{Path(value).suffix}")
                out[key] = canonical(value)
            return out

        schema = canonical(schema)
        members = {new: src.read(old) for old, new in files.items()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as out:
        for name, data in [*members.items(), ("schema.json", json.dumps(schema, indent=2).encode())]:
            out.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), data)
    return buffer.getvalue()


def _without_ids(node: Any) -> str:
    """A set member's sort key: its content without the object ids, which differ from run to run."""
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("__id__", "file")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(node), sort_keys=True)


def save_bundle(
    path: str | Path, pipeline, schema: Schema, metadata: dict[str, Any],
    extra_files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a model bundle atomically: a temporary folder, renamed into place when complete.

    The bundle holds the fitted pipeline (skops format, see :func:`pipeline_bytes`), the input
    schema, metadata, and ``manifest.json``: the SHA-256 of every other file, checked on load.
    With ``MLSMITH_BUNDLE_KEY`` set, ``manifest.sig`` holds the manifest's HMAC-SHA256 with that key.
    ``extra_files`` maps file names to their text or bytes (the model card, the ONNX export).
    A classifier fitted on class codes is saved whole (:func:`~mlsmith.target.whole_model`, from the
    metadata's ``task``, ``classes`` and ``decision_threshold``).
    The bundle's ``version`` is the first 12 hex digits of the pipeline file's SHA-256: the same
    fitted pipeline gives the same version, and the same metadata the same bundle, byte for byte.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(path.parent, path.name)
    try:
        model = whole_model(pipeline, metadata.get("task"), metadata.get("classes"), metadata.get("decision_threshold"))
        (tmp / PIPELINE_FILE).write_bytes(pipeline_bytes(model))
        (tmp / SCHEMA_FILE).write_text(json.dumps(schema.to_dict(), indent=2, default=str))
        for name, content in (extra_files or {}).items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content)
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir())}
        meta = {**metadata, "bundle_format": BUNDLE_FORMAT, "version": files[PIPELINE_FILE][:12], "files": files}
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, default=str))
        manifest = json.dumps({"algorithm": "sha256", "files": {p.name: _sha256(p) for p in sorted(tmp.iterdir())}},
                              indent=2).encode()
        (tmp / MANIFEST_FILE).write_bytes(manifest)
        key = _key()
        if key is not None:
            (tmp / SIGNATURE_FILE).write_text(_signature(key, manifest))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _read_json(path: Path, name: str) -> Any:
    try:
        return json.loads((path / name).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"model bundle '{path}': {name} is not valid JSON ({str(exc)[:200]}); "
                          "re-create the bundle with 'mlsmith run'.") from None


def verify_bundle(path: Path) -> None:
    """Check the bundle's files against its manifest, and the manifest's signature when a key is set.

    Raises :class:`~mlsmith.exceptions.BundleError` naming the first file that fails.
    """
    if not (path / MANIFEST_FILE).is_file():
        if not (path / METADATA_FILE).is_file():
            raise BundleError(
                f"model bundle '{path}' does not exist; pass the 'model' folder of a run, e.g. runs/<id>/model."
            )
        raise BundleError(f"model bundle '{path}' has no {MANIFEST_FILE}, so its files cannot be checked; "
                          "re-create it with 'mlsmith run'.")
    manifest_bytes = (path / MANIFEST_FILE).read_bytes()
    key = _key()
    if key is not None:
        signature = path / SIGNATURE_FILE
        if not signature.is_file():
            raise BundleError(f"model bundle '{path}' is not signed, and {KEY_ENV} is set; refusing to load it. "
                              f"Re-create it with 'mlsmith run' and {KEY_ENV} set to the same key.")
        if not hmac.compare_digest(signature.read_text().strip(), _signature(key, manifest_bytes)):
            raise BundleError(f"model bundle '{path}' has a signature that does not match its manifest under the key "
                              f"in {KEY_ENV}: it was changed or signed with another key; refusing to load it.")
    manifest = _read_json(path, MANIFEST_FILE)
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict) or not {METADATA_FILE, SCHEMA_FILE, PIPELINE_FILE} <= set(listed):
        raise BundleError(f"model bundle '{path}': {MANIFEST_FILE} does not list {METADATA_FILE}, {SCHEMA_FILE} and "
                          f"{PIPELINE_FILE}; refusing to load it. Re-create the bundle with 'mlsmith run'.")
    present = {p.name for p in path.iterdir()} - {MANIFEST_FILE, SIGNATURE_FILE}
    extra = sorted(present - set(listed))
    if extra:
        raise BundleError(f"model bundle '{path}' holds '{extra[0]}', which its manifest does not list; refusing "
                          "to load it. Remove the file or re-create the bundle with 'mlsmith run'.")
    for name, digest in listed.items():
        if not (path / name).is_file():
            raise BundleError(f"model bundle '{path}' is incomplete: '{name}' is missing; re-run 'mlsmith run'.")
        if _sha256(path / name) != digest:
            raise BundleError(
                f"model bundle '{path}' was modified after it was written: the hash of '{name}' does not "
                "match; refusing to load it. Re-create the bundle with 'mlsmith run'."
            )


def refused_types(file: Path, trusted: Iterable[str] = ()) -> list[str]:
    """The types of a skops pipeline file that loading refuses: not in :data:`TRUSTED_TYPES`, ``trusted``
    or what skops trusts itself."""
    try:
        return untrusted_types(file, trusted)
    except NotSkopsError as exc:
        raise BundleError(f"model bundle '{file.parent}': {exc}; re-create the bundle with 'mlsmith run'.") from None


def load_pipeline(file: Path, trusted: Iterable[str] = ()):
    """Load a skops pipeline file holding only trusted types (:data:`TRUSTED_TYPES` and ``trusted``)."""
    import skops.io as sio

    refused = refused_types(file, trusted)
    if refused:
        what, flags = refusal(refused)
        raise BundleError(f"model bundle '{file.parent}' holds {what}, which mlsmith's pipelines are not made of; "
                          f"refusing to load it, since loading could run its code. If you wrote that type, trust it "
                          f"explicitly: {flags}.")
    return sio.load(file, trusted=sio.get_untrusted_types(file=file))


class ModelBundle:
    """A saved model: its pipeline, input schema and metadata, verified on load.

    A run writes one (``<run>/model``); :meth:`load` reads it back.

    Parameters
    ----------
    path : pathlib.Path or None
        The bundle's folder; None for a bundle not saved yet (as the run times it).
    pipeline : estimator
        The fitted pipeline; made whole (:func:`~mlsmith.target.whole_model`) if it answers in
        class codes.
    schema : Schema
        The input columns and their roles, which each request is checked against.
    metadata : dict
        Versions, seed, data fingerprint, metrics, decision threshold.

    Examples
    --------
    >>> ModelBundle.load("no/such/bundle")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """

    def __init__(self, path: Path | None, pipeline, schema: Schema, metadata: dict[str, Any]):
        """A bundle loaded from ``path``, or (path None) one not saved yet, as the run times it.

        ``pipeline`` is made whole (:func:`~mlsmith.target.whole_model`) if it answers in class codes.
        """
        self.path = path
        #: The whole model, as scikit-learn sees it: a classifier's ``classes_`` are the original labels
        #: and its ``predict`` applies the bundle's decision threshold (bundles saved before it was
        #: wrapped get the same wrapper from their metadata).
        self.pipeline = whole_model(pipeline, metadata.get("task"), metadata.get("classes"),
                                    metadata.get("decision_threshold"))
        self.schema = schema
        self.metadata = metadata

    @classmethod
    def load(cls, path: str | Path, trusted: Iterable[str] = ()) -> "ModelBundle":
        """Load and verify a bundle folder.

        Parameters
        ----------
        path
            The bundle folder (the ``model`` folder of a run).
        trusted
            Full type names (``package.module.Class``) to trust beyond :data:`TRUSTED_TYPES`,
            e.g. a transformer of your own that the pipeline holds. Trust only code you wrote.

        Raises
        ------
        BundleError
            When the folder is not a bundle, a file does not match the manifest (or the signature,
            with ``MLSMITH_BUNDLE_KEY`` set), a file is corrupt, or the pipeline holds a type not trusted.
        """
        path = Path(path)
        verify_bundle(path)
        metadata = _read_json(path, METADATA_FILE)
        schema_data = _read_json(path, SCHEMA_FILE)
        try:
            schema = Schema.from_dict(schema_data)
        except (KeyError, TypeError) as exc:
            raise BundleError(f"model bundle '{path}': {SCHEMA_FILE} is not an mlsmith schema (no {exc}); "
                              "re-create the bundle with 'mlsmith run'.") from None
        if not isinstance(metadata, dict) or metadata.get("task") not in (
                "binary_classification", "multiclass_classification", "regression"):
            raise BundleError(f"model bundle '{path}': {METADATA_FILE} names no task; re-create the bundle with "
                              "'mlsmith run'.")
        layout = metadata.get("bundle_format", 1)
        if not isinstance(layout, int) or isinstance(layout, bool) or not 1 <= layout <= BUNDLE_FORMAT:
            raise BundleError(f"model bundle '{path}' has bundle format {layout!r}, which this mlsmith does not read "
                              f"(it reads formats 1 to {BUNDLE_FORMAT}); upgrade mlsmith, or re-create the bundle "
                              "with this version's 'mlsmith run'.")
        pipeline = load_pipeline(path / PIPELINE_FILE, trusted)
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
        frame = as_pandas(frame)
        self.check_columns(frame)
        out = explain_rows(self.pipeline, frame[self.schema.features()], reference, self.task)
        out.index = frame.index
        return out

    def predict_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities, one column per class, named by the class (the original labels).

        Raises
        ------
        BundleError
            For a regressor, which gives no probabilities.
        """
        if self.task == "regression":
            raise BundleError(f"model bundle '{self.path}' is a regressor and gives no probabilities; use predict.")
        frame = as_pandas(frame)
        self.check_columns(frame)
        proba = self.pipeline.predict_proba(frame[self.schema.features()])
        return pd.DataFrame(proba, index=frame.index, columns=pd.Index(self.classes, dtype=object))

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows: the prediction, and class probabilities for a classifier.

        Binary predictions use the decision threshold saved in the bundle: the same labels as
        ``self.pipeline.predict``, computed from the one ``predict_proba`` call. ``frame`` may be a
        pandas or Polars frame or a pyarrow Table (typed as training typed its data: ``as_pandas``).
        """
        frame = as_pandas(frame)
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

    def _repr_html_(self) -> str:
        """The bundle in a notebook: the run report's bundle section, with the test metrics saved in it."""
        from ..report._html import render_section
        from ._card import CARD_FILE
        from ._onnx import ONNX_INFO

        data = {**self.metadata, "path": str(self.path) if self.path is not None else None}
        if self.path is not None and (self.path / ONNX_INFO).is_file():  # verified with the manifest at load
            data["onnx"] = _read_json(self.path, ONNX_INFO)
        if self.path is not None and (self.path / CARD_FILE).is_file():
            data["model_card"] = CARD_FILE
        return render_section("bundle", data, {"problem": {"seed": self.metadata.get("seed")}})
