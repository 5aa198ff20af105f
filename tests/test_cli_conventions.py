"""The command line's conventions: --version, environment variables, -q/-v, the verdict in the run index."""

import logging

import pytest
from rich.console import Console

import mlsmith
from conftest import run_cli
from mlsmith.exceptions import MlsmithError
from mlsmith.report._monitor_terminal import print_runs, verdict_status


def test_version_prints_the_package_version(capsys):
    assert run_cli("--version") == 0
    assert capsys.readouterr().out.strip() == f"mlsmith {mlsmith.__version__}"


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
