"""MLflow: a run logged to a real tracking store and a real `mlflow server`, its bundle served as a pyfunc model."""

import json
import os
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from mlsmith import ModelBundle, log_to_mlflow
from mlsmith import run as mlsmith_run
from mlsmith.exceptions import MlsmithError

from conftest import EXAMPLES, run_cli, write_problem

mlflow = pytest.importorskip("mlflow")  # the `test` extra installs it: CI always runs these


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A cheap breast-cancer run, logged by `mlsmith run --mlflow-uri` to a local SQLite store."""
    folder = tmp_path_factory.mktemp("mlflow")
    spec = yaml.safe_load((EXAMPLES / "breast_cancer" / "problem.yaml").read_text())
    spec.update(models=["linear"], tuning={"method": "none"}, constraints={})
    spec["data"]["path"] = str(EXAMPLES / "breast_cancer" / "breast_cancer.csv")
    (folder / "problem.yaml").write_text(yaml.safe_dump(spec))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    here = os.getcwd()
    os.chdir(folder)  # a database store keeps artifacts in ./mlruns: the test's folder, not the repository
    try:
        assert run_cli("run", str(folder / "problem.yaml"), "--runs-dir", str(folder / "runs"), "--jobs", "1",
                      "--mlflow-uri", uri) == 0
        run_dir = next(p for p in (folder / "runs").iterdir() if p.is_dir() and p.name[0].isdigit())
        yield folder, uri, run_dir
    finally:
        os.chdir(here)


def test_a_run_logs_its_spec_metrics_verdict_artifacts_and_model(logged):
    folder, uri, run_dir = logged
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("Breast cancer diagnosis")
    [logged_run] = client.search_runs([experiment.experiment_id])
    results = json.loads((run_dir / "results.json").read_text())
    verdict = results["evaluation"]["verdict"]
    assert logged_run.data.tags["mlsmith.verdict"] == verdict["status"]
    assert logged_run.data.tags["mlsmith.run_id"] == run_dir.name
    assert logged_run.data.params["target"] == "target" and logged_run.data.params["split.cv_folds"] == "5"
    assert logged_run.data.metrics["test_recall"] == pytest.approx(results["evaluation"]["test_metrics"]["recall"])
    assert "cv_recall" in logged_run.data.metrics and "baseline_recall" in logged_run.data.metrics
    names = {a.path for a in client.list_artifacts(logged_run.info.run_id)}
    assert {"report.html", "results.json", "leaderboard.csv", "problem.yaml", "figures"} <= names
    model = mlflow.pyfunc.load_model(f"runs:/{logged_run.info.run_id}/model")
    rows = pd.read_csv(EXAMPLES / "breast_cancer" / "breast_cancer.csv").drop(columns=["target"])
    pd.testing.assert_frame_equal(model.predict(rows), ModelBundle.load(run_dir / "model").predict(rows))
    inputs = model.metadata.get_input_schema().input_names()
    assert set(inputs) == set(ModelBundle.load(run_dir / "model").schema.features())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_past_run_is_exported_to_a_real_mlflow_server(logged, tmp_path, capsys, monkeypatch):
    folder, _, run_dir = logged
    monkeypatch.chdir(tmp_path)  # whatever MLflow writes relative to the working folder stays in the test's
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
               "--artifacts-destination", str(tmp_path / "artifacts"), "--workers", "1"]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as server:
        try:
            url, end = f"http://127.0.0.1:{port}", time.time() + 120
            import httpx

            while True:
                assert server.poll() is None, server.stderr.read()[-2000:]
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.time() < end, "mlflow server did not start"
                time.sleep(0.5)
            capsys.readouterr()
            assert run_cli("runs", "export", run_dir.name, "--runs-dir", str(folder / "runs"), "--mlflow-uri", url,
                          "--experiment", "exported") == 0
            mlflow_id = capsys.readouterr().out.split()[-1]
            client = mlflow.MlflowClient(url)
            assert client.get_run(mlflow_id).data.tags["mlsmith.run_id"] == run_dir.name
            model = mlflow.pyfunc.load_model(f"runs:/{mlflow_id}/model")
            rows = pd.read_csv(EXAMPLES / "breast_cancer" / "breast_cancer.csv").drop(columns=["target"]).head(40)
            pd.testing.assert_frame_equal(model.predict(rows), ModelBundle.load(run_dir / "model").predict(rows))
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def test_an_unreachable_server_is_one_error_line_and_the_run_stays(logged, monkeypatch, capsys):
    folder, _, run_dir = logged
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    capsys.readouterr()
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    assert run_cli("runs", "export", run_dir.name, "--runs-dir", str(folder / "runs"), "--mlflow-uri", url) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: could not log to MLflow at '{url}'") and err.count("\n") == 1
    assert f"the run is saved at {run_dir}" in err and (run_dir / "results.json").is_file()


def test_without_the_extra_the_error_names_it(logged, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed: `import mlflow` raises ImportError
    with pytest.raises(MlsmithError, match=r"needs the mlflow extra: pip install 'mlsmith\[mlflow\]'"):
        log_to_mlflow(logged[2])


def test_the_model_takes_text_categories_dates_and_a_column_that_may_be_missing(tmp_path, churn_small):
    # From the h/mlflow slice: the signature types each column as training stored it (churn's integer
    # tenure is 'long'), and a column that had missing values is optional, imputed when left out.
    spec = write_problem(tmp_path, churn_small, target="churned", data={"id_columns": ["customer_id"]},
                         models=["linear"], tuning={"method": "none", "learning_curve": False}, features="none",
                         split={"test_size": 0.25, "cv_folds": 3})
    run_dir = mlsmith_run(spec, runs_dir=tmp_path / "runs", n_jobs=1).run_dir
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        run_id = log_to_mlflow(run_dir, tracking_uri=uri)
        mlflow.set_tracking_uri(uri)
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        os.chdir(here)
    columns = {c.name: (c.type.name, c.required) for c in model.metadata.signature.inputs.inputs}
    assert columns["contract"] == ("string", True) and columns["signup_date"] == ("string", True)
    assert columns["tenure_months"] == ("long", True) and columns["income"] == ("double", False)
    assert "customer_id" not in columns  # an id is never a feature
    bundle = ModelBundle.load(run_dir / "model")
    rows = churn_small.drop(columns="churned").head(200)
    pd.testing.assert_frame_equal(model.predict(rows), bundle.predict(rows))
    pd.testing.assert_frame_equal(model.predict(rows.drop(columns="income")), bundle.predict(rows.assign(income=None)))
