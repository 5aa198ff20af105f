"""The measured gain: raw columns vs the plan vs each group left out, on the run's folds; and the stage in a run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.model_selection import KFold, cross_val_score

from mlsmith import CVSetup
from mlsmith.ablation import measure_gain
from mlsmith.cli import main
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle
from mlsmith.features import FeaturePlan, plan_features
from mlsmith.pipeline import build_pipeline
from mlsmith.problem import FeaturesSpec
from mlsmith.workflow import run

BIKESHARE = Path(__file__).parent / "data" / "bikeshare_2011.csv"
CV = KFold(3, shuffle=True, random_state=0)


def setup(X, y, schema) -> CVSetup:
    return CVSetup(X=X, y=y, schema=schema, task="regression", metric="rmse", cv=CV, seed=42, n_jobs=1)


@pytest.fixture(scope="module")
def bikes() -> pd.DataFrame:
    return pd.read_csv(BIKESHARE)


def test_auto_plan_beats_the_raw_columns_on_bikeshare(bikes):
    schema = infer_schema(bikes, "bikers")
    X, y = bikes[schema.features()], bikes["bikers"].to_numpy()
    plan = plan_features(bikes, schema, FeaturesSpec(holidays_country="US"))
    res = measure_gain(plan, "linear", setup(X, y, schema))
    raw = -cross_val_score(build_pipeline("linear", schema, "regression", 42, plan=FeaturePlan([])), X, y,
                           cv=CV, scoring="neg_root_mean_squared_error").mean()
    assert res.raw_score == pytest.approx(raw)
    assert res.final_score < res.raw_score and res.gain == pytest.approx(res.raw_score - res.final_score)
    dates = next(g for g in res.groups if g["group"] == "dates")
    assert dates["decision"] == "kept" and dates["gain"] > 0


def _linear_in_x():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.lognormal(0, 1.2, 300), "noise": rng.normal(size=300)})
    df["y"] = 3 * df["x"] + rng.normal(0, 0.1, 300)
    return df, infer_schema(df, "y")


@pytest.mark.parametrize("pinned, decision", [(False, "dropped"), (True, "kept (pinned)")])
def test_a_group_that_hurts_is_dropped_unless_pinned(pinned, decision):
    df, schema = _linear_in_x()  # y is linear in x: replacing x by log(x) hurts a linear model
    plan = plan_features(df, schema, FeaturesSpec(mode="declared", transforms=[{"kind": "log", "column": "x", "pinned": pinned}]))
    res = measure_gain(plan, "linear", setup(df[["x", "noise"]], df["y"].to_numpy(), schema))
    assert res.groups[0]["decision"] == decision and res.groups[0]["gain"] < 0
    assert res.full_score > res.raw_score
    assert [t.kind for t in res.final.transforms] == (["log"] if pinned else [])
    assert res.final_score == (res.full_score if pinned else res.raw_score)
    assert res.notes[0].startswith("'log' made rmse worse")


def test_an_empty_plan_is_not_measured():
    df, schema = _linear_in_x()
    res = measure_gain(FeaturePlan([], "none"), "linear", setup(df[["x"]], df["y"].to_numpy(), schema))
    assert res.raw_score is None and res.gain is None and res.to_dict()["notes"] == ["features: none"]


def test_a_run_reports_the_features_stage_and_ships_the_kept_plan(tmp_path, bikes):
    bikes.head(500).to_csv(tmp_path / "bikes.csv", index=False)
    spec = {"target": "bikers", "data": {"path": "bikes.csv"}, "models": ["linear"], "split": {"cv_folds": 3},
            "features": {"holidays_country": "US",
                         "transforms": [{"kind": "interaction", "columns": ["temp", "hum"], "pinned": True}]}}
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    result = run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=1)
    saved = json.loads((result.run_dir / "results.json").read_text())["features"]
    assert saved["family"] == "linear" and saved["raw_score"] is not None
    assert {g["group"] for g in saved["groups"]} == {"dates", "ratio", "interaction"}
    assert next(g for g in saved["groups"] if g["group"] == "interaction")["pinned"]
    html = (result.run_dir / "report.html").read_text()
    assert "4. Feature engineering" in html and "Measured gain" in html
    bundle = ModelBundle.load(result.run_dir / "model")  # the plan's transformers load as trusted types
    blocks = [name for name, _, _ in bundle.pipeline.named_steps["prep"].transformers_]
    assert {b.split("_")[0] for b in blocks} >= {"interaction", "dates"}
    predictions = bundle.predict(bikes.tail(50))["prediction"]
    assert np.isfinite(predictions).all() and predictions.std() > 0


def test_cli_writes_the_plan_as_editable_yaml(tmp_path, capsys):
    out = tmp_path / "plan.yaml"
    with pytest.raises(SystemExit) as code:
        main(["features", str(BIKESHARE), "--target", "bikers", "--holidays-country", "US", "-o", str(out)])
        raise SystemExit(0)
    assert code.value.code == 0
    plan = yaml.safe_load(out.read_text())["features"]
    assert plan[0] == {"kind": "dates", "columns": ["datetime"], "pinned": False, "country": "US",
                       "reason": "date column: year, month, day, day of week, weekend, hour, US holidays"}
    with pytest.raises(SystemExit) as code:
        main(["features", str(BIKESHARE), "--target", "riders"])
    assert code.value.code == 2
    assert "Error: target 'riders' is not a column" in capsys.readouterr().err
