"""Run folders: unique ids and atomic creation, also for runs that end in the same second."""

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from mlsmith import runs
from mlsmith.runs import list_runs, new_run_id, run_folder

from conftest import EXAMPLES

SRC = Path(__file__).resolve().parents[1] / "src"
SAME_SECOND = datetime(2026, 12, 4, 22, 30, 5, tzinfo=timezone.utc)


@pytest.fixture
def same_second(monkeypatch):
    """Every run id is made in the same second."""
    monkeypatch.setattr(runs, "new_run_id", lambda name: new_run_id(name, SAME_SECOND))


def test_runs_finished_in_the_same_second_each_get_their_own_folder(tmp_path, same_second):
    # Three runs of one problem, open at once, finishing in the same (forced) second: before, the second
    # os.replace onto the first's folder failed and the run was lost.
    opened = [run_folder(tmp_path, "Churn model") for _ in range(3)]
    paths = [folder.__enter__() for folder in opened]
    for i, (tmp, _final) in enumerate(paths):
        (tmp / "results.json").write_text(str(i))
    for folder in opened:
        folder.__exit__(None, None, None)
    finals = [final for _tmp, final in paths]
    assert [p.name for p in finals] == ["20261204-223005-churn-model", "20261204-223005-churn-model-2",
                                        "20261204-223005-churn-model-3"]
    assert [(p / "results.json").read_text() for p in finals] == ["0", "1", "2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in finals]  # no staging folder left


def test_a_failed_run_releases_its_claimed_name(tmp_path, same_second):
    with pytest.raises(RuntimeError, match="boom"):
        with run_folder(tmp_path, "churn") as (tmp, final):
            assert final.is_dir() and not any(final.iterdir())  # claimed, empty, while the run works
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with run_folder(tmp_path, "churn") as (_tmp, final):
        pass
    assert final.name == "20261204-223005-churn"


@pytest.mark.slow
def test_three_concurrent_runs_of_one_problem_all_land(tmp_path):
    folder = tmp_path / "problem"
    shutil.copytree(EXAMPLES / "diabetes", folder)
    spec = yaml.safe_load((folder / "problem.yaml").read_text())
    spec.update(models=["linear"], tuning={"method": "none", "learning_curve": False})
    (folder / "problem.yaml").write_text(yaml.safe_dump(spec))
    runs_dir = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [subprocess.Popen([sys.executable, "-m", "mlsmith", "run", str(folder / "problem.yaml"), "--runs-dir",
                               str(runs_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _out, err in outs]
    assert all("Traceback" not in err for _out, err in outs)
    printed = sorted(out.strip().splitlines()[-1] for out, _err in outs)  # run prints its folder last
    folders = sorted(str(p) for p in runs_dir.iterdir() if p.is_dir())
    assert printed == folders and len(folders) == 3
    assert all((Path(f) / "results.json").is_file() and (Path(f) / "model").is_dir() for f in folders)
    assert sorted(r["id"] for r in list_runs(runs_dir)) == sorted(Path(f).name for f in folders)
