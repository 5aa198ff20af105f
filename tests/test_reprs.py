"""Notebook display: every public result object renders itself as HTML through the report's templates.

Each test computes the result on real data (scikit-learn's breast cancer table), checks that the
HTML shows the computed figures, and that text which reaches the page (a name, a note) is escaped.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import yaml
from markupsafe import escape
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold

from mlsmith import CVSetup, run
from mlsmith.data import infer_schema
from mlsmith.deploy import ModelBundle, save_bundle
from mlsmith.evaluation import scores_for
from mlsmith.guards import Finding
from mlsmith.pipeline import build_pipeline
from mlsmith.problem import parse_problem
from mlsmith.recommender import recommend
from mlsmith.report._html import fmt
from mlsmith.retraining import RetrainResult
from mlsmith.selection import compare_models
from mlsmith.tuning import learning_curves, tune

from conftest import EXAMPLES

TASK = "binary_classification"
#: A name as a user could give it (a column, a model, a problem), that must reach the page as text.
HOSTILE = '<script>alert("x")</script> & \'q\''


def escaped(page: str) -> bool:
    """The hostile name shows as text: escaped once, never as markup."""
    return "<script>" not in page and str(escape(HOSTILE)) in page


@pytest.fixture(scope="module")
def cancer():
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    schema = infer_schema(frame, "target")
    X, y = frame[schema.features()], frame["target"].to_numpy()
    return X, y, schema, StratifiedKFold(3, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def leaderboard(cancer):
    X, y, schema, cv = cancer
    setup = CVSetup(X=X, y=y, schema=schema, task=TASK, metric="roc_auc", cv=cv, seed=0, n_jobs=1)
    return compare_models(setup, models=["linear", "naive_bayes"])


def test_leaderboard_shows_every_family_score_and_escapes_names(leaderboard):
    page = leaderboard._repr_html_()
    best = leaderboard.best
    assert best.model == "linear" and best.cv_mean > 0.98
    for row in leaderboard.rows:
        assert f"<td>{row.label}</td><td>{fmt(row.selection_score)}</td><td>{fmt(row.cv_mean)}</td>" in page
    assert "Which algorithm to try first" in page and "<style>" in page and "<html" not in page
    leaderboard.rows[0].label = HOSTILE
    assert escaped(leaderboard._repr_html_())


def test_recommendation_shows_the_profile_and_each_family(cancer):
    X, _, schema, _ = cancer
    rec = recommend(schema, len(X), TASK, interpretability="high")
    page = rec._repr_html_()
    assert f"{len(X)} training rows, {len(schema.features())} columns" in page
    assert all(a.label in page for a in rec.advice) and rec.skipped
    rec.advice[0].reason = HOSTILE
    assert escaped(rec._repr_html_())


def test_tuning_result_and_learning_curve_show_their_scores(cancer):
    X, y, schema, cv = cancer
    setup = CVSetup(X=X, y=y, schema=schema, task=TASK, metric="roc_auc", cv=cv, seed=0, n_jobs=1)
    pipe = build_pipeline("linear", schema, TASK, 0)
    _, result = tune(pipe, "linear", setup, method="random", n_trials=3)
    page = result._repr_html_()
    assert result.trials_done == 3
    assert f"<td>best trial</td><td>{fmt(result.best_score)}</td>" in page
    assert all(f"<td>{fmt(t['score'])}</td>" in page for t in result.trials)

    curve = learning_curves(pipe, setup, reference=0.5, n_sizes=3)
    page = curve._repr_html_()
    assert curve.diagnosis.capitalize() in page and curve.fix in page
    assert 'src="data:image/png;base64,' in page and "<style>" in page
    curve.explanation = HOSTILE
    assert escaped(curve._repr_html_())

    result = replace(result, learning_curve=curve, model=HOSTILE)  # as the run reports it, with the curves
    page = result._repr_html_()
    assert "Learning curves" in page and escaped(page)


def test_bundle_shows_its_test_metrics_threshold_and_onnx_state(cancer, tmp_path):
    X, y, schema, _ = cancer
    train, test = np.arange(len(X)) % 4 != 0, np.arange(len(X)) % 4 == 0
    pipe = build_pipeline("linear", schema, TASK, 0).fit(X[train], y[train])
    proba = pipe.predict_proba(X[test])[:, 1]
    metrics = scores_for(TASK, y[test], (proba >= 0.4).astype(int), proba)
    metadata = {"task": TASK, "target": "target", "classes": ["malignant", "benign"], "decision_threshold": 0.4,
                "success_metric": "recall", "test_metrics": metrics, "model": HOSTILE, "seed": 7,
                "n_train": int(train.sum())}
    onnx = {"converted": False, "reason": "no converter for <Custom>"}
    path = save_bundle(tmp_path / "model", pipe, schema, metadata, extra_files={"onnx.json": json.dumps(onnx)})
    bundle = ModelBundle.load(path)
    page = bundle._repr_html_()
    assert f"<td>recall</td><td>{fmt(metrics['recall'])}</td>" in page
    assert f"<td>roc_auc</td><td>{fmt(metrics['roc_auc'])}</td>" in page
    assert f"decision threshold {fmt(0.4)}" in page and f"version <code>{bundle.version}</code>" in page
    assert f"fitted on {int(train.sum())} rows" in page and "seed 7" in page
    assert "none — no converter for &lt;Custom&gt;" in page and f"mlsmith serve {path}" in page
    assert escaped(page)
    unsaved = ModelBundle(None, pipe, schema, metadata)._repr_html_()
    assert "Not saved yet" in unsaved and "mlsmith serve" not in unsaved


def test_problem_finding_verdict_and_retrain_render(tmp_path):
    problem = parse_problem({"name": HOSTILE, "decision": HOSTILE, "target": "target", "type": TASK,
                             "success_metric": "recall", "threshold": 0.9, "data": {"path": "x.csv"}}, tmp_path)
    page = problem._repr_html_()
    assert "binary classification" in page and "recall — target 0.9" in page
    assert escaped(page)

    finding = Finding("leakage", "error", HOSTILE, {"column": "worst_radius", "auc": 0.987654}, fix="drop it")
    page = finding._repr_html_()
    assert "ERROR · leakage" in page and "auc = 0.9877" in page and escaped(page)

    from mlsmith.evaluation._uncertainty import Verdict

    verdict = Verdict(metric="recall", value=0.9123, threshold=0.9, direction="higher", met=True, margin=0.0123,
                      baseline_value=0.8, beats_baseline=True, improvement=0.14, interval=(0.85, 0.96),
                      status="inconclusive", baseline=HOSTILE, baseline_status="met")
    page = verdict._repr_html_()
    assert "0.912" in page and "95% CI 0.850–0.960" in page and "inconclusive" in page and escaped(page)

    retrain = RetrainResult(champion="runs/a/model", challenger=HOSTILE, challenger_run="runs/b", metric="roc_auc",
                            greater_is_better=True, holdout="the new data's last 20%", n_holdout=114,
                            champion_value=0.9712, challenger_value=0.9855, gain=0.0143, ci=[0.002, 0.027],
                            level=0.95, p_value=0.012, n_boot=1000, promoted=True, applied=False,
                            decision="promote the challenger", created="2026-12-05T00:00:00+00:00")
    page = retrain._repr_html_()
    assert "<td>champion</td><td>0.9712</td>" in page and "<td>challenger</td><td>0.9855</td>" in page
    assert "95% CI 0.0020 to 0.0270, p = 0.012" in page and "114 rows" in page and escaped(page)


def test_run_report_unchanged_by_the_partials(leaderboard):
    """The selection and tuning sections include the partials the notebook display renders alone."""
    from mlsmith.report._html import render_sections

    board = leaderboard.to_dict()
    rows, meta = board["rows"], {k: v for k, v in board.items() if k != "rows"}
    page = render_sections({"leaderboard": rows, "leaderboard_meta": meta}, ["leaderboard"])["leaderboard"].html
    assert page.count("Which algorithm to try first") == 1 and page.startswith('<section id="selection">')


def test_leaderboard_tuning_curve_and_bundle_render_their_numbers_escaped(tmp_path):
    spec = yaml.safe_load((EXAMPLES / "breast_cancer" / "problem.yaml").read_text())
    spec.update(models=["linear", "naive_bayes"], tuning={"method": "random", "n_trials": 2}, constraints={})
    spec["data"]["path"] = str(EXAMPLES / "breast_cancer" / "breast_cancer.csv")
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    runs = tmp_path / "<b>runs & co</b>"  # a folder name that is HTML
    result = run(tmp_path / "problem.yaml", runs_dir=runs, n_jobs=1)

    board = result.leaderboard._repr_html_()
    best = result.leaderboard.best
    assert best.label in board and fmt(best.cv_mean) in board and "naive" in board.lower()

    tuning = result.tuning._repr_html_()
    assert fmt(result.tuning.best_score) in tuning
    curve = result.tuning.learning_curve
    assert curve is not None and curve.diagnosis in curve._repr_html_() and "<img" in curve._repr_html_()

    bundle = ModelBundle.load(result.run_dir / "model")._repr_html_()
    assert "seed 42" in bundle and result.bundle["model"] in bundle
    assert "&lt;b&gt;runs &amp; co&lt;/b&gt;" in bundle and "<b>runs" not in bundle


def test_the_selection_section_states_the_budget_and_each_familys_share(leaderboard):
    from mlsmith.report._html import render_sections

    board = leaderboard.to_dict()
    rows, meta = board["rows"], {k: v for k, v in board.items() if k != "rows"}
    said = {}
    for key, budget in {"share": {"time_budget_s": 189.0, "family_share_s": 21.0, "elapsed_s": 128.4},
                        "own": {"time_budget_s": 189.0, "family_budget_s": 30.0, "elapsed_s": 128.4},
                        "none": {"time_budget_s": None, "elapsed_s": 12.0}}.items():
        html = render_sections({"leaderboard": rows, "leaderboard_meta": {**meta, "budget": budget}},
                               ["leaderboard"])["leaderboard"].html
        said[key] = html[html.index("Time budget:"):html.index("spent.")]
    assert said["share"] == "Time budget: 189 s for the comparison, 21.0 s per family on the first rows compared " \
                            "(an equal share); 128.4 s "
    assert said["own"] == "Time budget: 189 s for the comparison, 30 s per family; 128.4 s "
    assert said["none"] == "Time budget: none for the comparison, none per family; 12.0 s "
