import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_wine

import mlsmith
from mlsmith.deploy import ModelBundle

from conftest import write_problem


@pytest.fixture(scope="module")
def churn_run(tmp_path_factory, churn_small):
    folder = tmp_path_factory.mktemp("churn")
    spec = write_problem(
        folder, churn_small, name="churn test", target="churned", positive_class=1, success_metric="recall",
        threshold=0.8, secondary_metrics=["precision"], baseline={"rule": "tenure_months < 3"},
        data={"id_columns": ["customer_id"]}, split={"test_size": 0.25, "cv_folds": 3}, seed=7,
    )
    return mlsmith.run(spec, runs_dir=folder / "runs", n_jobs=1), folder


def test_run_walks_every_stage_and_writes_the_run_folder(churn_run):
    result, folder = churn_run
    run_dir = result.run_dir
    # no temporary folder left; the run history index sits beside the run folders
    assert sorted(p.name for p in (folder / "runs").iterdir()) == [run_dir.name, "index.db"]
    assert {p.name for p in run_dir.iterdir()} >= {"problem.yaml", "results.json", "report.html", "leaderboard.csv", "model",
                                                   "figures"}
    page = (run_dir / "report.html").read_text()
    figures = sorted((run_dir / "figures").iterdir())
    assert len(figures) == page.count("data:image/png;base64,") > 5
    assert all(f.read_bytes().startswith(b"\x89PNG") for f in figures)
    results = json.loads((run_dir / "results.json").read_text())
    for key in ("problem", "quality", "eda", "leaderboard", "tuning", "evaluation", "bundle"):
        assert key in results
    # stages 2 and 3 saw the training rows only, and the id column is no feature
    assert results["quality"]["n_rows"] == results["eda"]["n_rows"] == results["split"]["n_train"]
    assert "customer_id" not in {a["feature"] for a in results["eda"]["associations"]}
    families = {row["model"] for row in results["leaderboard"]}
    assert families == {"linear", "decision_tree", "random_forest", "hist_gradient_boosting", "xgboost",
                        "lightgbm", "svm", "knn", "naive_bayes", "dummy"}
    assert result.leaderboard.best.model != "dummy"
    assert set(results["evaluation"]["test_metrics"]) >= {"recall", "precision", "roc_auc", "average_precision"}
    assert results["evaluation"]["verdict"]["threshold"] == 0.8
    assert results["evaluation"]["baseline"] == "rule: tenure_months < 3"
    assert "Verdict" not in results  # verdict lives inside evaluation
    assert "test recall" in (run_dir / "report.html").read_text()


def test_baseline_rule_is_scored_on_the_test_rows(churn_run, churn_small):
    from sklearn.metrics import recall_score

    from mlsmith.split import split_train_test

    result, _ = churn_run
    # the run's test rows (its stratified split keeps the table's 4 exact copies with their originals),
    # scored independently, give the baseline's figure
    test = split_train_test(churn_small, result.problem)[1].read()
    expected = recall_score(test["churned"], (test["tenure_months"] < 3).astype(int))
    assert result.evaluation.baseline_metrics["recall"] == pytest.approx(expected)


def test_bundle_reloads_and_predicts_like_the_fitted_pipeline(churn_run, churn_small, tmp_path):
    result, _ = churn_run
    bundle = ModelBundle.load(result.run_dir / "model")
    assert bundle.threshold == result.evaluation.decision_threshold
    assert bundle.metadata["seed"] == 7 and bundle.metadata["versions"]["scikit-learn"]
    scored = bundle.predict(churn_small.drop(columns=["churned"]))
    assert set(scored["prediction"].unique()) <= {0, 1}
    expected = (scored["probability"] >= bundle.threshold).map({True: 1, False: 0})
    assert (scored["prediction"] == expected).all()
    out = mlsmith.predict_file(bundle, _csv(churn_small.head(50), tmp_path), tmp_path / "scored.parquet")
    back = pd.read_parquet(out)
    assert list(back.columns) == ["customer_id", "prediction", "probability", "reason"] and len(back) == 50


def test_same_seed_gives_the_same_leaderboard(tmp_path, churn_small):
    spec = write_problem(tmp_path, churn_small.head(400), target="churned", models=["random_forest", "lightgbm"],
                         split={"cv_folds": 3}, seed=11)
    a = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    b = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=2)
    assert [(r.model, r.cv_mean) for r in a.leaderboard.rows] == [(r.model, r.cv_mean) for r in b.leaderboard.rows]
    assert a.evaluation.test_metrics == b.evaluation.test_metrics


