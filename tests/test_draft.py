"""`mlsmith init`: the drafted spec finds its data and proposes the class a run would pick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlsmith.cli import main
from mlsmith.data import load_data
from mlsmith.draft import draft_problem
from mlsmith.problem import load_problem

DATA = Path(__file__).parent / "data"


def _churn_labels(tmp_path: Path) -> Path:
    """ISLP's Default table with text labels: 118 'churned', 882 'stayed' (the rarer one sorts first)."""
    frame = pd.read_csv(DATA / "Default.csv").drop(columns="default").head(1000)
    labels = np.array(["churned"] * 118 + ["stayed"] * 882)
    np.random.default_rng(0).shuffle(labels)
    frame["status"] = labels
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "x.csv", index=False)
    return tmp_path / "data" / "x.csv"


def test_init_writes_the_data_path_relative_to_the_spec(tmp_path, monkeypatch):
    _churn_labels(tmp_path)
    monkeypatch.chdir(tmp_path)
    main(["init", "data/x.csv", "--target", "status"])  # returns (exit 0) or raises SystemExit
    spec = yaml.safe_load(Path("problem.yaml").read_text())
    assert spec["data"]["path"] == "data/x.csv"  # was 'x.csv', which run looked for beside problem.yaml
    assert len(load_data(load_problem("problem.yaml").data, tmp_path)) == 1000
    (tmp_path / "specs").mkdir()
    main(["init", "data/x.csv", "--target", "status", "-o", "specs/churn.yaml"])
    nested = load_problem(tmp_path / "specs" / "churn.yaml")
    assert nested.data.path == "../data/x.csv" and len(load_data(nested.data, nested.base_dir)) == 1000


def test_init_proposes_the_positive_class_run_picks(tmp_path):
    path = _churn_labels(tmp_path)
    spec = yaml.safe_load(draft_problem(path, "status", tmp_path / "problem.yaml"))
    assert spec["positive_class"] == "churned"  # the rarer class, the event; it used to be 'stayed'
    problem = load_problem_text(tmp_path, spec)
    resolved = problem.model_copy(update={"positive_class": None}).resolve(pd.read_csv(path)["status"])
    assert resolved.positive_class == spec["positive_class"]
    # A yes/no label is written quoted: YAML would read a bare yes as True, which is no label.
    frame = pd.read_csv(DATA / "Default.csv").head(400)
    frame.to_csv(tmp_path / "default.csv", index=False)
    text = draft_problem(tmp_path / "default.csv", "default", tmp_path / "problem.yaml")
    assert 'positive_class: "Yes"' in text and yaml.safe_load(text)["positive_class"] == "Yes"


def load_problem_text(folder: Path, spec: dict):
    (folder / "drafted.yaml").write_text(yaml.safe_dump(spec))
    return load_problem(folder / "drafted.yaml")


def _european_or_american(path: Path) -> int:
    """vega_datasets' cars built in Europe (73) or the USA (254): a real imbalanced yes/no-free label."""
    cars = pd.read_csv(DATA / "corpus" / "vega_cars.csv")
    cars = cars[cars["Origin"].isin(["Europe", "USA"])]
    path.parent.mkdir(parents=True, exist_ok=True)
    cars.to_csv(path, index=False)
    return len(cars)


def test_the_drafted_spec_keeps_finding_its_data_when_its_folder_moves(tmp_path, monkeypatch):
    n = _european_or_american(tmp_path / "project" / "data" / "cars.csv")
    (tmp_path / "project" / "specs").mkdir()
    monkeypatch.chdir(tmp_path)  # init run from outside the project
    main(["init", "project/data/cars.csv", "--target", "Origin", "-o", "project/specs/cars.yaml"])
    moved = tmp_path / "elsewhere" / "project"
    moved.parent.mkdir()
    (tmp_path / "project").rename(moved)
    monkeypatch.chdir(moved / "data")  # and read from yet another folder
    problem = load_problem(moved / "specs" / "cars.yaml")
    assert problem.data.path == "../data/cars.csv"
    assert len(load_data(problem.data, problem.base_dir)) == n


def test_init_proposes_the_rarer_class_of_a_real_imbalanced_table(tmp_path):
    path = tmp_path / "cars.csv"
    _european_or_american(path)
    text = draft_problem(path, "Origin", tmp_path / "problem.yaml")
    spec = yaml.safe_load(text)
    assert spec["positive_class"] == "Europe"  # 73 of 327; 'USA' sorts last, which init used to propose
    assert "one of ['Europe', 'USA']" in text
    run_picks = load_problem_text(tmp_path, {**spec, "positive_class": None}).resolve(pd.read_csv(path)["Origin"])
    assert run_picks.positive_class == "Europe"
