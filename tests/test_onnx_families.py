"""ONNX for every family the catalog ships, with the installed skl2onnx, onnx and onnxruntime: the
graph gives the pipeline's probabilities (a regressor: its predictions) and labels on held-out rows
of small real tables with categories and missing values; a pipeline that does not convert says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlsmith
from mlsmith.catalog import CATALOG
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, export_onnx
from mlsmith.deploy._onnx import TOLERANCE, OnnxModel
from mlsmith.deploy._runtime import Scorer
from mlsmith.exceptions import BundleError
from mlsmith.pipeline import build_pipeline
from mlsmith.target import TargetCodec, whole_model

from conftest import write_problem
from deploy_fixtures import churn_frame, make_bundle  # noqa: F401  (fixtures)

DATA = Path(__file__).parent / "data"
TASKS = ("binary_classification", "multiclass_classification", "regression")
CASES = [(family, task) for family, spec in CATALOG.items() for task in TASKS if spec.supports(task)]


#: Exports a logistic regression of hitters' Division to the file named by its argument.
EXPORT = """
import sys
from pathlib import Path

import pandas as pd

from mlsmith.data import infer_schema
from mlsmith.deploy import export_onnx
from mlsmith.pipeline import build_pipeline
from mlsmith.target import TargetCodec, whole_model

