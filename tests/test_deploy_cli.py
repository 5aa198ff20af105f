import json
import sqlite3

import pandas as pd

from mlsmith.deploy import ModelBundle

from conftest import run_cli
from deploy_fixtures import churn_bundle, churn_frame  # noqa: F401  (fixtures)


def test_predict_command_scores_a_file_in_chunks(churn_bundle, churn_frame, tmp_path, capsys):
    churn_frame.drop(columns=["churned"]).to_parquet(tmp_path / "in.parquet")
    assert run_cli("predict", churn_bundle, tmp_path / "in.parquet", "-o", tmp_path / "out.csv", "--chunk-rows", 100) == 0
    assert capsys.readouterr().out.strip().endswith("out.csv")
    got = pd.read_csv(tmp_path / "out.csv")
    want = ModelBundle.load(churn_bundle).predict(churn_frame)
    assert got["prediction"].tolist() == want["prediction"].tolist()


def test_compare_log_command_prints_and_writes_json(tmp_path, capsys):
    log = tmp_path / "p.db"
    with sqlite3.connect(log) as conn:
        conn.execute("CREATE TABLE predictions (request_id TEXT, ts REAL, model_version TEXT, role TEXT, inputs TEXT, "
                     "prediction TEXT, probability REAL, latency_ms REAL)")
        conn.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
            ("a", 1.0, "v1", "champion", "{}", "1", 0.9, 2.0), ("a", 1.0, "v2", "challenger", "{}", "1", 0.7, 3.0),
            ("b", 1.0, "v1", "champion", "{}", "0", 0.2, 4.0), ("b", 1.0, "v2", "challenger", "{}", "1", 0.6, 5.0),
        ])
    conn.close()
    assert run_cli("compare-log", log, "--json", tmp_path / "c.json") == 0
    out = capsys.readouterr().out
    assert "Agreement on 2 shadowed records: 50.0%; mean |Δ probability| 0.3000" in out
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["agreement"] == 0.5 and data["n_paired"] == 2
    assert data["roles"]["champion"]["latency_ms"]["p50"] == 3.0
    assert data["roles"]["challenger"]["prediction_shares"] == {"1": 1.0}


def test_deploy_commands_report_user_errors_in_one_line(tmp_path, capsys, churn_bundle):
    assert run_cli("compare-log", tmp_path / "none.db") == 2
    assert capsys.readouterr().err.strip() == (f"Error: prediction log '{tmp_path / 'none.db'}' does not exist; pass "
                                               "the file given to 'mlsmith serve --log'.")
    assert run_cli("serve", churn_bundle, "--mode", "blue") == 2
    assert capsys.readouterr().err.strip() == "Error: mode must be 'shadow' or 'canary'; got 'blue'."
