import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score

from mlsmith.cli import main
from mlsmith.datasets import make_churn
from mlsmith.deploy import ModelBundle
from mlsmith.exceptions import DataError, MlsmithError
from mlsmith.monitor import load_reference, monitor
from mlsmith.monitor._current import counts_for
from mlsmith.monitor._drift import feature_drift
from mlsmith.monitor._reference import column_reference

from _bundles import make_bundle, noisy_labels, shifted


@pytest.fixture(scope="module")
def churn():
    return make_churn(n_rows=2400, seed=11)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, churn):
    return make_bundle(tmp_path_factory.mktemp("bundle") / "model", churn.iloc[:1200])


@pytest.fixture(scope="module")
def fresh(churn):
    """Later rows from the same generator: no drift."""
    return churn.iloc[1200:].reset_index(drop=True)


def _drift(reference_frame: pd.DataFrame, current_frame: pd.DataFrame, roles: dict[str, str], chunk: int = 500):
    reference = {c: column_reference(reference_frame[c], role) for c, role in roles.items()}
    counts = {c: counts_for(ref) for c, ref in reference.items()}
    for start in range(0, len(current_frame), chunk):
        for c in roles:
            counts[c].add(current_frame[c].iloc[start:start + chunk])
    return feature_drift(reference, counts, alpha=0.05)


def test_unshifted_halves_of_a_real_data_set_stay_within_the_false_alarm_rate():
    data = load_breast_cancer(as_frame=True).frame.drop(columns="target")
    roles = {c: "numeric" for c in data.columns}
    flagged = significant = tested = 0
    for seed in range(20):
        half = data.sample(frac=0.5, random_state=seed)
        rows = _drift(half, data.drop(index=half.index), roles)
        tested += len(rows)
        flagged += sum(r["drifted"] for r in rows)
        significant += sum(r["p_value"] < 0.05 for r in rows)
    assert flagged / tested <= 0.05
    assert significant > 0  # unadjusted tests do fire on noise: the correction is doing the work


def test_a_planted_shift_in_two_columns_is_flagged_in_exactly_those():
    rng = np.random.default_rng(5)

    def sample(n, shift=False):
        frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(6)})
        frame["tiny"] = rng.normal(0.06 if shift else 0.0, 1, size=n)  # significant on 20k rows, PSI far below 0.1
        frame["colour"] = rng.choice(["red", "green", "blue"], p=[0.3, 0.3, 0.4] if shift else [0.5, 0.3, 0.2], size=n)
        frame["city"] = rng.choice(["a", "b", "c", "d"], size=n)
        if shift:
            frame["x2"] += 0.6
        return frame

    roles = {c: "numeric" for c in [f"x{i}" for i in range(6)] + ["tiny"]} | {"colour": "categorical", "city": "categorical"}
    rows = {r["name"]: r for r in _drift(sample(20_000), sample(20_000, shift=True), roles, chunk=3000)}
    assert sorted(n for n, r in rows.items() if r["drifted"]) == ["colour", "x2"]
    assert rows["tiny"]["p_adjusted"] < 0.05 and rows["tiny"]["psi"] < 0.1
    assert rows["x2"]["psi_band"] == rows["colour"]["psi_band"] == "significant"


def test_reference_statistics_in_the_bundle_summarise_the_training_rows(bundle, churn):
    reference = load_reference(bundle)
    schema = ModelBundle.load(bundle).schema
    assert sorted(reference["features"]) == sorted(schema.features())
    income = reference["features"]["income"]
    train_n = reference["n_rows"]
    assert income["n"] + income["n_missing"] == train_n
    assert income["n"] == income["cum"][-1]
    assert reference["features"]["contract"]["kind"] == "categorical"
    assert reference["performance"]["metric"] == "roc_auc" and reference["performance"]["se"] > 0
    assert reference["prediction"]["n"] == 300 and reference["prediction"]["what"] == "positive-class probability"


def test_monitoring_unshifted_data_recommends_nothing(bundle, fresh, tmp_path):
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    report = monitor(bundle, tmp_path / "fresh.csv", labels="churned")
    assert report.drifted == [] and not report.prediction["drifted"]
    assert report.verdict["status"] == "ok" and report.exit_code == 0
    scores = ModelBundle.load(bundle).predict(fresh)["probability"]
    assert report.performance["current"] == pytest.approx(roc_auc_score(fresh["churned"], scores))
    assert not report.performance["decayed"]
    lo, hi = report.performance["change_ci"]
    assert lo < report.performance["change"] < hi


def test_reading_in_chunks_gives_the_same_report_as_one_read(bundle, fresh, tmp_path):
    shifted(fresh).to_parquet(tmp_path / "cur.parquet")
    one = monitor(bundle, tmp_path / "cur.parquet", chunk_rows=10**6)
    many = monitor(bundle, tmp_path / "cur.parquet", chunk_rows=97)
    flat = lambda report: [r[k] for r in report.features if r["test"] for k in ("statistic", "p_adjusted", "psi")]  # noqa: E731
    assert flat(one) == pytest.approx(flat(many), rel=1e-9)
    assert [r["n_current"] for r in one.features] == [r["n_current"] for r in many.features]
    assert [r.get("out_of_range") for r in one.features] == [r.get("out_of_range") for r in many.features]
    assert one.prediction["psi"] == pytest.approx(many.prediction["psi"])
    assert one.drifted == ["contract", "monthly_charges"]


