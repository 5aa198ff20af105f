"""The bundle's pipeline is the whole model: scikit-learn's own ``predict`` gives what the bundle gives."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import mlsmith
from mlsmith.cli import main
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, bundle_extras, predict_file, save_bundle
from mlsmith.deploy._bundle import pipeline_bytes
from mlsmith.deploy._onnx import OnnxModel
from mlsmith.deploy._runtime import Scorer
from mlsmith.exceptions import BundleError
from mlsmith.guards import check_pipeline_file
from mlsmith.pipeline import build_pipeline
from mlsmith.target import LabelledClassifier, code_model, whole_model

from conftest import write_problem

CANCER = Path(__file__).parents[1] / "examples" / "breast_cancer" / "breast_cancer.csv"


def _table(task: str) -> pd.DataFrame:
    loader = {"binary_classification": load_breast_cancer, "multiclass_classification": load_wine,
              "regression": load_diabetes}[task]
    return loader(as_frame=True).frame


def _bundle(folder: Path, task: str, classes: list, threshold: float | None = None, family: str = "linear"):
    """A bundle of ``family`` fitted on the class codes of a real table, its classes named ``classes``."""
    frame = _table(task)
    schema = infer_schema(frame, "target")
    X = frame[schema.features()]
    pipeline = build_pipeline(family, schema, task, 0).fit(X, frame["target"])
    metadata = {"task": task, "target": "target", "classes": classes, "decision_threshold": threshold,
                "positive_class": classes[1] if task == "binary_classification" else None}
    problem = {"name": "bundle test", "type": task, "target": "target"}
    extras, _ = bundle_extras(pipeline, X, problem, metadata, {"test_metrics": {}, "n_test": len(X)})
    return save_bundle(folder, pipeline, schema, metadata, extra_files=extras), pipeline, X


CASES = [
    ("binary_classification", ["benign", "malignant"], 0.3),
    ("binary_classification", ["No", "O'Yes"], 0.8),
    ("binary_classification", [0, 1], 0.2),
    ("multiclass_classification", [3, 5, 7], None),
    ("multiclass_classification", ["Nö", 'say "yes"', "O'Yes"], None),
]


@pytest.mark.parametrize("task, classes, threshold", CASES)
def test_the_pipeline_predicts_the_bundles_labels_on_every_row(tmp_path, task, classes, threshold):
    path, fitted, X = _bundle(tmp_path / "model", task, classes, threshold)
    bundle = ModelBundle.load(path)
    assert bundle.pipeline.classes_.tolist() == classes
    assert bundle.pipeline.classes_.dtype.kind == ("i" if isinstance(classes[0], int) else "O")  # as scikit-learn
    predicted = bundle.predict(X)
    np.testing.assert_array_equal(bundle.pipeline.predict(X), predicted["prediction"].to_numpy())
    # the same probabilities as the model fitted on codes; the labels at the bundle's threshold
    proba = fitted.predict_proba(X)
    np.testing.assert_allclose(bundle.pipeline.predict_proba(X), proba)
    codes = proba.argmax(axis=1) if threshold is None else (proba[:, 1] >= threshold).astype(int)
    assert bundle.pipeline.predict(X).tolist() == [classes[c] for c in codes]
    labelled = bundle.predict_proba(X)
    assert labelled.columns.tolist() == classes
    np.testing.assert_allclose(labelled.to_numpy(), proba)


def test_the_threshold_is_scikit_learns_own(tmp_path):
    path, fitted, X = _bundle(tmp_path / "model", "binary_classification", ["benign", "malignant"], 0.3)
    bundle = ModelBundle.load(path)
    assert isinstance(bundle.pipeline, FixedThresholdClassifier)
    assert (bundle.pipeline.threshold, bundle.pipeline.pos_label, bundle.pipeline.response_method) == \
        (0.3, "malignant", "predict_proba")
    at_half = np.array(["benign", "malignant"], dtype=object)[fitted.predict(X)]
    moved = int((bundle.pipeline.predict(X) != at_half).sum())
    assert moved == int(((fitted.predict_proba(X)[:, 1] >= 0.3) & (fitted.predict_proba(X)[:, 1] < 0.5)).sum()) > 0
    assert bundle.metadata["bundle_format"] == 2 and bundle.threshold == 0.3


def test_a_regressor_is_its_pipeline(tmp_path):
    path, fitted, X = _bundle(tmp_path / "model", "regression", [])
    bundle = ModelBundle.load(path)
    np.testing.assert_array_equal(bundle.pipeline.predict(X), bundle.predict(X)["prediction"])
    np.testing.assert_array_equal(bundle.pipeline.predict(X), fitted.predict(X))
    with pytest.raises(BundleError, match="is a regressor and gives no probabilities; use predict"):
        bundle.predict_proba(X)


def test_cloned_and_fitted_on_the_labels_it_retrains_the_whole_model(tmp_path):
    path, _, X = _bundle(tmp_path / "model", "binary_classification", ["benign", "malignant"], 0.3)
    bundle = ModelBundle.load(path)
    labels = np.where(load_breast_cancer().target == 1, "malignant", "benign")
    retrained = clone(bundle.pipeline).fit(X, labels)
    assert retrained.classes_.tolist() == ["benign", "malignant"] and retrained.threshold == 0.3
    np.testing.assert_allclose(retrained.predict_proba(X), bundle.pipeline.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(retrained.predict(X), bundle.pipeline.predict(X))


def test_serving_batch_and_onnx_give_the_pipelines_labels(tmp_path):
    path, _, X = _bundle(tmp_path / "model", "multiclass_classification", ["Nö", 'say "yes"', "O'Yes"])
    bundle = ModelBundle.load(path)
    want = bundle.pipeline.predict(X).tolist()
    records = X.to_dict(orient="records")
    assert [r["prediction"] for r in Scorer(bundle).score(records)] == want
    assert [r["prediction"] for r in Scorer(bundle, "onnx").score(records)] == want
    assert OnnxModel((path / "model.onnx").read_bytes(), bundle.pipeline, bundle.task).predict(X).tolist() == want
    X.to_csv(tmp_path / "rows.csv", index=False)
    out = pd.read_csv(predict_file(bundle, tmp_path / "rows.csv", tmp_path / "out.csv"))
    assert out["prediction"].tolist() == want
    assert [c for c in out.columns if c.startswith("probability_")] == \
        ["probability_Nö", 'probability_say "yes"', "probability_O'Yes"]


def _format_1_bundle(folder: Path, pipeline, schema, metadata: dict) -> Path:
    """A bundle as mlsmith wrote it before format 2: the pipeline answers in class codes, and the
    metadata has no ``bundle_format``."""
    folder.mkdir()
    (folder / "pipeline.skops").write_bytes(pipeline_bytes(pipeline))
    (folder / "schema.json").write_text(json.dumps(schema.to_dict(), default=str))
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    (folder / "metadata.json").write_text(json.dumps({**metadata, "version": digest["pipeline.skops"][:12],
                                                      "files": digest}))
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    (folder / "manifest.json").write_text(json.dumps({"algorithm": "sha256", "files": files}))
    return folder


def test_a_bundle_of_format_1_loads_whole_and_a_later_format_is_refused(tmp_path, capsys):
    frame = _table("binary_classification")
    schema = infer_schema(frame, "target")
    X = frame[schema.features()]
    coded = build_pipeline("linear", schema, "binary_classification", 0).fit(X, frame["target"])
    metadata = {"task": "binary_classification", "classes": ["benign", "malignant"], "decision_threshold": 0.3}
    old = ModelBundle.load(_format_1_bundle(tmp_path / "old", coded, schema, metadata))
    assert "bundle_format" not in old.metadata and old.pipeline.classes_.tolist() == ["benign", "malignant"]
    np.testing.assert_array_equal(old.pipeline.predict(X), old.predict(X)["prediction"])

    later = _format_1_bundle(tmp_path / "later", coded, schema, {**metadata, "bundle_format": 3})
    with pytest.raises(BundleError, match=r"has bundle format 3, which this mlsmith does not read \(it reads formats 1 "
                                          r"to 2\); upgrade mlsmith, or re-create the bundle"):
        ModelBundle.load(later)
    X.head(3).to_csv(tmp_path / "rows.csv", index=False)
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(later), str(tmp_path / "rows.csv"), "-o", str(tmp_path / "out.csv")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith("Error: model bundle") and "bundle format 3" in err
    assert len(err.strip().splitlines()) == 1


def test_check_pipeline_reads_through_a_bundles_threshold(tmp_path):
    frame = _table("binary_classification")
    schema = infer_schema(frame, "target")
    X, y = frame[schema.features()], frame["target"]
    train = X.iloc[:400]
    scaler = StandardScaler().fit(X)  # the mistake: fitted on every row, the test rows too
    leaky = make_pipeline(scaler, LogisticRegression(max_iter=2000).fit(scaler.transform(train), y.iloc[:400]))
    metadata = {"task": "binary_classification", "classes": ["benign", "malignant"], "decision_threshold": 0.4}
    bundle = save_bundle(tmp_path / "model", leaky, schema, metadata)
    assert isinstance(ModelBundle.load(bundle).pipeline, FixedThresholdClassifier)
    train.to_csv(tmp_path / "train.csv", index=False)
    X.to_csv(tmp_path / "all.csv", index=False)
    [found] = check_pipeline_file(bundle / "pipeline.skops", tmp_path / "train.csv", tmp_path / "all.csv")
    assert (found.check, found.severity, found.evidence["n_samples_seen"]) == ("preprocessing_outside_cv", "error",
                                                                                len(X))


def test_whole_model_and_code_model_are_inverse(tmp_path):
    frame = _table("multiclass_classification")
    schema = infer_schema(frame, "target")
    X = frame[schema.features()]
    coded = build_pipeline("linear", schema, "multiclass_classification", 0).fit(X, frame["target"])
    whole = whole_model(coded, "multiclass_classification", ["a", "b", "c"])
    assert whole_model(whole, "multiclass_classification", ["x", "y", "z"]) is whole  # already whole
    back, classes, threshold = code_model(whole)
    assert back.steps[-1][1] is coded.steps[-1][1] and (classes, threshold) == (["a", "b", "c"], None)
    assert code_model(coded) == (coded, None, None)


@pytest.mark.slow
def test_a_runs_bundle_pipeline_predicts_what_the_bundle_predicts(tmp_path):
    """The breast cancer example, its threshold tuned for recall: 2 of 569 rows differed before."""
    frame = pd.read_csv(CANCER)
    spec = write_problem(tmp_path, frame, target="target", positive_class="malignant", success_metric="recall",
                         threshold=0.95, models=["linear"], split={"test_size": 0.25, "cv_folds": 3},
                         tuning={"method": "none", "learning_curve": False}, seed=42)
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    bundle = ModelBundle.load(result.run_dir / "model")
    X = frame[bundle.schema.features()]
    assert bundle.threshold == result.evaluation.decision_threshold != 0.5
    assert bundle.pipeline.classes_.tolist() == ["benign", "malignant"]
    np.testing.assert_array_equal(bundle.pipeline.predict(X), bundle.predict(X)["prediction"])
    card = (result.run_dir / "model" / "MODEL_CARD.md").read_text()
    assert f"probability is >= {bundle.threshold:.4f}" in card
    assert "its own `predict` gives the classes by the decision threshold above" in card
    assert bundle.metadata["onnx"] == {"converted": True, "reason": ""}
    onnx = OnnxModel((result.run_dir / "model" / "model.onnx").read_bytes(), bundle.pipeline, bundle.task)
    np.testing.assert_array_equal(onnx.predict(X), bundle.pipeline.predict(X))


@parametrize_with_checks([LabelledClassifier(LogisticRegression())])
def test_labelled_classifier_is_a_scikit_learn_classifier(estimator, check):
    check(estimator)
