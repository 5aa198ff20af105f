"""Small model bundles for the deployment tests, built directly (no full workflow run)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlsmith.data import infer_schema
from mlsmith.datasets import make_churn
from mlsmith.deploy import bundle_extras, save_bundle
from mlsmith.deploy._explain import reference_row
from mlsmith.pipeline import build_pipeline


def make_bundle(folder: Path, frame: pd.DataFrame, family: str = "linear", n_train: int = 500) -> Path:
    """Fit ``family`` on the first ``n_train`` rows and save a bundle (ONNX export and card included)."""
    schema = infer_schema(frame, "churned", ["customer_id"])
    train, test = frame.iloc[:n_train], frame.iloc[n_train:]
    X = train[schema.features()]
    pipeline = build_pipeline(family, schema, "binary_classification", 0).fit(X, train["churned"])
    metadata = {"problem": "churn test", "task": "binary_classification", "target": "churned", "classes": [0, 1],
                "positive_class": 1, "decision_threshold": 0.5, "model": family, "success_metric": "recall",
                "test_metrics": {"recall": 0.5}, "seed": 0, "n_train": n_train, "explanation_reference": reference_row(X)}
    problem = {"name": "churn test", "type": "binary_classification", "target": "churned", "positive_class": 1}
    extras, _ = bundle_extras(pipeline, test[schema.features()], problem, metadata,
                              {"test_metrics": {"recall": 0.5}, "n_test": len(test)})
    return save_bundle(folder, pipeline, schema, metadata, extra_files=extras)


@pytest.fixture(scope="session")
def churn_frame() -> pd.DataFrame:
    return make_churn(n_rows=800, seed=5)


@pytest.fixture(scope="session")
def churn_bundle(tmp_path_factory, churn_frame) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "model", churn_frame)


@pytest.fixture(scope="session")
def challenger_bundle(tmp_path_factory, churn_frame) -> Path:
    return make_bundle(tmp_path_factory.mktemp("challenger") / "model", churn_frame, family="decision_tree")
