"""Test helper: a small model bundle with reference statistics, built without running the workflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlsmith.data import infer_schema
from mlsmith.deploy import save_bundle
from mlsmith.evaluation import scores_for
from mlsmith.monitor import REFERENCE_FILE, build_reference, test_reference
from mlsmith.pipeline import build_pipeline
from mlsmith.runs import to_jsonable


def make_bundle(path: Path, frame: pd.DataFrame, target: str = "churned", family: str = "linear",
                id_columns=("customer_id",), metric: str = "roc_auc") -> Path:
    """Fit ``family`` on 75% of ``frame`` (binary target 0/1) and save a bundle with its reference."""
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame[target])
    schema = infer_schema(train, target, id_columns=list(id_columns))
    features = schema.features()
    pipe = build_pipeline(family, schema, "binary_classification", 0).fit(train[features], train[target])
    y_test = test[target].to_numpy()
    proba = pipe.predict_proba(test[features])[:, 1]
    metrics = scores_for("binary_classification", y_test, (proba >= 0.5).astype(int), proba)
    on_test = test_reference(pipe, test[features], y_test, "binary_classification", metric, 0.5, 0.7, [0, 1], seed=0)
    reference = build_reference(train, schema, on_test)
    metadata = {"task": "binary_classification", "target": target, "classes": [0, 1], "decision_threshold": 0.5,
                "success_metric": metric, "test_metrics": metrics, "model": family}
    return save_bundle(path, pipe, schema, metadata,
                       extra_files={REFERENCE_FILE: json.dumps(to_jsonable(reference))})


def shifted(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The churn table with two planted shifts: monthly charges up 30%, 40% of contracts set to one value."""
    out = frame.copy()
    out["monthly_charges"] = out["monthly_charges"] * 1.3
    rows = out.sample(frac=0.4, random_state=seed).index
    out.loc[rows, "contract"] = out["contract"].mode()[0]
    return out


def noisy_labels(frame: pd.DataFrame, target: str = "churned", share: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """The table with a share of its labels replaced by coin flips: the model's performance decays."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    rows = rng.random(len(out)) < share
    out.loc[rows, target] = rng.integers(0, 2, rows.sum())
    return out
