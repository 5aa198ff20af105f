import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlsmith.deploy import ModelBundle, compare_log, create_app
from mlsmith.exceptions import BundleError, MlsmithError

from deploy_fixtures import challenger_bundle, churn_bundle, churn_frame  # noqa: F401  (fixtures)

HEX = re.compile(r"^[0-9a-f]{32}$")
JSON = {"Content-Type": "application/json"}


def records(frame: pd.DataFrame, n: int, start: int = 600) -> list[dict]:
    rows = frame.drop(columns=["churned"]).iloc[start:start + n]
    return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows.astype(object).to_dict("records")]


def expected_proba(bundle_path, recs) -> np.ndarray:
    bundle = ModelBundle.load(bundle_path)
    return bundle.pipeline.predict_proba(pd.DataFrame(recs)[bundle.schema.features()])[:, 1]


@pytest.fixture(scope="module")
def client(churn_bundle):
    with TestClient(create_app(churn_bundle)) as c:
        yield c


def test_predict_one_record_returns_prediction_probability_and_version(client, churn_bundle, churn_frame):
    rec = records(churn_frame, 1)[0]
    p = expected_proba(churn_bundle, [rec])[0]
    body = client.post("/predict", json=rec).json()
    version = ModelBundle.load(churn_bundle).metadata["files"]["pipeline.skops"][:12]
    assert HEX.match(body["request_id"])
    assert body == {"request_id": body["request_id"], "model_version": version,
                    "prediction": int(p >= 0.5), "probability": pytest.approx(p, abs=1e-12)}


def test_predict_a_list_scores_every_record_in_order(client, churn_bundle, churn_frame):
    recs = records(churn_frame, 5)
    p = expected_proba(churn_bundle, recs)
    response = client.post("/predict", json=recs)
    body = response.json()
    assert response.status_code == 200
    assert body == {"request_id": body["request_id"], "model_version": ModelBundle.load(churn_bundle).version,
                    "predictions": [{"prediction": int(v >= 0.5), "probability": pytest.approx(v, abs=1e-12)} for v in p]}


def test_a_bad_record_gets_422_naming_each_field(client, churn_frame):
    rec = records(churn_frame, 1)[0]
    bad = {**rec, "contract": "Weekly", "age": "old", "colour": "red", "signup_date": "yesterday"}
    del bad["tenure_months"]
    response = client.post("/predict", json=[rec, bad])
    assert response.status_code == 422
    assert response.json() == {"detail": [
        {"type": "datetime_from_date_parsing", "loc": ["body", 1, "signup_date"],
         "msg": "Input should be a valid datetime or date, input is too short", "input": "yesterday"},
        {"type": "missing", "loc": ["body", 1, "tenure_months"], "msg": "Field required", "input": bad},
        {"type": "literal_error", "loc": ["body", 1, "contract"],
         "msg": "Input should be 'Annual', 'Monthly' or 'Two-Year'", "input": "Weekly"},
        {"type": "float_type", "loc": ["body", 1, "age"], "msg": "Input should be a valid number", "input": "old"},
        {"type": "extra_forbidden", "loc": ["body", 1, "colour"], "msg": "Extra inputs are not permitted", "input": "red"},
    ]}


def test_optional_fields_are_the_ones_missing_in_training(client, churn_frame):
    rec = records(churn_frame, 1)[0]
    del rec["income"], rec["customer_id"]  # income had missing values in training; ids are optional
    assert client.post("/predict", json=rec).status_code == 200
    response = client.post("/predict", json={**rec, "age": None})
    assert response.json()["detail"][0]["loc"] == ["body", "age"]


def test_malformed_and_empty_bodies_get_422(client):
    assert client.post("/predict", content=b"{not json", headers=JSON).json() == {"detail": [
        {"type": "json_invalid", "loc": ["body"], "msg": "Invalid JSON: key must be a string at line 1 column 2",
         "input": "{not json"}]}
    assert client.post("/predict", json=[]).json()["detail"][0]["type"] == "too_short"
    assert client.post("/predict", json=3).json()["detail"][0]["type"] == "dict_type"


def test_predict_takes_only_post(client):
    response = client.get("/predict")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert response.json() == {"detail": "Method Not Allowed"}


def test_body_size_limit_answers_413(churn_bundle):
    with TestClient(create_app(churn_bundle, max_body_bytes=100)) as c:
        response = c.post("/predict", content=b"[" + b" " * 200 + b"]", headers=JSON)
    assert response.status_code == 413
    assert response.json() == {"detail": "request body is larger than the limit of 100 bytes; send fewer records per request."}


