"""The input rules: batch scoring reads files as training does and refuses or changes what serve does."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlsmith.data import infer_schema, read_table
from mlsmith.deploy import ModelBundle, create_app, predict_file, save_bundle
from mlsmith.deploy._rules import RULES
from mlsmith.deploy._runtime import Scorer
from mlsmith.monitor import monitor
from mlsmith.pipeline import build_pipeline

from _bundles import make_bundle as make_monitored_bundle
from conftest import run_cli
from deploy_fixtures import churn_bundle, churn_frame  # noqa: F401  (fixtures)

CARS = Path(__file__).parent / "data" / "cars93.csv"


@pytest.fixture(scope="module")
def cars_bundle(tmp_path_factory) -> Path:
    """A linear model of Origin (USA or not) on MASS's Cars93, read as a run reads it ('NA' is missing)."""
    frame = read_table(CARS)
    schema = infer_schema(frame, "Origin", id_columns=["Unnamed: 0", "Model", "Make"])
    y = (frame["Origin"] == "non-USA").astype(int)
    pipeline = build_pipeline("linear", schema, "binary_classification", 0).fit(frame[schema.features()], y)
    metadata = {"task": "binary_classification", "target": "Origin", "classes": ["USA", "non-USA"],
                "decision_threshold": 0.5, "model": "linear"}
    return save_bundle(tmp_path_factory.mktemp("cars") / "model", pipeline, schema, metadata)


def test_cli_predict_agrees_with_the_api_on_a_real_table_with_missing_markers(cars_bundle, tmp_path, capsys):
    text = pd.read_csv(CARS, dtype=str, keep_default_na=False)  # the file as written: 'None', 'NA'
    assert (text["AirBags"] == "None").sum() == 34 and (text["Cylinders"] == "rotary").sum() == 1
    # empty cells and the other markers pandas reads as missing, planted in columns missing in training
    for row, marker in zip(range(0, 40, 5), ["", "NA", "NULL", "NaN", "", "n/a", "null", ""]):
        text.loc[row, "Luggage.room"] = marker
    text.loc[[3, 7, 11], "Rear.seat.room"] = ""
    text.loc[20, "EngineSize"] = "inf"
    text.to_csv(tmp_path / "cars.csv", index=False)
    assert run_cli("predict", cars_bundle, tmp_path / "cars.csv", "-o", tmp_path / "out.csv", "--chunk-rows", 30) == 0
    summary, wrote = capsys.readouterr().out.strip().splitlines()
    assert summary == "scored 92 of 93 rows; refused 1: not_a_number 1; changed 1: infinite_as_missing 1"
    assert wrote == f"wrote {tmp_path / 'out.csv'}"
    got = pd.read_csv(tmp_path / "out.csv")
    want = ModelBundle.load(cars_bundle).predict(read_table(tmp_path / "cars.csv"))
    rotary = (text["Cylinders"] == "rotary").to_numpy()
    assert got.loc[rotary, "reason"].tolist() == ["Cylinders: not a number ('rotary')"]
    assert got.loc[rotary, ["prediction", "probability"]].isna().all(axis=None)
    assert got.loc[~rotary, "reason"].isna().all()
    # equal to the last bits a chunk's BLAS summation order may change
    np.testing.assert_allclose(got.loc[~rotary, "probability"].to_numpy(),
                               want.loc[~rotary, "probability"].to_numpy(), rtol=1e-12)
    assert got.loc[~rotary, "prediction"].tolist() == want.loc[~rotary, "prediction"].tolist()
    assert got["Unnamed: 0"].tolist() == list(range(1, 94))


