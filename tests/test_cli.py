"""The command line as a user meets it: exit codes, one-line errors, no partial run folders."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import cli, write_problem


def test_run_then_predict_end_to_end(tmp_path, capsys, churn_small):
    spec = write_problem(tmp_path, churn_small.head(500), target="churned", models=["linear", "lightgbm"],
                         data={"id_columns": ["customer_id"]}, split={"cv_folds": 3})
    code, out, err = cli(capsys, "run", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err
    run_dir = out.strip().splitlines()[-1]  # the run folder's path is the last line
    assert "Leaderboard" in out and "Verdict" in out
    churn_small.tail(40).drop(columns="churned").to_csv(tmp_path / "new.csv", index=False)
    code, out, err = cli(capsys, "predict", f"{run_dir}/model", str(tmp_path / "new.csv"), "-o", str(tmp_path / "scored.csv"))
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "scored.csv")
    assert list(scored.columns) == ["customer_id", "prediction", "probability", "reason"] and len(scored) == 40
    assert scored["reason"].isna().all() and scored["probability"].notna().all()


def _spec(tmp_path, frame, **kw):
    kw.setdefault("target", "churned")
    kw.setdefault("models", ["linear"])
    return write_problem(tmp_path, frame, **kw)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_file", r"problem file '.*nope.yaml' does not exist"),
        ("missing_data", r"data file '.*data_gone.csv' does not exist"),
        ("missing_target", r"target 'churnd' is not a column of the data. Did you mean 'churned'\?"),
        ("unknown_metric", r"'success_metric': unknown metric 'recal'.* Did you mean 'recall'\?"),
        ("single_class", r"target 'churned' has a single class \(0\) in 300 rows"),
        ("few_rows", r"only 8 training rows for 5-fold cross-validation; need at least 10"),
        ("text_regression", r"type is regression but target 'contract' is not numeric"),
        ("bad_drop", r"column 'incme' named in the problem's data section is not in the data. Did you mean 'income'\?"),
        ("bad_rule", r"baseline rule 'tenure_moths < 3' cannot be evaluated"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_leaves_no_run_folder(tmp_path, capsys, churn_small, case, message):
    data = churn_small.head(300)
    spec = {
        "missing_file": lambda: tmp_path / "nope.yaml",
        "missing_data": lambda: _data_gone(_spec(tmp_path, data)),
        "missing_target": lambda: _spec(tmp_path, data, target="churnd"),
        "unknown_metric": lambda: _spec(tmp_path, data, success_metric="recal"),
        "single_class": lambda: _spec(tmp_path, data.assign(churned=0)),
        "few_rows": lambda: _spec(tmp_path, data.head(10)),
        "text_regression": lambda: _spec(tmp_path, data, target="contract", type="regression"),
        "bad_drop": lambda: _spec(tmp_path, data, data={"drop": ["incme"]}),
        "bad_rule": lambda: _spec(tmp_path, data, baseline={"rule": "tenure_moths < 3"}),
    }[case]()
    code, out, err = cli(capsys, "run", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err + out
    import re

    assert re.search(message, err), err
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())


def _data_gone(spec):
    raw = yaml.safe_load(spec.read_text())
    raw["data"]["path"] = "data_gone.csv"
    spec.write_text(yaml.safe_dump(raw))
    return spec


def test_init_drafts_a_spec_that_runs(tmp_path, capsys, churn_small):
    churn_small.head(400).to_csv(tmp_path / "customers.csv", index=False)
    out_file = tmp_path / "problem.yaml"
    code, out, err = cli(capsys, "init", str(tmp_path / "customers.csv"), "--target", "churned", "-o", str(out_file))
    assert code == 0, err
    text = out_file.read_text()
    assert "type: binary_classification" in text and "success_metric: roc_auc" in text
    assert "id_columns: ['customer_id']" in text and "TODO: decide" in text
    code, _, err = cli(capsys, "init", str(tmp_path / "customers.csv"), "--target", "churned", "-o", str(out_file))
    assert code == 2 and "already exists; pass --force" in err
    raw = yaml.safe_load(text)
    raw["models"] = ["linear"]
    out_file.write_text(yaml.safe_dump(raw))
    code, out, err = cli(capsys, "run", str(out_file), "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err


def test_every_command_has_help(capsys):
    for command in ("run", "predict", "init", "demo"):
        code, out, _ = cli(capsys, command, "--help")
        assert code == 0 and "Usage" in out


def test_usage_error_exits_2(capsys):
    code, _, err = cli(capsys, "run")
    assert code == 2 and "Missing argument" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_console_run_ends_with_its_workers_and_writes_the_run(tmp_path, churn_small):
    """Run from a shell with its output piped: it ends, no CV worker, fork server or tracker is left, the
    run is written."""
    spec = _spec(tmp_path, churn_small.head(300), models=["linear", "decision_tree"], split={"cv_folds": 3})
    tag = f"mlsmith-test-{uuid.uuid4()}"
    env = {**os.environ, "MLSMITH_TEST_TAG": tag, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "mlsmith", "run", str(spec), "--runs-dir", str(tmp_path / "runs")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert (run_dir / "results.json").exists() and (run_dir / "report.html").exists()

    def tagged() -> list[int]:
        pids = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if tag.encode() in environ.read_bytes():
                    pids.append(int(environ.parent.name))
            except OSError:
                pass
        return pids

    deadline = time.monotonic() + 10  # killed workers take a moment to be reaped
    while tagged() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tagged() == []


def test_a_script_without_a_main_guard_can_call_the_cli(tmp_path, churn_small):
    """Workers forked from the fork server import the main module again: only the mlsmith program uses it,
    so a script that calls ``main`` at its top level is not run again by every worker."""
    spec = _spec(tmp_path, churn_small.head(300), models=["linear", "decision_tree"], split={"cv_folds": 3})
    script = tmp_path / "script.py"
    script.write_text("from mlsmith.cli import main\n"
                      f"main(['run', {str(spec)!r}, '--runs-dir', {str(tmp_path / 'runs')!r}])\n")
    proc = subprocess.run([sys.executable, str(script)], env={**os.environ, "PYTHONWARNINGS": "ignore"},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len([p for p in (tmp_path / "runs").iterdir() if p.is_dir()]) == 1  # one run folder, one run


def test_a_table_without_a_usable_feature_is_one_error_line(tmp_path, capsys):
    # found by the messy-frame exploration: a constant flag, a distinct timestamp per row and two
    # columns empty in all but one row leave the models nothing to learn from
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        'say "q"': True, "1st": pd.to_datetime(rng.integers(9e8, 1.2e9, 31), unit="s", utc=True),
        "Σ σ": ["x"] + [None] * 30, "col,comma": pd.array([3] + [None] * 30, dtype="Int64"),
        "target": ["yes", "Ünï"] * 15 + ["yes"]})
    spec = _spec(tmp_path, frame, target="target", tuning={"method": "none", "learning_curve": False})
    code, _, err = cli(capsys, "run", str(spec), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("Error: no model family produced a cross-validated score (linear: failed")
    assert not (tmp_path / "runs").exists() or [p.name for p in (tmp_path / "runs").iterdir()] == ["index.db"]
