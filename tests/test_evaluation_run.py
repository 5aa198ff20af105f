"""The evaluation inside a whole run: the threshold never sees the test split; bundle, CLI and report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlsmith import ModelBundle, run
from mlsmith.cli import main
from mlsmith.evaluation import choose_threshold
from mlsmith.problem import load_problem
from mlsmith.split import HeldOutTest, split_train_test

DEFAULT_CSV = Path(__file__).parent / "data" / "Default.csv"
SPEC = {
    "name": "Default",
    "type": "binary_classification",
    "target": "default",
    "positive_class": "Yes",
    "success_metric": "recall",
    "threshold": 0.8,
    "secondary_metrics": ["precision"],
    "baseline": {"rule": "balance > 1500"},
    "constraints": {"latency_ms": 1000, "interpretability": "high"},
    "fairness": {"sensitive_columns": ["student"]},
    "models": ["naive_bayes"],
    "split": {"test_size": 0.3, "cv_folds": 3},
    "seed": 7,
}


def _write(folder: Path, data: pd.DataFrame) -> Path:
    data.to_csv(folder / "data.csv", index=False)
    path = folder / "problem.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "data": {"path": "data.csv"}}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def default_small() -> pd.DataFrame:
    data = pd.read_csv(DEFAULT_CSV)
    # every positive and a sample of the negatives: ~1,300 rows, 25% positives, fast to fit
    return pd.concat([data[data["default"] == "Yes"], data[data["default"] == "No"].sample(1000, random_state=0)]
                     ).sort_index().reset_index(drop=True)


@pytest.fixture(scope="module")
def counted_run(tmp_path_factory, default_small):
    """One run, counting how often the sealed test split is read."""
    folder = tmp_path_factory.mktemp("run")
    reads = []
    original = HeldOutTest.read

    def counting_read(self):
        reads.append(self.n_rows)
        return original(self)

    mp = pytest.MonkeyPatch()
    mp.setattr(HeldOutTest, "read", counting_read)
    try:
        result = run(_write(folder, default_small), runs_dir=folder / "runs", n_jobs=1)
    finally:
        mp.undo()
    return result, reads, folder


def test_test_split_read_exactly_once(counted_run):
    result, reads, _ = counted_run
    assert reads == [result.split.n_test]


def test_threshold_unchanged_when_test_rows_are_scrambled(counted_run, default_small, tmp_path):
    result, _, _ = counted_run
    problem = load_problem(_write(tmp_path, default_small))
    test_index = split_train_test(default_small, problem.resolve(default_small["default"]))[1].peek_index()
    scrambled = default_small.copy()
    rng = np.random.default_rng(0)
    # the test rows' features become noise; the target (which stratifies the split) is kept
    scrambled.loc[test_index, "balance"] = rng.uniform(0, 3000, len(test_index))
    scrambled.loc[test_index, "income"] = rng.uniform(0, 80000, len(test_index))
    scrambled.loc[test_index, "student"] = rng.choice(["Yes", "No"], len(test_index))
    other = run(_write(tmp_path, scrambled), runs_dir=tmp_path / "runs", n_jobs=1)
    ev, ev2 = result.evaluation, other.evaluation
    assert ev2.decision_threshold == ev.decision_threshold
    assert ev2.cv_metrics == ev.cv_metrics
    # ... while the test scores did change: the scrambled rows were really scored
    assert ev2.test_metrics["roc_auc"] < ev.test_metrics["roc_auc"] - 0.2


def test_threshold_is_the_out_of_fold_choice(counted_run):
    ev = counted_run[0].evaluation
    assert ev.threshold_reason == "highest out-of-fold precision with recall >= 0.8"
    assert 0 < ev.decision_threshold < 0.5  # rare positives: the recall target pushes it below 0.5
    # the CV recall at that threshold reaches the target out of fold (the test split may differ)
    assert ev.cv_metrics["recall"] >= 0.8 - 2 * ev.cv_std["recall"]


def test_bundle_saves_and_applies_the_threshold(counted_run, default_small):
    result, _, _ = counted_run
    bundle = ModelBundle.load(result.bundle["path"])
    assert bundle.threshold == result.evaluation.decision_threshold
    scored = bundle.predict(default_small.head(200))
    expected = np.where(scored["probability"] >= bundle.threshold, "Yes", "No")
    assert (scored["prediction"].to_numpy() == expected).all()
    assert (scored["prediction"] == "Yes").sum() > (scored["probability"] >= 0.5).sum()


def test_results_json_holds_the_verdict_and_the_numbers_behind_the_figures(counted_run):
    result, _, _ = counted_run
    data = json.loads((result.run_dir / "results.json").read_text())["evaluation"]
    v = data["verdict"]
    assert v["status"] in ("met", "not met", "inconclusive")
    lo, hi = v["interval"]
    assert lo <= v["value"] <= hi
    assert v["tradeoff"]["precision"] == data["test_metrics"]["precision"]
    assert v["tradeoff_interval"][0] <= v["tradeoff"]["precision"] <= v["tradeoff_interval"][1]
    assert data["curves"]["roc"]["auc"] == pytest.approx(data["test_metrics"]["roc_auc"])
    assert len(data["curves"]["roc"]["fpr"]) == len(data["curves"]["roc"]["tpr"]) <= 200
    assert [b["name"] for b in data["baselines"]] == ["spec", "dummy"]
    assert data["baselines"][1]["metrics"]["recall"] == 0.0  # the majority class is "No"
    lat = data["constraints"]["latency"]
    assert lat["p50_ms"] <= lat["p95_ms"] <= lat["p99_ms"] and lat["met"] == (lat["p99_ms"] <= 1000)
    imp = data["constraints"]["explanations"]["permutation_importance"]
    assert imp[0]["feature"] == "balance"  # the column that drives default in ISLP's data
    groups = {g["group"]: g for g in data["fairness"]["student"]["groups"]}
    assert set(groups) == {"Yes", "No"} and sum(g["n"] for g in groups.values()) == data["n_test"]


def test_report_puts_the_verdict_first(counted_run):
    result, _, _ = counted_run
    page = (result.run_dir / "report.html").read_text()
    assert page.index('class="headline"') < page.index('id="problem"') < page.index('id="evaluation"')
    assert "Scores side by side" in page and "Fairness across groups" in page and "data:image/png;base64" in page
    fragment = result.evaluation._repr_html_()
    assert "Scores side by side" in fragment and "<style>" in fragment and "<html" not in fragment


def test_cli_predict_explain(counted_run, default_small, capsys):
    result, _, folder = counted_run
    rows = default_small.head(5)
    rows.to_csv(folder / "new.csv", index=False)
    main(["predict", result.bundle["path"], str(folder / "new.csv"), "-o", str(folder / "out.csv"), "--explain"])
    assert "wrote" in capsys.readouterr().out
    out = pd.read_csv(folder / "out.csv")
    assert {"contribution_balance", "contribution_income", "contribution_student", "top_reasons"} <= set(out.columns)
    # the contribution of balance is the change in probability when balance goes to the training median
    bundle = ModelBundle.load(result.bundle["path"])
    swapped = rows.assign(balance=bundle.metadata["explanation_reference"]["balance"])
    expected = bundle.predict(rows)["probability"] - bundle.predict(swapped)["probability"]
    np.testing.assert_allclose(out["contribution_balance"], expected.to_numpy(), atol=1e-9)


def test_choose_threshold_never_reads_beyond_its_inputs():
    # the threshold is a function of (training labels, out-of-fold probabilities) only
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.uniform(0, 0.7, 300), 0, 1)
    assert choose_threshold(y, p, "recall", 0.8) == choose_threshold(y.copy(), p.copy(), "recall", 0.8)