def test_a_server_failure_returns_json_500_without_a_trace(churn_bundle, churn_frame, caplog):
    app = create_app(churn_bundle)

    def broken(recs):
        raise RuntimeError("secret internal detail")

    app.state.serve.champion.score = broken
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/predict", json=records(churn_frame, 1))
        metrics = c.get("/metrics").text
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details."}
    assert "secret" not in response.text and "Traceback" not in response.text
    assert 'mlsmith_errors_total{kind="server",route="/predict"} 1.0' in metrics
    assert "secret internal detail" in caplog.text  # the trace goes to the server's log


def test_health_and_metadata_return_exact_json(client, churn_bundle):
    bundle = ModelBundle.load(churn_bundle)
    assert client.get("/health").json() == {"status": "ok", "model_version": bundle.version, "runtime": "sklearn",
                                            "challenger": None}
    meta = client.get("/metadata").json()
    schema = meta.pop("input_schema")
    assert meta == {"model_version": bundle.version, "runtime": "sklearn", "problem": "churn test",
                    "task": "binary_classification", "target": "churned", "classes": [0, 1], "positive_class": 1,
                    "decision_threshold": 0.5, "model": "linear", "success_metric": "recall",
                    "test_metrics": {"recall": 0.5}, "seed": 0, "created": None, "versions": None, "challenger": None}
    assert sorted(schema["required"]) == sorted(c for c in bundle.schema.features() if c != "income")
    assert schema["properties"]["contract"] == {"enum": ["Annual", "Monthly", "Two-Year"], "title": "Contract",
                                                "type": "string"}
    assert schema["additionalProperties"] is False


def test_metrics_count_requests_errors_latencies_and_class_shares(churn_bundle, churn_frame):
    recs = records(churn_frame, 20)
    predicted = (expected_proba(churn_bundle, recs) >= 0.5).astype(int)
    with TestClient(create_app(churn_bundle)) as c:
        c.post("/predict", json=recs)
        c.post("/predict", json={"age": "x"})
        c.get("/health")
        text = c.get("/metrics").text
    assert 'mlsmith_requests_total{route="/predict",status="200"} 1.0' in text
    assert 'mlsmith_requests_total{route="/predict",status="422"} 1.0' in text
    assert 'mlsmith_errors_total{kind="client",route="/predict"} 1.0' in text
    assert 'mlsmith_request_latency_seconds_count{route="/predict"} 2.0' in text
    for label in (0, 1):
        n = int((predicted == label).sum())
        assert f'mlsmith_predictions_total{{predicted="{label}",role="champion"}} {float(n)}' in text
        assert f'mlsmith_predicted_class_share{{predicted="{label}"}} {n / 20}' in text


def test_predictions_are_logged_to_sqlite_in_wal_mode(churn_bundle, churn_frame, tmp_path):
    log = tmp_path / "predictions.db"
    recs = records(churn_frame, 3)
    with TestClient(create_app(churn_bundle, log=log)) as c:
        one = c.post("/predict", json=recs[0]).json()
        many = c.post("/predict", json=recs).json()
        c.app.state.serve.log.flush()
    with sqlite3.connect(log) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        columns = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(predictions)")]
        rows = conn.execute("SELECT request_id, model_version, role, inputs, prediction, probability, latency_ms, ts "
                            "FROM predictions ORDER BY rowid").fetchall()
    conn.close()
    assert columns == [("request_id", "TEXT"), ("ts", "REAL"), ("model_version", "TEXT"), ("role", "TEXT"),
                       ("inputs", "TEXT"), ("prediction", "TEXT"), ("probability", "REAL"), ("latency_ms", "REAL")]
    assert [r[0] for r in rows] == [one["request_id"]] + [f"{many['request_id']}/{i}" for i in range(3)]
    assert {r[1] for r in rows} == {one["model_version"]} and {r[2] for r in rows} == {"champion"}
    dates = {"signup_date", "last_login"}  # logged as validated: ISO date-times
    assert json.loads(rows[0][3]) == {k: f"{v}T00:00:00" if k in dates else v for k, v in recs[0].items()}
    assert [json.loads(r[4]) for r in rows[1:]] == [p["prediction"] for p in many["predictions"]]
    assert [r[5] for r in rows[1:]] == [p["probability"] for p in many["predictions"]]
    assert all(r[6] > 0 and r[7] > 1.7e9 for r in rows)


