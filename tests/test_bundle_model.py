"""The bundle's pipeline is the whole model: original labels, the run's threshold, scikit-learn's own predict."""

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skops.io import dumps

from conftest import EXAMPLES
from mlsmith import ModelBundle, run
from mlsmith.data import infer_schema
from mlsmith.deploy import save_bundle
from mlsmith.target import LabelledClassifier, TargetCodec, coded_model


def _bundle(tmp_path, frame, target, labels, threshold=None):
    schema = infer_schema(frame, target, [])
    X = frame[schema.features()]
    task = "binary_classification" if len(labels) == 2 else "multiclass_classification"
    codec = TargetCodec(task, tuple(labels))
    coded = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X, codec.encode(frame[target]))
    metadata = {"task": task, "classes": list(labels), "decision_threshold": threshold}
    return ModelBundle.load(save_bundle(tmp_path / "model", coded, schema, metadata)), X, coded


@pytest.mark.parametrize("labels", [["benign", "malignant"], ["O'Yes \"quoted\"", "né <b>ü</b>"], [7, 3]])
def test_a_binary_pipeline_predicts_the_labels_at_the_runs_threshold(tmp_path, labels):
    data = load_breast_cancer(as_frame=True).frame
    data["target"] = np.where(data["target"] == 1, labels[1], labels[0]).tolist()
    bundle, X, coded = _bundle(tmp_path, data, "target", labels, threshold=0.8)
    proba = coded.predict_proba(X)[:, 1]
    assert ((proba >= 0.5) != (proba >= 0.8)).sum() > 0  # the threshold matters on these rows
    assert bundle.pipeline.classes_.tolist() == labels
    assert bundle.pipeline.predict(X).tolist() == bundle.predict(X)["prediction"].tolist()
    assert bundle.pipeline.predict(X).tolist() == np.where(proba >= 0.8, labels[1], labels[0]).tolist()
    np.testing.assert_array_equal(bundle.pipeline.predict_proba(X), coded.predict_proba(X))


def test_a_multiclass_pipeline_predicts_the_labels(tmp_path):
    data = load_wine(as_frame=True).frame
    names = ["barolo", "grignolino", "barbera"]
    data["target"] = [names[i] for i in data["target"]]
    bundle, X, coded = _bundle(tmp_path, data, "target", names)
    assert bundle.pipeline.predict(X).tolist() == bundle.predict(X)["prediction"].tolist()
    assert list(bundle.pipeline.classes_) == names
    assert (bundle.pipeline.predict(X) == data["target"]).mean() > 0.9


def test_the_saved_file_holds_the_wrapper_and_sklearn_can_refit_it(tmp_path):
    data = load_breast_cancer(as_frame=True).frame
    data["target"] = np.where(data["target"] == 1, "benign", "malignant").tolist()
    bundle, X, _ = _bundle(tmp_path, data, "target", ["benign", "malignant"], threshold=0.3)
    from mlsmith.deploy._bundle import PIPELINE_FILE, load_pipeline

    saved = load_pipeline(tmp_path / "model" / PIPELINE_FILE)
    assert isinstance(saved, LabelledClassifier) and saved.threshold == 0.3
    refit = clone(saved).fit(X, data["target"])  # scikit-learn's clone/fit contract holds
    assert refit.predict(X).tolist() == saved.predict(X).tolist()
    assert dumps(saved)  # skops can write it again


def test_a_bundle_saved_before_the_wrapper_is_wrapped_on_load(tmp_path):
    data = load_breast_cancer(as_frame=True).frame
    schema = infer_schema(data, "target", [])
    X = data[schema.features()]
    coded = LogisticRegression(max_iter=5000).fit(X, data["target"])
    from mlsmith.deploy import _bundle

    old = _bundle.whole_model
    _bundle.whole_model = lambda pipeline, *args: pipeline  # the layout of older bundles: the coded pipeline
    try:
        path = save_bundle(tmp_path / "old", coded, schema, {"task": "binary_classification", "classes": ["no", "yes"],
                                                             "decision_threshold": 0.9})
    finally:
        _bundle.whole_model = old
    bundle = ModelBundle.load(path)
    assert coded_model(bundle.pipeline) is not bundle.pipeline
    assert bundle.pipeline.predict(X).tolist() == bundle.predict(X)["prediction"].tolist()
    assert set(bundle.pipeline.predict(X)) == {"no", "yes"}


@pytest.mark.slow
def test_a_runs_bundle_pipeline_agrees_with_the_bundle_on_every_row(tmp_path):
    spec = yaml.safe_load((EXAMPLES / "breast_cancer" / "problem.yaml").read_text())
    spec.update(models=["linear"], tuning={"method": "none"}, constraints={})
    spec["data"]["path"] = str(EXAMPLES / "breast_cancer" / "breast_cancer.csv")
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    result = run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=1)
    bundle = ModelBundle.load(result.run_dir / "model")
    data = pd.read_csv(EXAMPLES / "breast_cancer" / "breast_cancer.csv")
    X = data[bundle.schema.features()]
    assert bundle.pipeline.predict(X).tolist() == bundle.predict(X)["prediction"].tolist()
    assert set(bundle.pipeline.classes_) == set(data[result.problem.target].unique())