def test_an_infinity_is_scored_as_missing_on_both_runtimes(churn_bundle, churn_frame):
    bundle = ModelBundle.load(churn_bundle)
    rows = churn_frame.drop(columns=["churned"]).iloc[600:640].astype(object)
    recs = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.to_dict("records")]
    # +-inf and a magnitude past float32's (infinite to the trees and to the ONNX graph's float32 input)
    infinite = [dict(r, monthly_charges=(float("inf"), float("-inf"), 1e300)[i % 3]) for i, r in enumerate(recs)]
    missing = [dict(r, monthly_charges=None) for r in recs]
    want = bundle.pipeline.predict_proba(pd.DataFrame(missing)[bundle.schema.features()])[:, 1]
    for runtime in ("sklearn", "onnx"):
        scorer = Scorer(bundle, runtime)
        got = [r["probability"] for r in scorer.score(infinite[:1]) + scorer.score(infinite)]
        np.testing.assert_allclose(got, [want[0], *want], atol=1e-5 if runtime == "onnx" else 1e-12)


@pytest.mark.parametrize("rule, column, value, serve_type", [  # the 422's error type, as pydantic names it
    ("unseen_category", "contract", "Weekly", "literal_error"),
    ("not_a_number", "age", "old", "float_type"),
    ("invalid_date", "signup_date", "not-a-date", "datetime_from_date_parsing"),
    ("missing_required", "tenure_months", None, "float_type"),
    ("missing_required", "signup_date", None, "datetime_type"),
])
def test_serve_and_batch_refuse_the_same_rows_for_the_same_rule(churn_bundle, churn_frame, tmp_path, rule, column,
                                                                value, serve_type):
    assert RULES[rule][0] == "refuse"
    rows = churn_frame.drop(columns=["churned"]).iloc[600:603].astype(object).reset_index(drop=True)
    rows.loc[1, column] = value
    recs = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.to_dict("records")]
    with TestClient(create_app(churn_bundle)) as client:
        response = client.post("/predict", json=recs)
        alone = [client.post("/predict", json=r).status_code for r in recs]
    assert response.status_code == 422 and alone == [200, 422, 200]
    [error] = response.json()["detail"]
    assert (error["type"], error["loc"], error["input"]) == (serve_type, ["body", 1, column], value)
    rows.to_csv(tmp_path / "in.csv", index=False)
    result = predict_file(churn_bundle, tmp_path / "in.csv", tmp_path / "out.csv")
    got = pd.read_csv(tmp_path / "out.csv")
    assert (result.n_rows, result.n_scored, result.rules) == (3, 2, {rule: 1})
    reason = f"{column}: {RULES[rule][1]}" + ("" if value is None else f" ({value!r})")
    assert got["reason"].tolist() == [np.nan, reason, np.nan]
    assert got["probability"].isna().tolist() == [False, True, False]


def test_zoned_timestamps_are_scored_and_logged_in_utc_and_monitored(tmp_path, churn_frame, capsys):
    bundle = make_monitored_bundle(tmp_path / "model", churn_frame)
    rows = churn_frame.drop(columns=["churned"]).iloc[:60].astype(object)
    recs = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.to_dict("records")]
    sent = {0: "2024-01-01T10:00:00+02:00", 1: "2024-01-01T10:00:00Z", 2: "2024-01-01T03:30:00-05:00"}
    for i, stamp in sent.items():
        recs[i]["last_login"] = stamp
    log = tmp_path / "log.db"
    with TestClient(create_app(bundle, log=log)) as client:
        answers = [client.post("/predict", json=r) for r in recs]
        integer = client.post("/predict", json={**recs[3], "last_login": 20240101})
        client.app.state.serve.log.flush()
    assert [a.status_code for a in answers] == [200] * 60
    assert integer.status_code == 422 and integer.json()["detail"][0]["type"] == "datetime_type"
    with sqlite3.connect(log) as conn:
        logged = [json.loads(r[0])["last_login"] for r in conn.execute("SELECT inputs FROM predictions ORDER BY rowid")]
    conn.close()
    assert logged[:3] == ["2024-01-01T08:00:00", "2024-01-01T10:00:00", "2024-01-01T08:30:00"]
    naive = pd.DataFrame(recs).assign(last_login=[*logged[:3], *[r["last_login"] for r in recs[3:]]])
    want = ModelBundle.load(bundle).pipeline.predict_proba(naive[ModelBundle.load(bundle).schema.features()])[:, 1]
    np.testing.assert_allclose([a.json()["probability"] for a in answers], want, atol=1e-12)
    report = monitor(bundle, log=log)
    assert report.n_rows == 60
    last_login = next(r for r in report.features if r["name"] == "last_login")
    assert (last_login["n_current"], last_login["n_invalid"]) == (60, 0)
    assert run_cli("monitor", bundle, "--log", log) in (0, 1)
    assert "Error" not in capsys.readouterr().err
    # batch counts the rows whose zone it converted, and scores them as serve did
    pd.DataFrame(recs[:10]).to_csv(tmp_path / "zoned.csv", index=False)
    result = predict_file(bundle, tmp_path / "zoned.csv", tmp_path / "zoned_out.csv")
    assert result.rules == {"timezone_converted": 3}
    np.testing.assert_allclose(pd.read_csv(tmp_path / "zoned_out.csv")["probability"], want[:10], atol=1e-12)


