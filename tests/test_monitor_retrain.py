import json
import shutil

import pytest
import yaml
from sklearn.dummy import DummyClassifier

from mlsmith.cli import main
from mlsmith.datasets import make_churn
from mlsmith.deploy import ModelBundle
from mlsmith.exceptions import MlsmithError
from mlsmith.retraining import retrain
from mlsmith.runs import compare_runs, list_runs, show_run
from mlsmith.target import code_model

from _bundles import make_bundle


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """A champion that cannot rank (a prior-only dummy) retrained on new data, with --promote."""
    folder = tmp_path_factory.mktemp("retrain")
    old, new = make_churn(n_rows=600, seed=3), make_churn(n_rows=600, seed=4)
    old.to_csv(folder / "old.csv", index=False)
    new.to_csv(folder / "new.csv", index=False)
    spec = {"name": "churn retrain", "target": "churned", "positive_class": 1, "success_metric": "roc_auc",
            "data": {"path": "old.csv", "id_columns": ["customer_id"], "drop": ["signup_date", "last_login"]}, "split": {"test_size": 0.3, "cv_folds": 3},
            "models": ["naive_bayes"], "seed": 5}
    (folder / "problem.yaml").write_text(yaml.safe_dump(spec))
    champion = make_bundle(folder / "champion", old, family="dummy")
    assert isinstance(code_model(ModelBundle.load(champion).pipeline)[0].named_steps["model"], DummyClassifier)
    result = retrain(folder / "problem.yaml", champion, folder / "new.csv", runs_dir=folder / "runs", promote=True,
                     n_boot=300, n_jobs=1)
    return folder, champion, result


def test_the_challenger_is_promoted_when_better_beyond_noise(retrained):
    folder, champion, result = retrained
    assert result.metric == "roc_auc" and result.champion_value == pytest.approx(0.5)
    assert result.promoted and result.ci[0] > 0 and result.gain == pytest.approx(result.challenger_value - 0.5)
    run = json.loads((folder / "runs" / result.challenger_run.split("/")[-1] / "results.json").read_text())
    assert result.n_holdout == run["split"]["n_test"] == round(0.3 * len(make_churn(n_rows=600, seed=4)))
    # --promote put the challenger's bundle in the champion's folder and kept the old one beside it
    assert ModelBundle.load(champion).metadata["model"] == "naive_bayes"
    assert len(list(folder.glob("champion.replaced-*"))) == 1
    recorded = json.loads((folder / "runs" / result.challenger_run.split("/")[-1] / "retrain.json").read_text())
    assert recorded["promoted"] is True and recorded["ci"] == pytest.approx(result.ci)