def test_shadow_challenger_is_logged_never_returned_and_compared(churn_bundle, challenger_bundle, churn_frame, tmp_path):
    log = tmp_path / "shadow.db"
    recs = records(churn_frame, 40)
    with TestClient(create_app(churn_bundle, challenger=challenger_bundle, mode="shadow", log=log)) as c:
        body = c.post("/predict", json=recs).json()
        health = c.get("/health").json()
        c.app.state.serve.log.flush()
    champion, challenger = ModelBundle.load(churn_bundle), ModelBundle.load(challenger_bundle)
    assert body["model_version"] == champion.version
    assert health["challenger"] == {"model_version": challenger.version, "mode": "shadow", "canary_share": None}
    result = compare_log(log)
    a = (expected_proba(churn_bundle, recs) >= 0.5).astype(int)
    b = (expected_proba(challenger_bundle, recs) >= 0.5).astype(int)
    assert result.n_paired == 40
    assert result.agreement == pytest.approx(float((a == b).mean()))
    pa, pb = expected_proba(churn_bundle, recs), expected_proba(challenger_bundle, recs)
    assert result.mean_abs_probability_diff == pytest.approx(float(np.abs(pa - pb).mean()))
    assert result.roles["challenger"]["versions"] == [challenger.version]
    assert result.roles["champion"]["probability"]["p50"] == pytest.approx(float(np.median(pa)))


def test_canary_answers_its_share_of_requests(churn_bundle, challenger_bundle, churn_frame, tmp_path):
    rec = records(churn_frame, 1)[0]
    versions = {ModelBundle.load(churn_bundle).version: "champion", ModelBundle.load(challenger_bundle).version: "challenger"}
    app = create_app(churn_bundle, challenger=challenger_bundle, mode="canary", canary_share=0.25, log=tmp_path / "c.db",
                     runtime="onnx")
    with TestClient(app) as c:
        served = [versions[c.post("/predict", json=rec).json()["model_version"]] for _ in range(80)]
        app.state.serve.log.flush()
    import random

    rng = random.Random(0)  # the app's canary draws, replayed
    assert served == ["challenger" if rng.random() < 0.25 else "champion" for _ in range(80)]
    result = compare_log(tmp_path / "c.db")
    assert result.n_paired == 0 and result.agreement is None
    assert result.roles["challenger"]["n"] == served.count("challenger")
    assert result.notes == ["no request was scored by both models (canary mode): agreement needs shadow mode"]


def test_onnx_runtime_serves_the_same_probabilities(churn_bundle, churn_frame):
    recs = records(churn_frame, 300, start=500)
    with TestClient(create_app(churn_bundle, runtime="onnx")) as c:
        many = c.post("/predict", json=recs).json()  # dates vectorised with numpy
        few = [c.post("/predict", json=r).json() for r in recs[:30]]  # the per-record fast path
        health = c.get("/health").json()
    want = expected_proba(churn_bundle, recs)
    assert health["runtime"] == "onnx"
    assert np.abs(np.array([p["probability"] for p in many["predictions"]]) - want).max() <= 1e-4
    assert np.abs(np.array([p["probability"] for p in few]) - want[:30]).max() <= 1e-4


def test_create_app_refuses_bad_options(churn_bundle, tmp_path):
    with pytest.raises(MlsmithError, match="mode must be 'shadow' or 'canary'; got 'blue'"):
        create_app(churn_bundle, challenger=churn_bundle, mode="blue")
    with pytest.raises(MlsmithError, match="canary share must be between 0 and 1; got 2"):
        create_app(churn_bundle, canary_share=2)
    with pytest.raises(BundleError, match="runtime must be 'sklearn' or 'onnx'; got 'tf'"):
        create_app(churn_bundle, runtime="tf")
    with pytest.raises(BundleError, match="does not exist"):
        create_app(churn_bundle, challenger=tmp_path / "nothing")


