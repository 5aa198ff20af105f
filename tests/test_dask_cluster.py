"""Runs on a Dask cluster of worker processes: ``--cluster local[:N]`` and a partitioned Parquet table.

The end-to-end test starts a LocalCluster of 3 worker processes whose memory limit (900 MB) is
smaller than the table (1.0 GB as pandas holds it, 1M rows in 25 Parquet files), and checks the
final LightGBM model was trained through ``lightgbm.dask`` over the partitions, predicts as well as
the data allow, and that no worker was restarted by its nanny (which kills a worker past 95 % of
its limit) nor outlives the cluster.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("dask.distributed")
pytest.importorskip("lightgbm.dask")

import dask  # after the skips: Dask is an optional dependency
from dask.distributed import Client, LocalCluster
from sklearn.metrics import roc_auc_score

import mlsmith._dask
from mlsmith._cluster import WORKER_ENV, compute_backend, dask_client
from mlsmith.deploy import ModelBundle
from mlsmith.exceptions import MlsmithError
from mlsmith.problem import load_problem
from mlsmith.workflow import run

#: Per-worker memory limit; its nanny restarts a worker past 95 % of it.
LIMIT_MB = 900
N_ROWS, N_PARTS = 1_000_000, 25


def _pid() -> int:
    return os.getpid()


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def _footprint() -> float:
    """A worker's memory with the model libraries imported, before it holds any data."""
    import lightgbm  # noqa: F401

    import mlsmith.preprocess  # noqa: F401

    return _rss_mb()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


#: The tracking parameters an ad platform appends to every URL it links.
_TRACKING = ("&gclid=EAIaIQobChMI8ZqL2Yv3_QIVGJ3VCh3k7wXKEAAYASAAEgJ3_fD_BwE&fbclid=IwAR2xQ7n5Jm0sY1Lk9PqRtVwZ"
             "&msclkid=4f1c2e9a7b3d4e5f8a6b1c2d3e4f5a6b&_ga=2.123456789.987654321.1712345678-1234567890.1712345678"
             "&_gl=1*1x2y3z4*_ga*MTIzNDU2Nzg5LjE3MTIzNDU2Nzg.*_ga_ABCDEF1234*MTcxMjM0NTY3OC4xLjEuMTcxMjM0NTY5MC4wLjAuMA..")


