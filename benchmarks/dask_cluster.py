"""Dask worker processes: ``mlsmith run`` with and without ``--cluster local``, and a partitioned table
larger than a worker's memory limit trained through ``lightgbm.dask``.

    PYTHONPATH=src python benchmarks/dask_cluster.py [--rounds 2] [--rows 1000000]
    PYTHONPATH=src python benchmarks/dask_cluster.py --generated 10000000 [--worker-limit 3GB] [--work DIR]

Part 1 runs the breast cancer example alternately without and with ``--cluster local`` (wall time
of the whole command, and the verdict's metric). Part 2 writes the web-sessions table of
tests/test_dask_cluster.py, starts a LocalCluster of 3 worker processes with 900 MB each (no spill,
no pause: the nanny kills a worker past 95 %), runs the workflow on it, and reports the table's size
in memory, each worker's peak memory, the stage timings and the test AUC next to the best AUC the
data allow.

``--generated N`` instead runs the issue's scale case: the generated N x 20 table of
``benchmarks/scale_generated.py`` (the same rows, seed 0), written as one Parquet file per 500,000
rows, on a LocalCluster of 3 worker processes limited to ``--worker-limit`` each, with
``models: [lightgbm]`` and everything else the defaults (so the final model trains through
``lightgbm.dask`` on every training row). It prints the wall time, the peak memory of each worker
and of this process (the run's own), the verdict with its interval, and the test ROC AUC; run
``scale_generated.py --rows N --models lightgbm`` for the single-machine figures to set beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _watch_peak() -> int:
    """In a worker (or this process): sample its memory every 50 ms from now on."""
    import threading

    import psutil

    proc, state = psutil.Process(), {"peak": 0.0}

    def loop() -> None:
        while True:
            state["peak"] = max(state["peak"], proc.memory_info().rss / 1e6)
            time.sleep(0.05)

    threading.Thread(target=loop, daemon=True).start()
    psutil._mlsmith_peak = state  # read back by _peak
    return 0


def _peak() -> float:
    """The peak :func:`_watch_peak` saw; -1 in a process that never started it (a restarted worker)."""
    import psutil

    state = getattr(psutil, "_mlsmith_peak", None)
    return round(state["peak"]) if state else -1


def compare_backends(rounds: int, runs: Path) -> None:
    example = ROOT / "examples" / "breast_cancer" / "problem.yaml"
    for i in range(rounds):
        for extra in ([], ["--cluster", "local"]):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mlsmith", "run", str(example), "--runs-dir", str(runs), *extra],
                           check=True, capture_output=True)
            wall = time.perf_counter() - start
            result = json.loads((max(p for p in runs.iterdir() if p.is_dir()) / "results.json").read_text())
            metric = result["problem"]["success_metric"]
            print(f"round {i + 1} {' '.join(extra) or 'default':16s} wall {wall:5.1f} s  "
                  f"test {metric} {result['evaluation']['test_metrics'][metric]:.4f}  ({result['environment']['compute']})")


def partitioned(rows: int, folder: Path) -> None:
    import dask
    import numpy as np
    import yaml
    from dask.distributed import Client, LocalCluster
    from sklearn.metrics import roc_auc_score
    from test_dask_cluster import _footprint, _Sessions

    import mlsmith._dask
    from mlsmith._cluster import WORKER_ENV
    from mlsmith.problem import load_problem
    from mlsmith.workflow import run

    sessions = _Sessions()
    sessions.write(folder / "sessions", rows, 25, seed=1)
    (folder / "problem.yaml").write_text(yaml.safe_dump({
        "target": "bought", "positive_class": "yes", "success_metric": "roc_auc", "data": {"path": "sessions"},
        "models": ["lightgbm"], "features": "none", "split": {"cv_folds": 3},
        "tuning": {"method": "none", "learning_curve": False}}))
    mlsmith._dask.SAMPLE_ROWS = 8000
    memory = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False}
    with dask.config.set(memory), LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                               memory_limit="900MB", dashboard_address=":0",
                                               env=WORKER_ENV) as cluster, Client(cluster) as client:
        footprint = max(client.run(_footprint).values())
        table = mlsmith._dask.read_partitioned(load_problem(folder / "problem.yaml"), client).frame
        size = table.map_partitions(lambda part: part.memory_usage(deep=True).sum()).sum().compute() / 1e6
        client.run(_watch_peak)
        start = time.perf_counter()
        result = run(folder / "problem.yaml", runs_dir=folder / "runs", cluster=cluster.scheduler_address)
        wall = time.perf_counter() - start
        peaks = sorted(client.run(_peak).values())
    fresh, proba = sessions.rows(20_000, np.random.default_rng(99))
    print(f"table: {rows} rows, 25 Parquet files, {size:.0f} MB in memory; workers: 3 x 900 MB, "
          f"footprint with the libraries {footprint:.0f} MB, peak {peaks} MB")
    print(f"run {wall:.1f} s, stages {result.timings}")
    print(f"trained by {result.bundle['trained_by']} on {result.split.n_train} rows; test AUC "
          f"{result.evaluation.test_metrics['roc_auc']:.4f}; best possible on fresh rows "
          f"{roc_auc_score(fresh['bought'] == 'yes', proba):.4f}")


def generated(rows: int, work: Path, worker_limit: str) -> None:
    """The generated scale table as Parquet partitions, run on 3 worker processes of ``worker_limit`` each."""
    import dask
    import pyarrow.parquet as pq
    import yaml
    from dask.distributed import Client, LocalCluster
    from scale_generated import DATE, TARGET, generate

    from mlsmith._cluster import WORKER_ENV
    from mlsmith.exceptions import MlsmithError
    from mlsmith.workflow import run

    single = work / "table.parquet"
    parts = work / "parts"
    if not parts.exists():
        if not single.exists():
            generate(rows, single, seed=0)
        tmp = work / "parts.tmp"
        tmp.mkdir(exist_ok=True)
        source = pq.ParquetFile(single)
        for i in range(source.num_row_groups):  # one file per row group: the table never whole in memory
            pq.write_table(source.read_row_group(i), tmp / f"part-{i:04d}.parquet")
        tmp.rename(parts)
    (work / "problem.yaml").write_text(yaml.safe_dump({
        "name": f"generated {TARGET}", "target": TARGET, "success_metric": "roc_auc", "models": ["lightgbm"],
        "data": {"path": "parts", "time_column": DATE}}))
    memory = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False}
    _watch_peak()  # this process runs the workflow: its own peak, sampled as the workers' are
    with dask.config.set(memory), LocalCluster(n_workers=3, threads_per_worker=1, processes=True,
                                               memory_limit=worker_limit, dashboard_address=":0",
                                               env=WORKER_ENV) as cluster, Client(cluster) as client:
        workers = dict(client.run(os.getpid))
        client.run(_watch_peak)
        start = time.perf_counter()
        try:
            result = run(work / "problem.yaml", runs_dir=work / "runs", cluster=cluster.scheduler_address)
        except MlsmithError as exc:  # as the CLI reports it, with what the workers held
            print(f"Error: {exc}")
            print(f"after {time.perf_counter() - start:.0f} s; worker peaks {sorted(client.run(_peak).values())} MB "
                  "(-1: a restarted worker)")
            sys.exit(2)
        wall = time.perf_counter() - start
        peaks = sorted(client.run(_peak).values())
        restarted = dict(client.run(os.getpid)) != workers
    verdict = result.evaluation.verdict
    print(f"generated table: {rows:,} rows x 20 columns in {len(list(parts.iterdir()))} Parquet files; "
          f"3 workers x {worker_limit} (a worker restarted for its memory: {restarted})")
    print(f"run {wall:.0f} s; worker peaks {peaks} MB; this process's peak {_peak()} MB")
    print(f"stages {json.dumps(result.timings)}")
    print(f"trained by {result.bundle['trained_by']} on {result.bundle.get('n_rows', result.split.n_train):,} rows; "
          f"test ROC AUC {result.evaluation.test_metrics['roc_auc']:.4f}; verdict {verdict.status} "
          f"({verdict.metric} {verdict.value:.4f}, interval {verdict.interval})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--generated", type=int, default=None, metavar="N",
                        help="run the generated N x 20 scale table on 3 worker processes instead")
    parser.add_argument("--worker-limit", default="3GB")
    parser.add_argument("--work", type=Path, default=None, help="for --generated (default: /tmp/mlsmith-dask-<N>)")
    args = parser.parse_args()
    if args.generated:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # the stages as they go
        sys.path.insert(0, str(ROOT / "benchmarks"))
        folder = args.work or Path(f"/tmp/mlsmith-dask-{args.generated}")
        folder.mkdir(parents=True, exist_ok=True)
        generated(args.generated, folder, args.worker_limit)
        sys.exit(0)
    with tempfile.TemporaryDirectory() as tmp:
        compare_backends(args.rounds, Path(tmp) / "runs")
        partitioned(args.rows, Path(tmp))
