"""The command line's conventions: --version, environment variables, -q/-v, the verdict in the run index."""

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from rich.console import Console
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlsmith
from mlsmith.exceptions import MlsmithError
from mlsmith.report._monitor_terminal import print_runs, verdict_status

from conftest import EXAMPLES, run_cli

SRC = Path(__file__).resolve().parents[1] / "src"


def test_version_prints_the_package_version(capsys):
    assert run_cli("--version") == 0
    assert capsys.readouterr().out.strip() == f"mlsmith {mlsmith.__version__}"


def test_version_as_a_program_imports_no_model_library(tmp_path):
    # stopping CV workers at exit imported joblib (and numpy) when none had been started: 1.3 s -> 0.75 s
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mlsmith", "--version"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(SRC)}, timeout=120)
    assert done.returncode == 0 and done.stdout == f"mlsmith {mlsmith.__version__}\n"
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "mlsmith.cli" in imported and not imported & {"joblib", "numpy", "sklearn", "pandas"}


def test_options_without_a_command_show_the_help_and_exit_2(capsys):
    assert run_cli("-q") == 2
    assert "Commands" in capsys.readouterr().out


def test_the_runs_folder_comes_from_the_environment_and_a_flag_wins(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLSMITH_RUNS_DIR", str(tmp_path / "from-env"))
    assert run_cli("runs", "list") == 2
    assert f"runs folder '{tmp_path / 'from-env'}' does not exist" in capsys.readouterr().err
    assert run_cli("runs", "list", "--runs-dir", str(tmp_path / "from-flag")) == 2
    assert f"'{tmp_path / 'from-flag'}'" in capsys.readouterr().err


def _fake_run(seen):
    def run(problem, runs_dir, strict, n_jobs, progress, cluster):
        seen.update(n_jobs=n_jobs, runs_dir=str(runs_dir))
        logging.getLogger("mlsmith.workflow").info("1/7 problem definition: loading data")
        logging.getLogger("mlsmith.workflow").debug("problem took 0.01 s")
        raise MlsmithError("stopped by the test")
    return run


def test_jobs_come_from_the_environment_and_the_flag_wins(tmp_path, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr("mlsmith.workflow.run", _fake_run(seen))
    monkeypatch.setenv("MLSMITH_JOBS", "3")
    monkeypatch.setenv("MLSMITH_RUNS_DIR", str(tmp_path / "r"))
    assert run_cli("run", str(tmp_path / "problem.yaml")) == 2
    assert seen == {"n_jobs": 3, "runs_dir": str(tmp_path / "r")}
    assert run_cli("run", str(tmp_path / "problem.yaml"), "--jobs", "1") == 2
    assert seen["n_jobs"] == 1
    monkeypatch.setenv("MLSMITH_JOBS", "many")
    assert run_cli("run", str(tmp_path / "problem.yaml")) == 2
    assert "MLSMITH_JOBS" in capsys.readouterr().err


@pytest.mark.parametrize("flags, info, debug", [([], True, False), (["-q"], False, False), (["-v"], True, True)])
def test_quiet_and_verbose_set_what_the_library_logs(tmp_path, monkeypatch, capsys, flags, info, debug):
    monkeypatch.setattr("mlsmith.workflow.run", _fake_run({}))
    assert run_cli(*flags, "run", str(tmp_path / "problem.yaml")) == 2
    out, err = capsys.readouterr()
    # off a terminal, each progress step is a plain line on stdout with the time since the start
    assert ("s] 1/7 problem definition: loading data" in out) is info
    assert ("problem took 0.01 s" in out) is debug
    assert err == "Error: stopped by the test\n"  # stderr: the error alone
    assert not [h for h in logging.getLogger("mlsmith").handlers if getattr(h, "_mlsmith_cli", False)]  # taken off


def test_the_index_shows_the_verdicts_status_not_the_point_estimate():
    rows = [{"id": "20260101-000000-a", "task": "binary_classification", "model": "linear", "metric": "recall",
             "value": 0.93, "met": True, "status": "inconclusive", "data_fingerprint": "ab" * 8},
            {"id": "20250101-000000-b", "task": "regression", "model": "lightgbm", "metric": "r2", "value": 0.5,
             "met": True, "status": None, "data_fingerprint": "cd" * 8}]  # indexed before the status was stored
    console = Console(record=True, width=200)
    print_runs(rows, console)
    text = console.export_text()
    assert "INCONCLUSIVE" in text and "MET ?" in text and " yes " not in text
    assert verdict_status({"status": "invalid", "met": True}) == "INVALID"
    assert verdict_status({"status": None, "met": None}) == "—"


# On real runs: --json on every reporting command, the run index's verdicts, runs compare -------------

#: a name a page must escape: markup, both quotes, an ampersand and non-ASCII
ODD_NAME = """<b>Diabète "progression" & 'co'</b> ✓"""


def _cheap(folder: Path, name: str, **spec) -> Path:
    """A diabetes problem with few models, 3 folds and no tuning (the run takes seconds)."""
    shutil.copy(EXAMPLES / "diabetes" / "diabetes.csv", folder / "diabetes.csv")
    base = {"name": name, "type": "regression", "target": "target", "success_metric": "rmse", "threshold": 60,
            "secondary_metrics": ["mae", "r2"], "data": {"path": "diabetes.csv"}, "split": {"cv_folds": 3},
            "models": ["linear", "knn"], "tuning": {"method": "none", "learning_curve": False}, "seed": 42}
    path = folder / f"{len(list(folder.glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump({**base, **spec}, allow_unicode=True))
    return path


def _in_process(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured (a module fixture has no capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(*argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run A through the program with ``-v run --json -`` (stdout must be the JSON alone, the CV workers'
    output included), run B in process with ``-q`` (its spec differs in six keys and has an odd name)."""
    folder = tmp_path_factory.mktemp("conventions")
    runs = folder / "runs"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MLSMITH_RUNS_DIR": str(runs)}
    a = subprocess.run([sys.executable, "-m", "mlsmith", "-v", "run", str(_cheap(folder, "Diabetes progression")),
                        "--jobs", "1", "--json", "-"], capture_output=True, text=True, env=env, timeout=600)
    assert a.returncode == 0, a.stderr
    b = _in_process(["-q", "run", str(_cheap(folder, ODD_NAME, threshold=55, seed=7, split={"cv_folds": 4},
                                             models=["linear", "decision_tree"], data={"path": "diabetes.csv",
                                                                                       "drop": ["sex"]})),
                     "--runs-dir", str(runs), "--jobs", "1"])
    assert b[0] == 0, b[2]
    return folder, runs, a, b


@pytest.mark.slow
def test_run_json_on_stdout_is_the_summary_alone_and_progress_goes_to_stderr(two_runs):
    _folder, runs, a, _b = two_runs
    summary = json.loads(a.stdout)  # the whole of stdout is one JSON document
    run_dir = Path(summary["path"])
    assert run_dir.parent == runs and run_dir.name == summary["run_id"]  # MLSMITH_RUNS_DIR was the runs folder
    results = json.loads(Path(summary["results"]).read_text())
    assert summary["verdict"] == results["evaluation"]["verdict"]
    assert summary["test_metrics"] == results["evaluation"]["test_metrics"]
    assert [r["model"] for r in summary["leaderboard"]] == [r["model"] for r in results["leaderboard"]]
    assert summary["model"] == results["bundle"]["model"] and Path(summary["bundle"]).is_dir()
    assert summary["mlflow_run"] is None and Path(summary["report"]).is_file()
    # -v: each stage's progress line and its debug timing, all on stderr
    assert "1/7 problem definition: loading data" in a.stderr and "problem took" in a.stderr
    assert "Error" not in a.stderr


@pytest.mark.slow
def test_run_prints_the_path_last_and_quiet_drops_the_progress_lines(two_runs):
    _folder, runs, _a, (_code, out, err) = two_runs
    last = out.strip().splitlines()[-1]
    assert Path(last).parent == runs and (Path(last) / "results.json").is_file()
    assert "Leaderboard" in out and "Verdict" in out  # the results still show
    assert "1/7" not in out and err == ""


@pytest.mark.slow
def test_runs_list_and_show_give_the_verdicts_status(two_runs):
    _folder, runs, a, _b = two_runs
    code, out, err = _in_process(["runs", "list", "--runs-dir", str(runs), "--json", "-"])
    listed = json.loads(out)
    assert code == 0 and err == "" and len(listed) == 2
    for row in listed:
        verdict = json.loads((Path(row["path"]) / "results.json").read_text())["evaluation"]["verdict"]
        assert row["status"] == verdict["status"] and row["met"] is verdict["met"]
    run_a = json.loads(a.stdout)["run_id"]
    code, out, _ = _in_process(["runs", "show", run_a[:15], "--runs-dir", str(runs), "--json", "-"])
    shown = json.loads(out)
    assert shown["id"] == run_a and shown["status"] == json.loads(a.stdout)["verdict"]["status"]
    assert shown["metrics"]["rmse"] == pytest.approx(json.loads(a.stdout)["test_metrics"]["rmse"])
    code, out, _ = _in_process(["runs", "list", "--runs-dir", str(runs)])
    statuses = {row["status"].upper() for row in listed}
    assert code == 0 and all(status in out for status in statuses) and " yes " not in out


@pytest.mark.slow
def test_an_index_from_before_the_status_still_lists(two_runs, tmp_path):
    _folder, runs, _a, _b = two_runs
    old = tmp_path / "runs"
    shutil.copytree(runs, old)
    # the index as it was before the verdict's status was stored: no 'status' column
    with contextlib.closing(sqlite3.connect(old / "index.db")) as conn, conn:
        conn.execute("ALTER TABLE runs DROP COLUMN status")
    code, out, err = _in_process(["runs", "list", "--runs-dir", str(old), "--json", "-"])
    listed = json.loads(out)
    assert code == 0 and [r["status"] for r in listed] == [None, None]
    code, out, _ = _in_process(["runs", "list", "--runs-dir", str(old)])
    assert out.count("MET ?") == 2  # the point estimate's side (MET or NOT MET), marked as not the verdict
    code, out, _ = _in_process(["runs", "show", listed[0]["id"], "--runs-dir", str(old)])
    assert code == 0 and re.search(r"verdict: (NOT )?MET \?\n", out)


@pytest.mark.slow
def test_runs_compare_any_number_of_runs_as_json_and_one_escaped_page(two_runs):
    folder, runs, a, _b = two_runs
    ids = [row["id"] for row in json.loads(_in_process(["runs", "list", "--runs-dir", str(runs), "--json", "-"])[1])]
    run_a = json.loads(a.stdout)["run_id"]
    run_b = next(i for i in ids if i != run_a)
    page = folder / "compare.html"
    code, out, err = _in_process(["runs", "compare", run_a, run_b, run_a, "--runs-dir", str(runs), "--json", "-",
                                  "--html", str(page)])
    assert code == 0 and err == f"wrote {page}\n"  # stdout holds the JSON alone
    data = json.loads(out)
    assert [r["id"] for r in data["runs"]] == [run_a, run_b, run_a] and not data["same_data"]
    differs = {row["key"]: row["values"] for row in data["spec"]}
    assert set(differs) == {"name", "threshold", "seed", "split.cv_folds", "models", "data.drop"}
    assert differs["split.cv_folds"] == [3, 4, 3] and differs["data.drop"] == [[], ["sex"], []]
    assert [[r["model"] for r in board["rows"]] for board in data["leaderboards"]][0] == \
        [r["model"] for r in json.loads(a.stdout)["leaderboard"]]
    assert {r["model"] for r in data["leaderboards"][1]["rows"]} == {"linear", "decision_tree", "dummy"}
    html = page.read_text(encoding="utf-8")
    assert ODD_NAME not in html and "<b>Diab" not in html
    assert "&lt;b&gt;Diabète &#34;progression&#34; &amp; &#39;co&#39;&lt;/b&gt; ✓" in html
    assert "3 runs compared" in html and "decision_tree" in html and "split.cv_folds" in html
    for run in data["runs"]:
        assert run["status"].upper() in html and run["data_fingerprint"][:16] in html
    # the terminal table: the same keys and leaderboards
    code, out, _ = _in_process(["runs", "compare", run_a, run_b, "--runs-dir", str(runs)])
    assert code == 0 and "split.cv_folds" in out and "decision_tree" in out and "different data" in out


@pytest.mark.slow
def test_a_run_whose_folder_is_gone_still_compares_from_the_index(two_runs, tmp_path):
    _folder, runs, a, _b = two_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    run_a = json.loads(a.stdout)["run_id"]
    run_b = next(p.name for p in copy.iterdir() if p.is_dir() and p.name != run_a)
    (copy / run_b / "results.json").unlink()  # the index still holds B's row
    code, out, err = _in_process(["runs", "compare", run_a, run_b, "--runs-dir", str(copy), "--json", "-"])
    data = json.loads(out)
    assert code == 0 and data["leaderboards"][1] is None and data["leaderboards"][0]["rows"]
    assert data["spec"] == [] and data["runs"][1]["status"] is not None  # B's spec is unknown, not different


@pytest.mark.slow
@pytest.mark.parametrize("argv, message", [
    (["runs", "compare", "2026"], r"^Error: comparing needs two runs or more; got 1 \(2026\)"),
    (["runs", "compare", "1999", "2026"], r"^Error: run id '1999' matches no run in "),
    (["runs", "show", "nope"], r"^Error: run id 'nope' matches no run in "),
])
def test_runs_user_errors_are_one_line_and_exit_2(two_runs, argv, message):
    _folder, runs, _a, _b = two_runs
    code, out, err = _in_process([*argv, "--runs-dir", str(runs)])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert re.match(message, err)


@pytest.mark.slow
def test_predict_json_gives_the_rows_scored_and_refused(two_runs, tmp_path):
    _folder, _runs, a, _b = two_runs
    rows = pd.read_csv(EXAMPLES / "diabetes" / "diabetes.csv").drop(columns="target").head(20)
    rows["bmi"] = rows["bmi"].astype(object)
    rows.loc[3, "bmi"] = "not a number"  # refused by the input rules, keeps its place
    rows.to_csv(tmp_path / "new.csv", index=False)
    argv = ["predict", json.loads(a.stdout)["bundle"], str(tmp_path / "new.csv"), "-o", str(tmp_path / "out.csv")]
    code, out, err = _in_process([*argv, "--json", "-"])
    summary = json.loads(out)
    assert code == 0 and err == ""
    assert (summary["n_rows"], summary["n_scored"], summary["n_refused"]) == (20, 19, 1)
    assert summary["path"] == str(tmp_path / "out.csv") and sum(summary["rules"].values()) == 1
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["prediction"].isna().sum() == 1 and pd.isna(scored.loc[3, "prediction"])
    code, out, _ = _in_process(argv)  # without --json: the summary line, then where the scores went
    assert out.splitlines()[0].startswith("scored 19 of 20 rows; refused 1") and out.endswith(f"wrote {tmp_path / 'out.csv'}\n")


def test_profile_features_and_check_pipeline_json_on_stdout(tmp_path):
    data = EXAMPLES / "diabetes" / "diabetes.csv"
    code, out, err = _in_process(["quality", str(data), "--target", "target", "--json", "-"])
    report = json.loads(out)
    assert code == 0 and report["n_rows"] == 442 and report["n_columns"] == 11
    code, out, _ = _in_process(["features", str(data), "--target", "target", "--json", "-"])
    plan = json.loads(out)
    assert code == 0 and set(plan) == {"mode", "transforms", "notes"}
    code, out, _ = _in_process(["features", str(data), "--target", "target", "-o", str(tmp_path / "plan.yaml"),
                                "--json", str(tmp_path / "plan.json")])
    assert json.loads((tmp_path / "plan.json").read_text()) == plan and out.endswith(f"wrote {tmp_path / 'plan.json'}\n")
    frame = pd.read_csv(data)
    X, y = frame.drop(columns="target"), frame["target"]
    scaler = StandardScaler().fit(X)  # fitted on every row, then the model on the first 300: the mistake
    joblib.dump(make_pipeline(scaler, Ridge().fit(scaler.transform(X.head(300)), y.head(300))), tmp_path / "m.joblib")
    frame.head(300).to_csv(tmp_path / "train.csv", index=False)
    code, out, err = _in_process(["check-pipeline", str(tmp_path / "m.joblib"), str(tmp_path / "train.csv"), "--allow-pickle",
                                  "--full", str(data), "--target", "target", "--json", "-"])
    [finding] = json.loads(out)
    assert code == 1 and err == ""  # exit 1 on an error-level finding, as without --json
    assert (finding["check"], finding["severity"], finding["evidence"]["n_samples_seen"]) == \
        ("preprocessing_outside_cv", "error", 442)


def test_a_json_file_is_written_beside_the_usual_output(tmp_path):
    data = EXAMPLES / "diabetes" / "diabetes.csv"
    code, out, _ = _in_process(["quality", str(data), "--target", "target", "--json", str(tmp_path / "q.json")])
    assert code == 0 and json.loads((tmp_path / "q.json").read_text())["n_rows"] == 442
    assert out.endswith(f"wrote {tmp_path / 'q.json'}\n") and len(out.splitlines()) > 5  # the report printed too


def test_a_counted_step_shows_a_bar_and_its_count_and_a_stage_its_text_alone():
    from mlsmith._progress import Step
    from mlsmith.cli._commands import progress_bar

    console = Console(record=True, force_terminal=True, width=120)
    bar = progress_bar(console)
    task = bar.add_task("starting", total=None)
    shown = []
    for step in ("5/7 model comparison", Step("6/7 tuning LightGBM: trials 4-6 of 15", done=3, total=15)):
        bar.update(task, description=str(step), total=getattr(step, "total", None),
                   completed=getattr(step, "done", None) or 0)
        console.print(bar.get_renderable())
        shown.append(console.export_text().strip())
    assert shown[0].endswith("5/7 model comparison") and "/" not in shown[0].split("comparison")[1]
    assert "trials 4-6 of 15" in shown[1] and "━" in shown[1] and " 3/15 " in shown[1]


def test_tuning_reports_its_trials_as_counted_steps():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    from mlsmith import CVSetup
    from mlsmith.data import infer_schema
    from mlsmith.pipeline import build_pipeline
    from mlsmith.tuning import tune

    frame = load_breast_cancer(as_frame=True).frame
    schema = infer_schema(frame, "target")
    setup = CVSetup(X=frame[schema.features()], y=frame["target"].to_numpy(), schema=schema,
                    task="binary_classification", metric="roc_auc",
                    cv=StratifiedKFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)
    steps = []
    tune(build_pipeline("linear", schema, "binary_classification", 0), "linear", setup, n_trials=4, method="random",
         progress=steps.append)
    assert steps and all(s.total == 4 and s.endswith(" of 4") for s in steps)
    assert [s.done for s in steps] == sorted(s.done for s in steps) and steps[0].done == 0