class _Sessions:
    """Web sessions: the page and the referrer (long URLs, as web logs hold them), two numbers, and
    whether the visit ended in a purchase.

    The purchase probability is known (a logistic model of the page, the referrer and the numbers),
    so the best AUC any model can reach on fresh rows is known too. The URLs make the table large in
    memory for its row count, which keeps the distributed fit quick.
    """

    def __init__(self, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.pages = np.array([f"https://shop.example.com/catalog/department-{i:02d}/products/featured-collection"
                               f"?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale-2026-week-{i:02d}"
                               f"&utm_content=hero-banner-variant-b&session_origin=mobile-app{_TRACKING}" for i in range(12)])
        self.referrers = np.array([f"https://www.search-engine-{i}.example.org/results?query=discount+running+shoes"
                                   f"+size+42&page=1&lang=en&region=eu-west&source=organic-listing-{i:02d}"
                                   f"&tracking=disabled{_TRACKING}" for i in range(6)])
        self.page_effect, self.referrer_effect = rng.normal(0, 1.0, 12), rng.normal(0, 0.5, 6)

    def rows(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        page, referrer = rng.integers(0, len(self.pages), n), rng.integers(0, len(self.referrers), n)
        seconds, viewed = rng.exponential(60.0, n), rng.poisson(4, n).astype(float)
        logit = self.page_effect[page] + self.referrer_effect[referrer] + 0.01 * seconds + 0.2 * viewed - 3.0
        proba = 1 / (1 + np.exp(-logit))
        bought = np.where(rng.random(n) < proba, "yes", "no")
        frame = pd.DataFrame({"page": self.pages[page], "referrer": self.referrers[referrer],
                              "seconds_on_page": seconds, "pages_viewed": viewed, "bought": bought})
        return frame, proba

    def write(self, folder: Path, n_rows: int, n_parts: int, seed: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rng = np.random.default_rng(seed)
        folder.mkdir()
        for i in range(n_parts):
            frame, _ = self.rows(n_rows // n_parts, rng)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            for name in ("page", "referrer"):  # Parquet writers dictionary-encode repeated text
                table = table.set_column(table.schema.get_field_index(name), name,
                                         table[name].dictionary_encode())
            pq.write_table(table, folder / f"part-{i:03d}.parquet")


@pytest.mark.slow
def test_partitioned_table_trains_through_lightgbm_dask_on_workers_too_small_for_it(tmp_path, monkeypatch):
    sessions = _Sessions()
    sessions.write(tmp_path / "sessions", N_ROWS, N_PARTS, seed=1)
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump({
        "target": "bought", "positive_class": "yes", "success_metric": "roc_auc", "data": {"path": "sessions"},
        "models": ["lightgbm"], "features": "none", "split": {"cv_folds": 3},
        "tuning": {"method": "none", "learning_curve": False},
    }))
    monkeypatch.setattr(mlsmith._dask, "SAMPLE_ROWS", 8000)  # stages 2-6 in this process stay cheap
    # No spilling to disk and no pause: the limit is enforced by the nanny alone, which kills a worker past 95 %.
    memory = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False}
    with dask.config.set(memory), LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                               memory_limit=f"{LIMIT_MB}MB", dashboard_address=":0",
                                               env=WORKER_ENV) as cluster, Client(cluster) as client:
        footprint = max(client.run(_footprint).values())
        table = mlsmith._dask.read_partitioned(load_problem(tmp_path / "problem.yaml"), client).frame
        table_mb = table.map_partitions(lambda part: part.memory_usage(deep=True).sum()).sum().compute() / 1e6
        workers = dict(client.run(_pid))
        result = run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", cluster=cluster.scheduler_address)
        assert dict(client.run(_pid)) == workers  # no worker was restarted for its memory
    # Not one worker could hold the table (1.0 GB in memory): its limit is lower, and what the limit
    # leaves beside the worker's own libraries (~265 MB) lower still.
    assert table_mb > LIMIT_MB and table_mb > 0.95 * LIMIT_MB - footprint, (table_mb, footprint)
    assert not [pid for pid in workers.values() if _alive(pid)]  # the workers ended with the cluster

    results = json.loads((result.run_dir / "results.json").read_text())
    assert results["bundle"]["trained_by"] == "lightgbm.dask.DaskLGBMClassifier"
    assert results["bundle"]["workers"] == 3 and results["bundle"]["partitions"] == N_PARTS
    n_train = results["split"]["n_train"]
    assert n_train + results["split"]["n_test"] == N_ROWS and 0.78 < n_train / N_ROWS < 0.82
    bundle = ModelBundle.load(result.run_dir / "model")
    assert bundle.metadata["trained_by"] == "lightgbm.dask.DaskLGBMClassifier"
    assert bundle.metadata["n_train"] == n_train  # every training row, not the sample
    notes = " ".join(results["notes"])
    for side, rows in (("training", n_train), ("test", N_ROWS - n_train)):  # a draw of about 8000 of each side's rows
        seen = re.search(rf"a random sample of (\d+) of the {rows} {side} rows", notes)
        assert seen and abs(int(seen[1]) - 8000) < 300, notes

    # Fresh rows of the same sessions: the bundle ranks them nearly as well as the true probability does.
    fresh, proba = sessions.rows(20_000, np.random.default_rng(99))
    best = roc_auc_score(fresh["bought"] == "yes", proba)
    got = roc_auc_score(fresh["bought"] == "yes", bundle.predict(fresh.drop(columns="bought"))["probability"])
    assert got > best - 0.02, (got, best)
    assert results["evaluation"]["test_metrics"]["roc_auc"] > best - 0.03


def test_local_cluster_runs_worker_processes_and_ends_them():
    # Dask's default dashboard port held by something else (another run's cluster, a notebook's
    # dashboard) must not stop this one: two `--cluster local` runs at once both start.
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 8787))
        taken.listen()
    except OSError:  # already held by someone: the same situation
        pass
    with taken, dask_client("local:2") as client:
        pids = set(client.run(_pid).values())
        with compute_backend(client) as where:
            assert where == "dask (local, 2 worker processes, 2 threads)"
    assert len(pids) == 2 and os.getpid() not in pids
    assert not [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("cluster, message", [
    ("local:0", r"--cluster local:N needs a positive number of worker processes; got 'local:0'\. Use e\.g\. local:3\."),
    ("locale", r"--cluster must be 'local', 'local:N' or a scheduler address like tcp://host:8786; got 'locale'\."),
])
def test_cluster_values_that_name_no_cluster_are_refused(cluster, message):
    with pytest.raises(MlsmithError, match=message), dask_client(cluster):
        pass


def test_time_ordered_split_on_partitions_is_the_split_made_on_one_machine(tmp_path):
    from mlsmith.data import read_table
    from mlsmith.split import split_train_test

    bikes = pd.read_csv(Path(__file__).parent / "data" / "bikeshare_2011.csv")
    (tmp_path / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(bikes)), 4)):
        bikes.iloc[rows].to_parquet(tmp_path / "parts" / f"part-{i}.parquet", index=False)
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump({
        "target": "bikers", "type": "regression", "data": {"path": "parts", "time_column": "datetime"}}))
    problem = load_problem(tmp_path / "problem.yaml")
    with dask_client("local:2") as client:
        train, held_out, info, _ = mlsmith._dask.read_partitioned(problem, client).split(problem)
    one_train, one_held_out, one_info = split_train_test(read_table(tmp_path / "parts"), problem.resolve(bikes["bikers"]))
    assert (info.n_train, info.n_test) == (one_info.n_train, one_info.n_test) == (2400, 600)
    assert train["datetime"].tolist() == one_train["datetime"].tolist()  # the same rows, in time order
    assert sorted(held_out.read()["datetime"]) == sorted(one_held_out.read()["datetime"])
    assert info.description.startswith(one_info.description)


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns=lambda c: c.replace(" ", "_"))


