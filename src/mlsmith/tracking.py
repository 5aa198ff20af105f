"""MLflow: a finished run folder logged as an MLflow run, its bundle as an MLflow model.

Logging reads the run folder after the run has written it (data flows one way: no stage imports
this module), so a run is complete whether or not MLflow can be reached, and a past run can be
logged later (``mlsmith runs export``). MLflow is an optional extra: ``pip install 'mlsmith[mlflow]'``.

What is logged: the spec as parameters (the run folder's problem.yaml, whose data URL is already
masked), the test, cross-validated and baseline metrics, the verdict's status and the data
fingerprint as tags, report.html, results.json, leaderboard.csv, problem.yaml and the figures as
artifacts, and the bundle as a pyfunc model (``model``) whose signature is the bundle's input
schema. The pyfunc model holds no pickle: MLflow imports this module (its ``loader_module``), which
loads the bundle through :meth:`mlsmith.ModelBundle.load` (its manifest and trusted types are
checked) and predicts what ``ModelBundle.predict`` predicts.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ._reading import as_pandas
from .exceptions import MlsmithError

__all__ = ["log_to_mlflow"]

#: MLflow's limit on a parameter's value (characters)
_PARAM_LENGTH = 6000


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise MlsmithError("logging to MLflow needs the mlflow extra: pip install 'mlsmith[mlflow]'.") from None
    return mlflow


def _flatten(spec: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(spec, dict):
        out: dict[str, str] = {}
        for key, value in spec.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: (spec if isinstance(spec, str) else json.dumps(spec, default=str))[:_PARAM_LENGTH]}


def _metrics(evaluation: dict[str, Any]) -> dict[str, float]:
    out = {}
    for prefix, key in (("test", "test_metrics"), ("cv", "cv_metrics"), ("baseline", "baseline_metrics")):
        for name, value in (evaluation.get(key) or {}).items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                out[f"{prefix}_{name}"] = float(value)
    return out


def _signature(bundle):
    """The pyfunc model's signature: the bundle's features as training stored them, and its outputs.

    A column that had no missing values in training is required; the others may be left out of a
    request (they are then imputed, as ``mlsmith serve`` does).
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    features = set(bundle.schema.features())
    inputs = [ColSpec(_mlflow_type(c), c.name, required=not c.missing_frac)
              for c in bundle.schema.columns if c.name in features]
    if bundle.task == "regression":
        outputs = [ColSpec("double", "prediction")]
    else:
        probabilities = ["probability"] if bundle.task == "binary_classification" else \
            [f"probability_{c}" for c in bundle.classes]
        outputs = [ColSpec(_label_type(bundle.classes), "prediction"), *(ColSpec("double", p) for p in probabilities)]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _label_type(classes: list[Any]) -> str:
    """MLflow's type for the predicted labels: the narrowest that holds every class."""
    if classes and all(isinstance(c, bool) for c in classes):
        return "boolean"
    if classes and all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "long"
    if classes and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in classes):
        return "double"
    return "string"


def _mlflow_type(column) -> str:
    """The column's type in MLflow's schema, from the dtype training read: MLflow refuses what it cannot
    convert safely (int64 into a double column), so integers stay ``long``. Categories, text and dates,
    which JSON requests and CSV files carry as text (the bundle reads them as training did), are strings."""
    dtype = str(column.dtype).lower()
    if column.role != "numeric":
        return "boolean" if column.role == "boolean" and dtype.startswith("bool") else "string"
    return "long" if dtype.startswith("int") else "double"