def test_categories_are_known_in_any_spelling_a_reader_gives_them():
    from mlsmith.deploy._rules import InputRules

    train = pd.DataFrame({"flag": [True, False, True], "code": [1.0, 2.0, None], "y": [0, 1, 0]})
    rules = InputRules(infer_schema(train, "y", roles={"code": "categorical"}))  # categories '1.0', '2.0'
    codes = pd.array([1, 2, None, 3], dtype="Int64")  # a chunk with no missing code reads integers
    check = rules.check(pd.DataFrame({"flag": ["true", "FALSE", "True", "maybe"], "code": codes}))
    assert check.reasons.tolist() == [None, None, None, "flag: a category unseen in training ('maybe'); "
                                                        "code: a category unseen in training ('3')"]
    assert check.counts == {"unseen_category": 1}


def test_integer_codes_are_read_as_training_read_them_in_every_chunk(tmp_path):
    """Cars93's Passengers as a categorical column with a few missing: training read 5.0, not 5."""
    frame = read_table(CARS)
    frame.loc[[0, 50], "Passengers"] = np.nan
    schema = infer_schema(frame, "Origin", id_columns=["Unnamed: 0", "Model", "Make"],
                          roles={"Passengers": "categorical"})
    assert "5.0" in schema["Passengers"].categories
    y = (frame["Origin"] == "non-USA").astype(int)
    pipeline = build_pipeline("linear", schema, "binary_classification", 0).fit(frame[schema.features()], y)
    metadata = {"task": "binary_classification", "target": "Origin", "classes": ["USA", "non-USA"],
                "decision_threshold": 0.5, "model": "linear"}
    bundle = save_bundle(tmp_path / "model", pipeline, schema, metadata)
    # written as another tool writes it: 5, and an empty cell (pandas reads the whole column as 5.0)
    frame.assign(Passengers=frame["Passengers"].astype("Int64"), Cylinders="4").to_csv(tmp_path / "in.csv",
                                                                                      index=False)
    result = predict_file(bundle, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=20)  # 4 of 5 chunks: no NaN
    got = pd.read_csv(tmp_path / "out.csv")
    want = ModelBundle.load(bundle).predict(read_table(tmp_path / "in.csv"))
    assert result.n_scored == 93 and result.rules == {}
    np.testing.assert_array_equal(got["probability"].to_numpy(), want["probability"].to_numpy())


def test_a_magnitude_past_float32_is_counted_as_the_pipeline_treats_it(churn_bundle, churn_frame):
    # to_float reads 1e300 as missing (the float rule); the input rules count it as changed, and a
    # served record holds it as missing, so neither runtime scores a clipped 3.4e38
    from mlsmith.deploy._rules import InputRules

    bundle = ModelBundle.load(churn_bundle)
    rows = churn_frame.drop(columns=["churned"]).iloc[:3].copy()
    rows["monthly_charges"] = [1e300, -1e300, 50.0]
    check = InputRules(bundle.schema).check(rows[bundle.schema.features()])
    assert check.counts == {"infinite_as_missing": 2}
    record = {k: v for k, v in rows.iloc[0].items() if not (isinstance(v, float) and np.isnan(v))}
    assert Scorer(bundle, "onnx").score([record])[0]["probability"] == pytest.approx(
        Scorer(bundle, "sklearn").score([record])[0]["probability"], abs=1e-5)