def test_every_run_is_indexed_and_runs_can_be_shown_and_compared(retrained, capsys):
    folder, _, result = retrained
    runs = folder / "runs"
    assert (runs / "index.db").is_file()
    rows = list_runs(runs)
    assert [r["id"] for r in rows] == [result.challenger_run.split("/")[-1]]
    first = rows[0]["id"]
    # a run folder the index does not know (copied in) is picked up on the next read
    copy = runs / "20990101-000000-copied"
    shutil.copytree(runs / first, copy)
    results = json.loads((copy / "results.json").read_text())
    results["evaluation"]["test_metrics"]["roc_auc"] = 0.5
    results["bundle"]["data_fingerprint"] = "0" * 64
    (copy / "results.json").write_text(json.dumps(results))
    assert [r["id"] for r in list_runs(runs)] == [copy.name, first]
    shown = show_run(runs, first[:15])
    assert shown["retrain"]["promoted"] and shown["metrics"]["roc_auc"] == pytest.approx(result.challenger_value)
    assert shown["params"]["model"] == "naive_bayes"
    comparison = compare_runs(runs, first, copy.name)
    roc = next(m for m in comparison.metrics if m["metric"] == "roc_auc")
    assert roc["minus_first"][1] == pytest.approx(0.5 - result.challenger_value)
    assert not comparison.same_data
    with pytest.raises(MlsmithError, match="run id '2099' matches no run|run id '1999' matches no run"):
        show_run(runs, "1999")
    capsys.readouterr()
    main(["runs", "compare", first, copy.name, "--runs-dir", str(runs)])
    out = capsys.readouterr().out
    assert "different data" in out and "roc_auc" in out
    main(["runs", "list", "--runs-dir", str(runs)])
    assert "2 run(s)" in capsys.readouterr().out
    main(["runs", "show", first, "--runs-dir", str(runs)])
    assert "retrain decision: challenger promoted" in capsys.readouterr().out
    main(["runs", "list", "--runs-dir", str(runs), "--json", "-"])
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [copy.name, first] and listed[1]["status"] == shown["status"]
    main(["runs", "show", first, "--runs-dir", str(runs), "--json", str(folder / "show.json")])
    assert json.loads((folder / "show.json").read_text())["params"]["model"] == "naive_bayes"
    out = capsys.readouterr().out  # the run as without --json, then where the JSON went (as quality and eda do)
    assert "naive_bayes" in out and out.endswith(f"wrote {folder / 'show.json'}\n")
    main(["runs", "compare", first, copy.name, "--runs-dir", str(runs), "--json", "-"])
    assert json.loads(capsys.readouterr().out)["same_data"] is False
    # any number of runs, and a page: three here (a run may be compared with itself)
    main(["runs", "compare", first, copy.name, first, "--runs-dir", str(runs), "--html", str(folder / "cmp.html")])
    out = capsys.readouterr().out
    assert f"C = {first}" in out and "different data" in out
    page = (folder / "cmp.html").read_text()
    assert page.count(f"<code>{first}</code>") == 2 and "3 runs compared" in page
    assert f"{0.5 - result.challenger_value:+.4f}" in page
    with pytest.raises(MlsmithError, match=r"comparing needs two runs or more; got 1"):
        compare_runs(runs, first)


def test_the_challenger_is_judged_on_the_rows_and_model_of_its_own_verdict(retrained):
    # The run scores the champion in its one read of the sealed test split: the challenger's value in
    # the decision is the verdict's test score (the model fit on the training rows), not a second read.
    folder, _, result = retrained
    run = json.loads((folder / "runs" / result.challenger_run.split("/")[-1] / "results.json").read_text())
    assert result.challenger_value == pytest.approx(run["evaluation"]["test_metrics"]["roc_auc"])
    assert "held_out_outputs" not in run


def test_retrain_takes_a_polars_frame_and_decides_as_on_the_file(retrained, tmp_path):
    pl = pytest.importorskip("polars")
    folder, _, on_file = retrained
    champion = make_bundle(tmp_path / "champion", make_churn(n_rows=600, seed=3), family="dummy")
    new = pl.read_csv(folder / "new.csv")
    result = retrain(folder / "problem.yaml", champion, new, runs_dir=tmp_path / "runs", n_boot=300, n_jobs=1)
    assert (result.n_holdout, result.champion_value) == (on_file.n_holdout, pytest.approx(0.5))
    assert result.challenger_value == pytest.approx(on_file.challenger_value)
    assert result.ci == pytest.approx(on_file.ci) and result.promoted and not result.applied
    assert ModelBundle.load(champion).metadata["model"] == "dummy"  # no --promote: the champion stays


def test_a_champion_of_another_problem_is_refused_before_any_model_is_fitted(retrained, tmp_path, capsys):
    folder, _, _ = retrained
    old = make_churn(n_rows=600, seed=3)
    champion = make_bundle(tmp_path / "champion", old, family="dummy")
    new = make_churn(n_rows=600, seed=4)
    new["churned"] = new["churned"].map({0: "stayed", 1: "left"})  # the same table, labelled as text
    new.to_csv(tmp_path / "new.csv", index=False)
    spec = {**yaml.safe_load((folder / "problem.yaml").read_text()), "positive_class": "left"}
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    shutil.copy(folder / "new.csv", tmp_path / "old.csv")
    with pytest.raises(SystemExit) as stop:
        main(["retrain", str(tmp_path / "problem.yaml"), "--champion", str(champion), "--data", str(tmp_path / "new.csv"),
              "--runs-dir", str(tmp_path / "runs"), "--jobs", "1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "predicts binary_classification with classes [0, 1]" in err and "['stayed', 'left']" in err
    assert "Traceback" not in err and not any((tmp_path / "runs").glob("*/results.json"))