def log_to_mlflow(run_dir: str | Path, tracking_uri: str | None = None, experiment: str | None = None) -> str:
    """Log a finished run folder to MLflow; the MLflow run's id.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run folder written by :func:`mlsmith.run` (``runs/<id>``).
    tracking_uri : str, optional
        The tracking server or store (``http://host:5000``, ``file:/path``, ``sqlite:///...``);
        None: ``MLFLOW_TRACKING_URI``, else MLflow's default (``./mlruns``).
    experiment : str, optional
        The MLflow experiment; None: the problem's name.

    Returns
    -------
    str
        The MLflow run's id.

    Raises
    ------
    MlsmithError
        Without the mlflow extra, for a folder that is not a finished run, or when the tracking
        server cannot be reached (the run folder itself is complete either way).

    Examples
    --------
    >>> log_to_mlflow("no/such/run")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.MlsmithError: 'no/such/run' is not a finished run folder (no results.json); ...
    """
    run_dir = Path(run_dir)
    if not (run_dir / "results.json").is_file():
        raise MlsmithError(f"'{run_dir}' is not a finished run folder (no results.json); give a folder that "
                           "'mlsmith run' wrote, e.g. from 'mlsmith runs list'.")
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    from .deploy import ModelBundle

    results = json.loads((run_dir / "results.json").read_text())
    spec = yaml.safe_load((run_dir / "problem.yaml").read_text())
    evaluation = results.get("evaluation", {})
    verdict = evaluation.get("verdict", {})
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    bundle = ModelBundle.load(run_dir / "model")
    try:
        if uri:
            mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment or spec.get("name") or "mlsmith")
        with mlflow.start_run(run_name=run_dir.name) as active:
            mlflow.log_params(_flatten(spec))
            mlflow.log_metrics(_metrics(evaluation))
            mlflow.set_tags({"mlsmith.run_id": run_dir.name, "mlsmith.verdict": verdict.get("status") or "",
                             "mlsmith.verdict_summary": (verdict.get("summary") or "")[:5000],
                             "mlsmith.model": results.get("bundle", {}).get("model") or "",
                             "mlsmith.data_fingerprint": results.get("bundle", {}).get("data_fingerprint") or ""})
            for name in ("report.html", "results.json", "leaderboard.csv", "problem.yaml"):
                if (run_dir / name).is_file():
                    mlflow.log_artifact(str(run_dir / name))
            if (run_dir / "figures").is_dir():
                mlflow.log_artifacts(str(run_dir / "figures"), "figures")
            with warnings.catch_warnings():
                # MLflow asks for an input example: the signature, built from the bundle's input schema,
                # states the columns and types, and an example would be a training row, which a bundle
                # never carries.
                warnings.filterwarnings("ignore", message=".*input example was not")
                # A loader module, not a pickled PythonModel: loading the MLflow model imports this
                # module and loads the bundle through ModelBundle.load; nothing is unpickled.
                mlflow.pyfunc.log_model(name="model", loader_module=__name__, data_path=str(run_dir / "model"),
                                        signature=_signature(bundle), pip_requirements=["mlsmith"])
            return active.info.run_id
    except (MlflowException, OSError) as exc:
        where = uri or "MLflow's default store"
        raise MlsmithError(f"could not log to MLflow at '{where}' ({str(exc).splitlines()[0][:200]}); the run "
                           f"is saved at {run_dir}: log it later with 'mlsmith runs export {run_dir.name}'.") from None


class _PyfuncBundle:
    """What MLflow's pyfunc flavor calls ``predict`` on: the bundle's own prediction."""

    def __init__(self, bundle) -> None:
        self.bundle = bundle

    def predict(self, model_input, params=None) -> Any:
        frame = model_input if isinstance(model_input, pd.DataFrame) else as_pandas(model_input)
        # A column that may be missing (the signature's optional ones) may be left out, as in a request
        # to 'mlsmith serve': it is then imputed.
        absent = [c for c in self.bundle.schema.features() if c not in frame.columns
                  and self.bundle.schema[c].missing_frac]
        return self.bundle.predict(frame.assign(**{c: None for c in absent}) if absent else frame)


def _load_pyfunc(path: str) -> _PyfuncBundle:
    """MLflow's entry point for a ``loader_module`` model: the bundle in the model's data folder, verified."""
    from .deploy import ModelBundle

    return _PyfuncBundle(ModelBundle.load(path))