def test_concurrent_requests_are_scored_in_one_call_and_each_gets_its_own_answer(churn_bundle, churn_frame):
    import asyncio

    import httpx

    app = create_app(churn_bundle, runtime="onnx")
    scorer, calls = app.state.serve.champion, []
    score = scorer.score
    scorer.score = lambda recs: calls.append(len(recs)) or score(recs)
    recs = records(churn_frame, 30)
    bodies = [recs[i] if i % 3 else recs[i:i + 2] for i in range(20)]  # single records and short lists

    async def send_all():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(*(client.post("/predict", json=body) for body in bodies))

    answers = [r.json() for r in asyncio.run(send_all())]
    want = expected_proba(churn_bundle, recs)
    for i, answer in enumerate(answers):
        got = answer["probability"] if i % 3 else [p["probability"] for p in answer["predictions"]]
        np.testing.assert_allclose(got, want[i] if i % 3 else want[i:i + 2], atol=1e-4)
    assert sum(calls) == sum(1 if i % 3 else 2 for i in range(20)) and len(calls) < len(bodies), calls


def test_a_record_that_cannot_be_scored_fails_only_its_own_request():
    import asyncio

    from mlsmith.deploy._runtime import UnscorableRecords
    from mlsmith.deploy._serve import _Batcher

    class Scorer:
        def score(self, recs):
            if any(r["x"] is None for r in recs):
                raise UnscorableRecords([i for i, r in enumerate(recs) if r["x"] is None])
            return [{"prediction": r["x"]} for r in recs]

    batcher = _Batcher(Scorer())

    async def together():
        bodies = [[{"x": 1}], [{"x": None}], [{"x": 3}, {"x": 4}]]
        return await asyncio.gather(*(batcher.score(b) for b in bodies), return_exceptions=True)

    first, bad, last = asyncio.run(together())
    assert first == [{"prediction": 1}] and last == [{"prediction": 3}, {"prediction": 4}]
    assert isinstance(bad, UnscorableRecords) and bad.indices == [0]