def test_regression_and_multiclass(tmp_path):
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    spec = write_problem(tmp_path, diabetes, target="target", models=["linear", "lightgbm"], threshold=60,
                         success_metric="rmse", baseline={"method": "median"})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.problem.type == "regression" and r.evaluation.verdict.direction == "lower"
    assert r.evaluation.test_metrics["rmse"] < r.evaluation.baseline_metrics["rmse"]
    wine = load_wine(as_frame=True).frame.assign(target=lambda d: d["target"].map({0: "a", 1: "b", 2: "c"}))
    (tmp_path / "w").mkdir()
    spec = write_problem(tmp_path / "w", wine, target="target", models=["linear", "naive_bayes"])
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.problem.type == "multiclass_classification" and r.problem.success_metric == "accuracy"
    assert r.evaluation.test_metrics["accuracy"] > 0.85
    assert np.array(r.evaluation.confusion_matrix).sum() == r.evaluation.n_test
    predicted = ModelBundle.load(r.run_dir / "model").predict(wine.drop(columns="target"))
    assert set(predicted["prediction"]) <= {"a", "b", "c"}
    assert {"probability_a", "probability_b", "probability_c"} <= set(predicted.columns)


def test_refit_all_ships_the_judged_pipeline_fit_on_every_row(tmp_path):
    """split.refit: all -> the same test verdict, and a bundle whose model is that pipeline fit on train + test."""
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    runs = {}
    for refit in ("train", "all"):
        (tmp_path / refit).mkdir()
        spec = write_problem(tmp_path / refit, diabetes, target="target", models=["linear"], success_metric="rmse",
                             split={"cv_folds": 3, "refit": refit}, tuning={"n_trials": 3})
        runs[refit] = mlsmith.run(spec, runs_dir=tmp_path / refit / "runs", n_jobs=1)
    judged, shipped = runs["train"], runs["all"]
    assert shipped.evaluation.test_metrics == judged.evaluation.test_metrics
    assert shipped.tuning.best_params == judged.tuning.best_params
    bundle = ModelBundle.load(shipped.run_dir / "model")
    assert bundle.metadata["fit_on"] == "all" and bundle.metadata["n_train"] == len(diabetes)
    assert any("refit on all 442 rows" in note for note in shipped.notes)
    assert "refit on the training and test rows together" in (shipped.run_dir / "model" / "MODEL_CARD.md").read_text()
    X, y = diabetes.drop(columns="target"), diabetes["target"].to_numpy()
    expected = clone(ModelBundle.load(judged.run_dir / "model").pipeline).fit(X, y).predict(X)
    assert np.allclose(bundle.predict(X)["prediction"], expected)
    assert not np.allclose(ModelBundle.load(judged.run_dir / "model").predict(X)["prediction"], expected)


def test_missing_target_rows_are_dropped_and_said(tmp_path, churn_small):
    data = churn_small.head(300).copy()
    data.loc[data.index[:7], "churned"] = np.nan
    spec = write_problem(tmp_path, data, target="churned", models=["linear"], split={"cv_folds": 3})
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.notes == ["7 rows with a missing target were dropped before the split"]
    assert r.split.n_train + r.split.n_test == 293


def _csv(frame, folder):
    path = folder / "input.csv"
    frame.to_csv(path, index=False)
    return path


def test_run_folder_and_bundle_take_the_users_umask(churn_run):
    import os
    import stat

    result, _ = churn_run
    umask = os.umask(0)
    os.umask(umask)
    for folder in (result.run_dir, result.run_dir / "model"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o777 & ~umask


def test_a_run_reads_its_data_from_sqlite(tmp_path, churn_small):
    import sqlite3

    import yaml

    with sqlite3.connect(tmp_path / "crm.db") as conn:
        churn_small.head(400).to_sql("customers", conn, index=False)
    spec = tmp_path / "problem.yaml"
    spec.write_text(yaml.safe_dump({
        "target": "churned", "models": ["linear"], "split": {"cv_folds": 3},
        "data": {"url": "sqlite:///crm.db", "query": "SELECT * FROM customers", "id_columns": ["customer_id"]},
    }))
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    assert r.split.n_train + r.split.n_test == 400
    assert "customer_id" not in r.schema.features()


@pytest.mark.parametrize("latency_ms", [None, 500.0])
def test_the_report_is_drawn_beside_the_evaluation_but_not_while_a_latency_budget_is_timed(
        tmp_path, churn_small, monkeypatch, latency_ms):
    from mlsmith import workflow

    events = []
    started, timed = workflow.in_background, workflow.measure_latency

    def in_background(func, *calls):
        events.append(func.__name__)
        return started(func, *calls)

    def measure_latency(*args, **kwargs):
        events.append("latency")
        return timed(*args, **kwargs)

    monkeypatch.setattr(workflow, "in_background", in_background)
    monkeypatch.setattr(workflow, "measure_latency", measure_latency)
    constraints = {} if latency_ms is None else {"constraints": {"latency_ms": latency_ms}}
    spec = write_problem(tmp_path, churn_small.head(300), target="churned", models=["linear"],
                         split={"cv_folds": 3}, **constraints)
    r = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=2)
    expected = (["check_data", "render_sections", "latency", "render_sections"] if latency_ms is None else
                ["check_data", "latency", "render_sections", "render_sections"])
    assert events == expected
    assert r.evaluation.constraints["latency"]["target_ms"] == latency_ms
    assert 'id="eda"' in (r.run_dir / "report.html").read_text()