def test_cli_exit_codes_json_and_html(bundle, fresh, tmp_path, capsys):
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    shifted(fresh).to_csv(tmp_path / "shifted.csv", index=False)
    main(["monitor", str(bundle), str(tmp_path / "fresh.csv")])  # returns: exit code 0
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    with pytest.raises(SystemExit) as exc:
        main(["monitor", str(bundle), str(tmp_path / "shifted.csv"), "--json", str(out_json), "--html", str(out_html)])
    assert exc.value.code == 1
    data = json.loads(out_json.read_text())
    assert data["verdict"]["status"] == "retrain"
    assert [r["name"] for r in data["features"] if r["drifted"]] == ["contract", "monthly_charges"]
    assert {f["check"] for f in data["findings"]} >= {"out_of_range"}
    page = out_html.read_text()
    assert "Retraining recommended" in page and page.count("data:image/png;base64,") >= 4
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["monitor", str(bundle), str(tmp_path / "fresh.csv"), "--labels", "churn"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("Error: labels column 'churn' is not in")


def test_performance_decay_with_labels_recommends_retraining(bundle, fresh, tmp_path):
    noisy_labels(fresh, share=0.7).to_parquet(tmp_path / "noisy.parquet")
    report = monitor(bundle, tmp_path / "noisy.parquet", labels="churned")
    perf = report.performance
    assert perf["decayed"] and perf["change_ci"][1] < 0
    assert report.verdict["status"] == "retrain" and report.exit_code == 1
    assert report.drifted == []  # the inputs did not move: only the labels say the model got worse


def test_bad_input_errors(bundle, fresh, tmp_path):
    fresh.drop(columns=["income", "age"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DataError, match=r"lacks 2 column\(s\) the model needs: income, age"):
        monitor(bundle, tmp_path / "short.csv")
    with pytest.raises(MlsmithError, match="give either a CURRENT data file or --log"):
        monitor(bundle)
    bad = fresh.copy()
    bad["age"] = bad["age"].astype(object)
    bad.loc[:9, "age"] = "unknown"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    report = monitor(bundle, tmp_path / "bad.csv")
    age = next(r for r in report.features if r["name"] == "age")
    assert age["n_invalid"] == 10
    assert any(f["check"] == "schema" and f["column"] == "age" for f in report.findings)


def _log(path, frames_by_time, role="champion"):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS predictions(request_id TEXT, ts REAL, model_version TEXT, role TEXT, "
                 "inputs TEXT, prediction TEXT, probability REAL, latency_ms REAL)")
    for t0, frame in frames_by_time:
        records = json.loads(frame.drop(columns=["churned"]).to_json(orient="records"))
        conn.executemany("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         [(f"r{t0}-{i}", t0 + i, "v1", role, json.dumps(rec), "0", 0.1, 2.0)
                          for i, rec in enumerate(records)])
    conn.commit()
    conn.close()


def test_monitoring_a_window_of_the_serving_log(bundle, fresh, tmp_path):
    db = tmp_path / "predictions.db"
    _log(db, [(1_000_000, fresh.iloc[:600]), (2_000_000, shifted(fresh.iloc[600:]))])
    _log(db, [(1_000_000, shifted(fresh.iloc[:600]))], role="challenger")  # shadow traffic: ignored
    early = monitor(bundle, log=db, since="1000000", until="1500000")
    assert early.n_rows == 600 and early.drifted == [] and early.source["role"] == "champion"
    late = monitor(bundle, log=db, since="1970-01-20T00:00:00")  # 1 641 600 s: only the later rows
    assert late.n_rows == len(fresh) - 600 and late.drifted == ["contract", "monthly_charges"]
    with pytest.raises(DataError, match="has no 'champion' rows between"):
        monitor(bundle, log=db, since="3000000")
    with pytest.raises(DataError, match="'--since' 'yesterday' is not a time|--since 'yesterday' is not a time"):
        monitor(bundle, log=db, since="yesterday")


def test_a_log_mixing_time_zones_is_read_with_the_training_date_parser(bundle, fresh, tmp_path):
    """A log written before validation normalised dates holds them as sent: zoned, naive, and not dates."""
    rows = fresh.iloc[:400].copy()
    stamps = ["2024-01-01T10:00:00+02:00", "2024-01-01T10:00:00Z", "2024-01-01 10:00:00", "not-a-date"]
    rows["last_login"] = [stamps[i % 4] if i < 8 else v for i, v in enumerate(rows["last_login"])]
    db = tmp_path / "mixed.db"
    _log(db, [(1_000_000, rows)])
    report = monitor(bundle, log=db)
    last_login = next(r for r in report.features if r["name"] == "last_login")
    assert (report.n_rows, last_login["n_current"], last_login["n_invalid"]) == (400, 398, 2)
    assert {"check": "schema", "column": "last_login", "severity": "error",
            "message": "2 value(s) of date column 'last_login' are not dates; they were scored as missing"} in report.findings
