"""`mlsmith quality` and `mlsmith eda` on a real CSV: terminal tables, JSON, HTML, and user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlsmith.cli import main

HITTERS = Path(__file__).parent / "data" / "hitters.csv"


def test_quality_command_writes_json_and_html(tmp_path, capsys):
    main(["quality", str(HITTERS), "--target", "NewLeague", "--json", str(tmp_path / "q.json"),
          "--html", str(tmp_path / "q.html")])
    out = capsys.readouterr().out
    assert "322 rows × 20 columns" in out and "Missing values" in out and "Salary" in out
    data = json.loads((tmp_path / "q.json").read_text())
    assert data["missing"]["Salary"]["count"] == 59 and data["target"]["distribution"]["A"] == pytest.approx(176 / 322)
    page = (tmp_path / "q.html").read_text()
    assert page.startswith("<!doctype html>") and 'id="quality"' in page and 'id="eda"' not in page


def test_eda_command_writes_figures_and_their_numbers(tmp_path, capsys):
    main(["eda", str(HITTERS), "--target", "Salary", "--json", str(tmp_path / "e.json"), "--html", str(tmp_path / "e.html")])
    out = capsys.readouterr().out
    assert "Feature-target association (Salary)" in out and "regression" in out
    data = json.loads((tmp_path / "e.json").read_text())
    df = pd.read_csv(HITTERS).select_dtypes("number")
    strength = {c: max(abs(df[c].corr(df["Salary"])), abs(df[c].corr(df["Salary"], method="spearman")))
                for c in df.columns.drop("Salary")}
    assert data["task"] == "regression" and data["associations"][0]["feature"] == max(strength, key=strength.get)
    assert set(data["figures"]) >= {"target", "features", "top_feature", "top_scatter"}
    page = (tmp_path / "e.html").read_text()
    assert 'id="eda"' in page and page.count("data:image/png;base64,") >= 4


@pytest.mark.parametrize("argv, message", [
    (["eda", str(HITTERS), "--target", "salary"], "Error: target 'salary' is not a column of the data"),
    (["quality", "missing.csv"], "Error: data file 'missing.csv' does not exist"),
    (["eda", str(HITTERS), "--target", "Salary", "--task", "ranking"], "Error: task must be one of"),
])
def test_user_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


def test_quality_command_takes_the_task(tmp_path, capsys):
    main(["quality", str(HITTERS), "--target", "Years", "--task", "regression", "--json", str(tmp_path / "q.json")])
    data = json.loads((tmp_path / "q.json").read_text())
    assert data["target"]["task"] == "regression" and "imbalance" not in {f["check"] for f in data["findings"]}