@pytest.mark.slow
def test_the_time_budget_bounds_the_whole_run_and_the_report_says_what_was_cut(tmp_path):
    # The churn example with every stage at its default: unbounded, its stages took 91 s on two busy
    # cores (tuning 25 s, features 9 s, learning curves 7 s); given 60 s, the whole run must fit.
    # Before, the budget bounded the comparison only (a 240 s budget gave a 755 s run).
    import shutil

    import yaml

    from conftest import EXAMPLES

    shutil.copy(EXAMPLES / "churn" / "churn.csv", tmp_path)
    spec = yaml.safe_load((EXAMPLES / "churn" / "problem.yaml").read_text())
    spec["constraints"]["time_budget_s"] = 60
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    result = mlsmith.run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs")
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert sum(saved["timings_s"].values()) <= 60 * 1.1
    cuts = [note for note in saved["notes"] if note.startswith("time budget: ")]
    assert cuts[0].startswith("time budget: model comparison: bounded to ")
    assert len(cuts) >= 2  # and something after it: the ablation, tuning or learning curves
    tuning = saved["tuning"]
    if tuning["timeout_s"] is not None:  # tuning ran, in its share, stopped before a trial it could not finish
        assert saved["timings_s"]["tuning"] <= tuning["timeout_s"] * 1.1 + 1
        assert any(note.startswith("time budget: tuning: bounded to ") for note in cuts)
    else:
        assert tuning["kept"].startswith("default: tuning: not run, about ")


def test_a_large_table_without_a_budget_gets_one_from_its_size_and_says_so(tmp_path, monkeypatch, capsys):
    # The threshold and floor lowered so that breast cancer's 569 x 31 counts as large: the run gets
    # a budget of 5 s + 569 x 31 / 20,000 s, prints it, notes it, and the stages are cut to fit it.
    import shutil

    import yaml

    from mlsmith import _budget

    from conftest import EXAMPLES

    monkeypatch.setattr(_budget, "DEFAULT_BUDGET_CELLS", 1_000)
    monkeypatch.setattr(_budget, "DEFAULT_BUDGET_FLOOR_S", 5.0)
    monkeypatch.setattr(_budget, "CELLS_PER_SECOND", 20_000)  # 0.9 s for the table's 17,639 cells
    shutil.copy(EXAMPLES / "breast_cancer" / "breast_cancer.csv", tmp_path)
    spec = yaml.safe_load((EXAMPLES / "breast_cancer" / "problem.yaml").read_text())
    spec["constraints"].pop("time_budget_s", None)
    spec.update(models=["linear", "random_forest"], tuning={"method": "random", "n_trials": 30})
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    said = []
    result = mlsmith.run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=1, progress=said.append)
    chosen = ("time budget: 5.9 s for the whole run, chosen from the table's size (569 rows x 31 columns) as "
              "problem.yaml sets none; set constraints.time_budget_s to change it")
    assert chosen in said and chosen in result.notes
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert any(n.startswith("time budget: ") and n != chosen for n in saved["notes"])  # something was cut
    assert saved["tuning"]["trials_done"] < 30
    # The run's summary ends with how it kept the budget, from what results.json records.
    from rich.console import Console

    from mlsmith.report import print_run

    console = Console(record=True, width=400)
    print_run(result, console)
    last = console.export_text().strip().splitlines()[-1]
    assert last.startswith(f"Time budget: the run took {saved['budget']['spent_s']:.0f} s of its 5.9 s")