frame = pd.read_csv(Path(sys.argv[2]))
schema = infer_schema(frame, "Division")
train, test = frame.iloc[::2], frame.iloc[1::2]
codec = TargetCodec.fit(train["Division"], "binary_classification", "W")
pipeline = build_pipeline("linear", schema, "binary_classification", 0)
pipeline.fit(train[schema.features()], codec.encode(train["Division"]))
model = whole_model(pipeline, "binary_classification", codec.classes, 0.35)
Path(sys.argv[1]).write_bytes(export_onnx(model, test[schema.features()], "binary_classification").model)
"""


def _hitters() -> pd.DataFrame:
    return pd.read_csv(DATA / "hitters.csv")  # League, Division, NewLeague categorical; Salary missing on 59 rows


@pytest.fixture(scope="module")
def tables() -> dict[str, tuple[pd.DataFrame, str, object]]:
    """Per task: a real table, its target and (classification) the positive class."""
    hitters = _hitters()
    return {
        # Division E/W from the players' statistics; a missing Salary stays a missing feature
        "binary_classification": (hitters, "Division", "W"),
        # penguin species from measurements, island and sex (a few of each missing)
        "multiclass_classification": (pd.read_csv(DATA / "penguins.csv"), "species", None),
        "regression": (hitters.dropna(subset=["Salary"]).reset_index(drop=True), "Salary", None),
    }


@pytest.mark.parametrize("family, task", CASES)
def test_the_graph_of_every_family_matches_its_pipeline(tables, family, task):
    frame, target, positive = tables[task]
    schema = infer_schema(frame, target)
    train, test = frame.iloc[::2], frame.iloc[1::2]
    codec = TargetCodec.fit(train[target], task, positive)
    pipeline = build_pipeline(family, schema, task, 0)
    if "n_estimators" in pipeline.named_steps["model"].get_params():  # few trees: the form does not depend on how many
        pipeline.set_params(model__n_estimators=20)
    pipeline.fit(train[schema.features()], codec.encode(train[target]))
    model = whole_model(pipeline, task, codec.classes, 0.35 if task == "binary_classification" else None)
    X = test[schema.features()]
    export = export_onnx(model, X, task)
    assert export.converted, export.reason
    graph = OnnxModel(export.model, model, task)
    if task == "regression":
        want = model.predict(X)
        assert np.max(np.abs(graph.predict(X) - want) / np.maximum(1.0, np.abs(want))) <= TOLERANCE
        return
    assert np.abs(graph.predict_proba(X) - model.predict_proba(X)).max() <= TOLERANCE
    assert export.max_abs_diff <= TOLERANCE and export.n_rows_checked == len(X)
    # the label output is the bundle's: the original class, at the threshold for a binary model
    assert graph.predict(X).tolist() == model.predict(X).tolist()


def test_histogram_gradient_boosting_splits_in_double_as_scikit_learn_does():
    """A value on a threshold (12.47 against 12.469999999999999, the midpoint of 12.37 and 12.57)
    took the other branch in float32: one wine of 89 moved by 0.0034; and skl2onnx's own converter
    fails with onnx 1.23 ("Unable to create node 'TreeEnsembleClassifier'")."""
    from sklearn.datasets import load_diabetes, load_wine

    for loader, task in ((load_wine, "multiclass_classification"), (load_diabetes, "regression")):
        frame = loader(as_frame=True).frame
        schema = infer_schema(frame, "target")
        X = frame[schema.features()]
        pipeline = build_pipeline("hist_gradient_boosting", schema, task, 0).fit(X.iloc[::2], frame["target"].iloc[::2])
        export = export_onnx(pipeline, X.iloc[1::2], task)
        assert export.converted, export.reason
        assert export.max_abs_diff <= 1e-6  # float32 outputs only
        assert {i["dtype"] for i in export.inputs} == {"float64"}


@pytest.mark.slow
def test_a_pipeline_that_does_not_convert_says_why(tmp_path):
    """Stage 4's bins have no ONNX form: the run's results, the bundle's metadata, onnx.json and the
    model card say so, and serving with the ONNX runtime is refused with that reason."""
    hitters = _hitters()
    spec = write_problem(tmp_path, hitters, target="Division", positive_class="W", success_metric="roc_auc",
                         models=["linear"], split={"cv_folds": 3}, tuning={"method": "none", "learning_curve": False},
                         features={"transforms": [{"kind": "bin", "columns": ["Years"], "pinned": True}]})
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    folder = result.run_dir / "model"
    reason = result.bundle["onnx"]["reason"]
    assert not result.bundle["onnx"]["converted"] and "Binning" in reason
    bundle = ModelBundle.load(folder)
    assert bundle.metadata["onnx"] == {"converted": False, "reason": reason}
    assert json.loads((folder / "onnx.json").read_text())["reason"] == reason
    assert f"No ONNX export: {reason}." in (folder / "MODEL_CARD.md").read_text()
    assert not (folder / "model.onnx").exists()
    with pytest.raises(BundleError, match=r"has no ONNX graph \(.*Binning.*\); serve it with --runtime sklearn"):
        Scorer(bundle, "onnx")


def test_a_served_histogram_gradient_boosting_graph_gives_the_pipelines_answers(tmp_path, churn_frame):
    """The double inputs on the serving path: records with dates, categories and missing values, in a
    batch (dates vectorised) and one by one (the per-record fast path)."""
    from fastapi.testclient import TestClient

    from mlsmith.deploy import create_app

    folder = make_bundle(tmp_path / "model", churn_frame, family="hist_gradient_boosting")
    bundle = ModelBundle.load(folder)
    assert json.loads((folder / "onnx.json").read_text())["converted"]
    rows = churn_frame.drop(columns=["churned"]).iloc[500:700]
    recs = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.astype(object).to_dict("records")]
    with TestClient(create_app(folder, runtime="onnx")) as client:
        many = client.post("/predict", json=recs).json()["predictions"]
        few = [client.post("/predict", json=r).json() for r in recs[:20]]
    X = pd.DataFrame(recs)[bundle.schema.features()]
    want = bundle.pipeline.predict_proba(X)[:, 1]
    assert np.abs(np.array([p["probability"] for p in many]) - want).max() <= TOLERANCE
    assert np.abs(np.array([p["probability"] for p in few]) - want[:20]).max() <= TOLERANCE
    assert [p["prediction"] for p in many] == bundle.pipeline.predict(X).tolist()


def test_the_same_pipeline_exports_the_same_bytes_whatever_the_hash_seed(tmp_path):
    """skl2onnx lists the graph's operator sets in the order of a set of domains: ai.onnx.ml came
    second under PYTHONHASHSEED=0 and first under 1, so model.onnx's bytes changed from run to run."""
    import onnx

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    for seed in (0, 1):
        subprocess.run([sys.executable, "-c", EXPORT, str(tmp_path / f"{seed}.onnx"), str(DATA / "hitters.csv")],
                       env={**env, "PYTHONHASHSEED": str(seed)}, check=True, timeout=300)
    exported = (tmp_path / "0.onnx").read_bytes()
    assert exported == (tmp_path / "1.onnx").read_bytes()
    assert [(o.domain, o.version) for o in onnx.load_from_string(exported).opset_import] == [("", 16), ("ai.onnx.ml", 1)]