# Killed as LightGBM's network starts (the other worker then waits to connect to it: the hang of the
# 10M-row benchmark) and two seconds into training (the other worker's socket fails).
@pytest.mark.parametrize("wait_s", [0.0, 2.0])
def test_a_worker_lost_during_the_distributed_fit_ends_it_with_one_error_not_a_hang(wait_s):
    import signal
    import threading
    import time

    import dask.dataframe as dd
    from lightgbm import LGBMClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from mlsmith.target import TargetCodec

    frame = _breast_cancer()
    features = [c for c in frame.columns if c != "target"]
    codec = TargetCodec.fit(frame["target"], "binary_classification", positive_class=1)
    # Far more trees than the rows need at a learning rate that leaves every tree a split: the fit
    # is still running when the worker is killed.
    model = LGBMClassifier(n_estimators=10_000_000, learning_rate=1e-9, min_child_samples=2, verbose=-1)
    pipeline = Pipeline([("prep", StandardScaler()), ("model", model)])
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GB",
                      dashboard_address=":0", env=WORKER_ENV) as cluster, Client(cluster) as client:
        rows = dd.from_pandas(frame, npartitions=4)
        lengths = [int(n) for n in rows.map_partitions(len).compute()]
        table = mlsmith._dask.PartitionedTable(rows, "breast cancer", client, train=rows, train_lengths=lengths)
        pids = dict(client.run(_pid))

        def kill_one_once_training() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                running = [k for keys in client.processing().values() for k in keys if "_train_part" in str(k)]
                if running:
                    time.sleep(wait_s)
                    os.kill(next(iter(pids.values())), signal.SIGKILL)
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_one_once_training, daemon=True)
        killer.start()
        start = time.monotonic()
        with pytest.raises(MlsmithError, match=(
                r"^Dask worker tcp://127\.0\.0\.1:\d+ \(memory limit 1\.00 GB\) was lost during the distributed "
                r"LightGBM fit of 569 rows over 2 workers \(a worker's nanny restarts it past 95 % of its memory "
                r"limit; the others would wait for it without end\); raise the workers' memory limit or use more "
                r"workers\.$")):
            mlsmith._dask.fit_final(pipeline, table, features, "target", codec, frame[features],
                                    codec.encode(frame["target"]))
        waited = time.monotonic() - start
        killer.join()
    assert waited < 90, waited
    assert not [pid for pid in pids.values() if _alive(pid)]  # the cluster's close ended the stuck worker  # training started within seconds, the loss is seen within one poll


def test_partitions_reach_lightgbm_dask_as_float32():
    from sklearn.preprocessing import StandardScaler

    frame = _breast_cancer()
    features = [c for c in frame.columns if c != "target"]
    prep = StandardScaler().fit(frame[features])
    X = mlsmith._dask._features(frame, prep, features)
    assert X.dtype == np.float32 and X.nbytes == len(frame) * len(features) * 4  # half of float64's bytes
    # LightGBM's 255 bins a feature: float32 keeps every distinct value of this table apart.
    expected = prep.transform(frame[features])
    assert all(len(np.unique(X[:, j])) == len(np.unique(expected[:, j])) for j in range(len(features)))