def _listening(port: int) -> int:
    """Sockets listening on 127.0.0.1:port (Linux's /proc/net/tcp): one per ready worker."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == f"0100007F:{port:04X}" and line.split()[3] == "0A")


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="SO_REUSEPORT load balancing is Linux's")
def test_two_worker_processes_share_the_port_the_log_and_the_metrics(churn_bundle, churn_frame, tmp_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log, url = tmp_path / "workers.db", f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlsmith", "serve", str(churn_bundle), "--port", str(port), "--workers", "2",
               "--runtime", "onnx", "--log", str(log)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as server:
        try:
            end = time.time() + 120
            while _listening(port) < 2:  # both workers have loaded the bundle
                assert server.poll() is None and time.time() < end, server.stderr.read().decode()
                time.sleep(0.2)
            rec = json.dumps(records(churn_frame, 1)[0]).encode()
            post = urllib.request.Request(url + "/predict", rec, {"Content-Type": "application/json"})
            # a connection each, spread over the two workers by the kernel
            ids = [json.loads(urllib.request.urlopen(post, timeout=30).read())["request_id"] for _ in range(60)]
            metrics = [urllib.request.urlopen(url + "/metrics", timeout=30).read().decode() for _ in range(6)]
        finally:
            server.terminate()
        assert server.wait(timeout=60) == 0  # the workers stopped cleanly, their logs drained
    assert all('mlsmith_requests_total{route="/predict",status="200"} 60.0' in text for text in metrics)  # the sum
    with sqlite3.connect(log) as conn:
        logged = [r[0] for r in conn.execute("SELECT request_id FROM predictions")]
    conn.close()
    assert sorted(logged) == sorted(ids)  # both processes' rows, none lost


# --- who may call the server, and what a request may cost it (issue 17, item 7) ---

KEY = "0123456789abcdef0123456789abcdef"


def test_the_api_key_guards_predict_and_metadata_and_docs_are_off(churn_bundle, churn_frame):
    rec = records(churn_frame, 1)[0]
    with TestClient(create_app(churn_bundle, api_key=KEY)) as c:
        for response in (c.post("/predict", json=rec), c.get("/metadata"),
                         c.post("/predict", json=rec, headers={"Authorization": "Bearer " + KEY[:-1] + "0"}),
                         c.post("/predict", json=rec, headers={"Authorization": KEY})):
            assert (response.status_code, response.headers["www-authenticate"]) == (401, "Bearer")
            assert response.json() == {"detail": "this server needs its API key: send the header "
                                                 "'Authorization: Bearer <key>'."}
            assert KEY not in response.text
        auth = {"Authorization": f"bearer {KEY}"}  # the scheme is case-insensitive
        assert c.post("/predict", json=rec, headers=auth).json()["probability"] == pytest.approx(
            expected_proba(churn_bundle, [rec])[0], abs=1e-12)
        assert c.get("/metadata", headers=auth).json()["task"] == "binary_classification"
        assert c.get("/health").status_code == 200 and c.get("/metrics").status_code == 200  # probes need no key
        assert [c.get(p, headers=auth).status_code for p in ("/docs", "/redoc", "/openapi.json")] == [404] * 3
    with TestClient(create_app(churn_bundle, api_key=KEY, docs=True)) as c:
        assert c.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]["401"]
    with TestClient(create_app(churn_bundle, docs=False)) as c:
        assert c.get("/docs").status_code == 404 and c.get("/metadata").status_code == 200
    assert KEY not in repr(create_app(churn_bundle, api_key=KEY).state.serve)


def test_a_key_that_cannot_travel_in_a_header_is_refused_without_showing_it(churn_bundle):
    with pytest.raises(MlsmithError, match="the API key must be printable ASCII characters without spaces; "
                                           "got a key of 10 characters") as info:
        create_app(churn_bundle, api_key="secret key")
    assert "secret" not in str(info.value)
    with pytest.raises(MlsmithError, match="got a key of 0 characters"):
        create_app(churn_bundle, api_key="")


def test_predict_takes_only_json_so_a_web_page_cannot_post_into_the_log(churn_bundle, churn_frame, tmp_path):
    rec = records(churn_frame, 1)[0]
    log = tmp_path / "p.db"
    with TestClient(create_app(churn_bundle, log=log)) as c:
        plain = c.post("/predict", content=json.dumps(rec), headers={"Content-Type": "text/plain"})
        form = c.post("/predict", data={"age": "40"})
        bare = c.post("/predict", content=json.dumps(rec), headers={"Content-Type": ""})
        ok = c.post("/predict", content=json.dumps(rec), headers={"Content-Type": "Application/JSON; charset=utf-8"})
        c.app.state.serve.log.flush()
    assert (plain.status_code, form.status_code, bare.status_code, ok.status_code) == (415, 415, 415, 200)
    assert plain.json() == {"detail": "POST /predict takes a JSON body with the header 'Content-Type: "
                                      "application/json'; got 'text/plain'."}
    assert "application/x-www-form-urlencoded" in form.json()["detail"]
    with sqlite3.connect(log) as conn:
        logged = [r[0] for r in conn.execute("SELECT request_id FROM predictions")]
    conn.close()
    assert logged == [ok.json()["request_id"]]


def test_on_loopback_a_request_for_another_host_is_refused(churn_bundle, churn_frame):
    rec = records(churn_frame, 1)[0]
    with TestClient(create_app(churn_bundle, host="127.0.0.1"), base_url="http://127.0.0.1:8000") as c:
        assert c.post("/predict", json=rec).status_code == 200
        for host in ("localhost:8000", "LOCALHOST", "[::1]:8000"):
            assert c.get("/health", headers={"host": host}).status_code == 200
        rebound = c.post("/predict", json=rec, headers={"host": "attacker.example:8000"})
        assert rebound.status_code == 421
        assert rebound.json() == {"detail": "this server listens on loopback and answers only requests addressed to "
                                            "localhost or 127.0.0.1 (or a name given with --allow-host); the Host "
                                            "header was 'attacker.example:8000'."}
        assert c.get("/metrics", headers={"host": "127.0.0.1.attacker.example"}).status_code == 421
    proxied = create_app(churn_bundle, host="127.0.0.1", allowed_hosts=["Models.Example"])
    with TestClient(proxied, base_url="http://models.example") as c:  # behind a reverse proxy on this machine
        assert c.post("/predict", json=rec).status_code == 200
        assert c.get("/health", headers={"host": "other.example"}).status_code == 421
    with TestClient(create_app(churn_bundle, host="0.0.0.0")) as c:  # a public address has many names: no check
        assert c.post("/predict", json=rec, headers={"host": "models.example"}).status_code == 200


def test_a_422_lists_a_bounded_number_of_errors_each_with_an_excerpt(churn_bundle, churn_frame):
    recs = records(churn_frame, 200)
    long_value = "x" * 5000
    bad = [{**r, "contract": "Weekly"} for r in recs] * 300  # 60,000 records, every one wrong: ~17 MB
    bad[0] = {**recs[0], "colour": long_value}
    body = json.dumps(bad).encode()
    with TestClient(create_app(churn_bundle)) as c:
        response = c.post("/predict", content=body, headers=JSON)
        small = c.post("/predict", json={**recs[0], "colour": long_value})
    assert len(body) > 15_000_000 and response.status_code == 422 and len(response.content) < 20_000
    detail = response.json()["detail"]
    assert detail[0] == {"type": "extra_forbidden", "loc": ["body", 0, "colour"],
                         "msg": "Extra inputs are not permitted", "input": "x" * 1000 + "..."}
    assert [d["loc"] for d in detail[1:50]] == [["body", i, "contract"] for i in range(1, 50)]
    assert detail[50] == {"type": "too_many_errors", "loc": ["body"], "input": None,
                          "msg": "only the first 50 errors are listed; fix them and send the request again"}
    assert small.json()["detail"][0]["input"] == "x" * 1000 + "..."


def test_large_bodies_validated_in_pieces_match_validating_at_once(churn_bundle, churn_frame):
    from pydantic import ValidationError

    from mlsmith.deploy._guard import ClientError, validate_large
    from mlsmith.deploy._schema import RecordValidator, error_details

    validator = RecordValidator(ModelBundle.load(churn_bundle).schema)
    recs = records(churn_frame, 200) * 20  # 4,000 records, ~1.2 MB: about 20 pieces
    recs[1234] = {**recs[1234], "customer_id": "a}, {b"}  # a split point inside a string
    body = json.dumps(recs).encode()
    assert validate_large(validator, body) == validator.validate(body)
    recs[1234] = {**recs[1234], "contract": "Weekly"}
    recs[3999] = {**recs[3999], "age": "old"}
    body = json.dumps(recs, indent=1).encode()
    with pytest.raises(ValidationError) as at_once:
        validator.validate(body)
    with pytest.raises(ClientError) as pieces:
        validate_large(validator, body)
    assert pieces.value.status == 422 and pieces.value.detail == error_details(at_once.value)
    with pytest.raises(ValidationError) as at_once:
        validator.validate(body[:-2])
    with pytest.raises(ClientError) as broken:
        validate_large(validator, body[:-2])
    assert broken.value.detail == error_details(at_once.value)  # same message and position, excerpt and all
    with pytest.raises(ClientError, match="a record is larger than the limit of 65536 bytes"):
        validate_large(validator, json.dumps([recs[0], {"k" + str(i): 0 for i in range(20_000)}]).encode())


def test_the_budget_holds_large_bodies_and_never_refuses_a_lone_request():
    from mlsmith.deploy._guard import ClientError, Gate

    gate, limit = Gate(None, None, 1_000_000), 10**8
    with pytest.raises(ClientError, match="request body is larger than the limit of 100 bytes"):
        gate.reserve(b"101", 100)
    first = gate.reserve(b"900000", limit)
    assert gate.reserve(b"65536", limit) is None  # a small body is not held: single records always get in
    with pytest.raises(ClientError) as busy:
        gate.reserve(b"200000", limit)
    assert (busy.value.status, busy.value.headers) == (503, ((b"retry-after", b"1"),))
    assert busy.value.detail == ("the server is busy with other large requests (900000 body bytes in flight); "
                                 "retry in 1 s or send fewer records per request.")
    streamed = gate.reserve(None, limit)  # no Content-Length: held as it arrives
    streamed.take(60_000)
    with pytest.raises(ClientError, match="busy"):
        streamed.take(60_000)
    streamed.release()
    first.release()
    assert gate.inflight == 0
    lone = gate.reserve(b"5000000", limit)  # larger than the whole budget, but alone
    assert gate.inflight == 5_000_000
    lone.release()


@pytest.fixture(scope="module")
def server(churn_bundle):
    """`mlsmith serve` on 127.0.0.1 with an API key from the environment and a 20 MB in-flight budget."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "mlsmith", "serve", str(churn_bundle), "--port", str(port), "--workers", "1",
               "--runtime", "onnx", "--max-inflight-mb", "20"]
    with subprocess.Popen(command, env={**os.environ, "MLSMITH_API_KEY": KEY}, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as process:
        url, end = f"http://127.0.0.1:{port}", time.time() + 120
        try:
            while True:
                assert process.poll() is None and time.time() < end, process.stderr.read().decode()
                try:
                    httpx.get(url + "/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.2)
            yield process, url
        finally:
            process.terminate()
            process.wait(timeout=60)


def _peak_rss_mb(pid: int) -> float:
    return next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmHWM")) / 1024


AUTH = {"Authorization": f"Bearer {KEY}", **JSON}


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak memory is read from Linux's /proc")
def test_concurrent_large_bodies_past_the_budget_get_503_and_memory_stays_bounded(server, churn_frame):
    import asyncio

    import httpx

    process, url = server
    body = json.dumps(records(churn_frame, 200) * 150).encode()  # 30,000 records, ~9 MB; the budget holds two
    before = _peak_rss_mb(process.pid)

    async def send(n):
        async with httpx.AsyncClient(timeout=120) as client:
            return await asyncio.gather(*(client.post(url + "/predict", content=body, headers=AUTH) for _ in range(n)))

    answers = asyncio.run(send(8))
    grown = _peak_rss_mb(process.pid) - before
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200] + [503] * 6, statuses
    busy = next(r for r in answers if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["detail"].startswith("the server is busy with other large requests (")
    assert all(len(r.json()["predictions"]) == 30_000 for r in answers if r.status_code == 200)
    # each 9 MB body takes ~60 MB once validated and scored: two at a time, not eight (~500 MB)
    assert grown < 250, f"peak RSS grew by {grown:.0f} MB"
    assert httpx.post(url + "/predict", content=body, headers=AUTH, timeout=120).status_code == 200  # budget released


def test_health_answers_while_a_large_body_is_validated(server, churn_frame):
    import threading
    import time

    import httpx

    _, url = server
    body = json.dumps(records(churn_frame, 200) * 300).encode()  # 60,000 records, ~18 MB
    waits, done = [], threading.Event()

    def poll():
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                assert client.get(url + "/health").status_code == 200
                waits.append(time.perf_counter() - started)
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    started = time.perf_counter()
    response = httpx.post(url + "/predict", content=body, headers=AUTH, timeout=120)
    took = time.perf_counter() - started
    done.set()
    poller.join()
    assert response.status_code == 200 and len(response.json()["predictions"]) == 60_000
    # validating 18 MB in one piece held the event loop for about a third of the request (~1 s)
    assert len(waits) >= 10 and max(waits) < 0.2 * took, (max(waits), took, len(waits))


def test_over_http_the_key_the_content_type_and_the_host_are_checked(server, churn_frame):
    import httpx

    process, url = server
    rec = json.dumps(records(churn_frame, 1)[0])
    assert httpx.post(url + "/predict", content=rec, headers=JSON).status_code == 401
    assert httpx.post(url + "/predict", content=rec, headers=AUTH).status_code == 200
    assert httpx.post(url + "/predict", content=rec, headers={**AUTH, "Content-Type": "text/plain"}).status_code == 415
    assert httpx.get(url + "/health", headers={"Host": "rebound.example"}).status_code == 421
    assert httpx.get(url + "/docs").status_code == 404  # docs are off once there is a key
    assert httpx.get(url + "/metrics").status_code == 200


def test_cli_serve_takes_the_key_from_the_environment_and_warns_on_a_public_address(monkeypatch, capsys, churn_bundle):
    import mlsmith.deploy
    from mlsmith.cli import main

    calls = []
    monkeypatch.setattr(mlsmith.deploy, "serve", lambda bundle, **options: calls.append(options), raising=False)
    main(["serve", str(churn_bundle), "--host", "0.0.0.0", "--workers", "1"])
    out, err = capsys.readouterr()
    assert err.replace("\n", " ") == ("Warning: serving on 0.0.0.0 without an API key: anyone who can reach this "
                                      "address can score records, write to the prediction log and read /metadata; "
                                      "set --api-key or MLSMITH_API_KEY. ")
    assert "(docs at /docs)" in out and calls[0]["api_key"] is None and calls[0]["docs"] is None
    monkeypatch.setenv("MLSMITH_API_KEY", KEY)
    main(["serve", str(churn_bundle), "--host", "0.0.0.0", "--workers", "1", "--max-inflight-mb", "8"])
    out, err = capsys.readouterr()
    assert err == "" and "API key required" in out and "docs" not in out and KEY not in out
    assert (calls[1]["api_key"], calls[1]["max_inflight_bytes"]) == (KEY, 8 * 1024 * 1024)
    main(["serve", str(churn_bundle), "--workers", "1", "--allow-host", "a.example", "--allow-host", "b.example"])
    assert calls[2]["allowed_hosts"] == ("a.example", "b.example") and capsys.readouterr().err == ""
