"""A generated N x 20 table: ``mlsmith run`` end to end, its wall time and peak memory (issue 19).

The table is generated here, seeded, with nothing downloaded: 14 numeric columns (log-normal and
Pareto skew, counts, 2-40 % missing), 4 text categoricals of 8, 60, 400 and 1,000 levels (Zipf-like
frequencies, one with missing cells), a date column over three years, and a binary target whose
log-odds come from six of the columns (a numeric's log, a missing-indicator, two categoricals, the
month, an interaction), so there is real signal for models to find. It is written as one Parquet file
(in row groups, so generating 10M rows does not hold the table twice) under ``--work``.

Timed side by side in one process run:

1. ``mlsmith run`` on a bare spec (``target``, ``success_metric: roc_auc``, ``data.time_column``),
   as a subprocess; the resident memory (RSS) of its whole process tree (the run, its loky CV
   workers, the fork server they come from, the guards' worker) is sampled every 0.5 s, and the
   peak is attributed to the stage the run was printing then;
2. one default LightGBM fit on the same training rows (mlsmith's time-ordered split: the latest
   20 % by date held out, stable order), text as pandas categories and the date as days, scored
   on the same test rows.

Usage::

    PYTHONPATH=src python benchmarks/scale_generated.py --rows 1000000 [--work DIR] [--jobs -1] [--time-budget S]

It prints wall seconds, the peak RSS of the tree (and its PSS, which counts pages shared by forked
workers once), test ROC AUC, the per-stage peaks and mlsmith's per-stage seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: The categoricals and their number of levels.
LEVELS = {"region": 8, "channel": 60, "product": 400, "store": 1000}
N_NUMERIC = 14
TARGET, DATE = "converted", "signup_date"
CHUNK_ROWS = 500_000


def _chunk(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` rows of the table (see the module's docstring)."""
    cols: dict[str, np.ndarray] = {}
    for i in range(N_NUMERIC):
        kind = i % 4
        if kind == 0:
            v = rng.lognormal(mean=3.0, sigma=1.0 + i / 10, size=n)  # right-skewed amounts
        elif kind == 1:
            v = rng.normal(loc=i, scale=1 + i, size=n)
        elif kind == 2:
            v = (rng.pareto(2.5, size=n) * 100).round(2)  # heavy tail, two decimals
        else:
            v = rng.poisson(lam=1 + i, size=n).astype(float)  # counts
        missing = rng.random(n) < (0.02 + 0.38 * (i % 5) / 4)  # 2 % to 40 % missing
        v[missing] = np.nan
        cols[f"x{i:02d}"] = v
    for name, k in LEVELS.items():
        weights = 1.0 / np.arange(1, k + 1) ** 1.1
        codes = rng.choice(k, size=n, p=weights / weights.sum())
        labels = np.array([f"{name[:2]}_{j:04d}" for j in range(k)], dtype=object)[codes]
        if name == "channel":
            labels[rng.random(n) < 0.05] = None
        cols[name] = labels
    days = rng.integers(0, 3 * 365, size=n)
    date = np.datetime64("2021-01-01") + days.astype("timedelta64[D]")
    cols[DATE] = date
    month = (date.astype("datetime64[M]").astype(int) % 12) + 1
    store_effect = np.sin(np.arange(LEVELS["store"]) * 0.37)  # a fixed effect per store
    channel_code = pd.Series(cols["channel"]).str[-4:].astype(float).to_numpy()
    store_code = pd.Series(cols["store"]).str[-4:].astype(int).to_numpy()
    logit = (-1.2 + 0.6 * np.log1p(np.nan_to_num(cols["x00"], nan=20.0)) - 1.8
             + 0.9 * np.isnan(cols["x04"]) + 0.5 * store_effect[store_code]
             + np.where(np.nan_to_num(channel_code, nan=-1) < 5, 0.7, -0.1)
             + 0.4 * np.cos(2 * np.pi * month / 12)
             + 0.3 * np.tanh(np.nan_to_num(cols["x01"], nan=0.0) / 3) * np.nan_to_num(cols["x03"], nan=0.0) / 4)
    cols[TARGET] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return pd.DataFrame(cols)


def generate(n_rows: int, path: Path, seed: int = 0) -> Path:
    """Write the table to ``path`` as Parquet, in row groups of :data:`CHUNK_ROWS` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    try:
        for start in range(0, n_rows, CHUNK_ROWS):
            table = pa.Table.from_pandas(_chunk(rng, min(CHUNK_ROWS, n_rows - start)), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


class TreeMemory:
    """Samples the RSS and PSS of a process and all its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.5, stop_above: float | None = None):
        import psutil

        self.stop_above = stop_above  # bytes: past this the tree is killed (a shared machine must not swap)
        self.stopped = False
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stage = "start"
        self.peak_rss = self.peak_pss = 0
        self.by_stage: dict[str, dict[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            rss = pss = main = 0
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:  # a worker that ended between the listing and the read
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
                if proc.pid == self.root.pid:
                    main = info.rss
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            if self.stop_above is not None and pss > self.stop_above:
                self.stopped = True
                for proc in reversed(procs):
                    try:
                        proc.kill()
                    except psutil.Error:
                        pass
            at = self.by_stage.setdefault(self.stage, {"rss": 0, "pss": 0, "main_rss": 0, "procs": 0})
            at["rss"], at["pss"] = max(at["rss"], rss), max(at["pss"], pss)
            at["main_rss"], at["procs"] = max(at["main_rss"], main), max(at["procs"], len(procs))
            self._stop.wait(self.interval)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def mlsmith_run(work: Path, jobs: int, budget_s: float | None = None, stop_gib: float | None = None,
                models: list[str] | None = None) -> dict:
    """``mlsmith run`` on a bare spec, as a user runs it: wall seconds, memory, results.json.

    ``budget_s`` sets ``constraints.time_budget_s`` (else the run picks one from the table's size),
    ``models`` the spec's ``models`` (else every family).
    """
    budget = f"constraints: {{time_budget_s: {budget_s:g}}}\n" if budget_s else ""
    budget += f"models: [{', '.join(models)}]\n" if models else ""
    (work / "problem.yaml").write_text(
        f"name: generated {TARGET}\ntarget: {TARGET}\nsuccess_metric: roc_auc\n{budget}"
        f"data:\n  path: table.parquet\n  time_column: {DATE}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mlsmith", "run", str(work / "problem.yaml"), "--runs-dir",
                             str(work / "runs"), "--jobs", str(jobs)], env=env, stdout=subprocess.PIPE,
                            stderr=open(work / "run.err", "w"), text=True)
    lines = []
    with TreeMemory(proc.pid, stop_above=stop_gib * 2**30 if stop_gib else None) as memory:
        for line in proc.stdout:  # "[   12.3s] 5/7 model comparison: ..." : the stage now running
            lines.append(line)
            said = line.split("] ", 1)[1] if line.startswith("[") and "] " in line else ""
            if said and not said.split(" (")[0].rstrip().endswith(" s"):  # "selection took 12.3 s": a stage ended
                memory.stage = said.split(":")[0].strip()
        proc.wait()
    seconds = time.perf_counter() - start
    (work / "run.out").write_text("".join(lines))
    if memory.stopped:
        raise SystemExit(f"stopped: the run's tree passed {stop_gib:g} GiB (PSS) in stage '{memory.stage}', "
                         f"after {seconds:.0f} s")
    if proc.returncode != 0:
        raise SystemExit(f"mlsmith run failed (exit {proc.returncode}); see {work / 'run.err'}")
    run_dir = Path(lines[-1].strip())
    return {"seconds": seconds, "peak_rss": memory.peak_rss, "peak_pss": memory.peak_pss,
            "by_stage": memory.by_stage, "results": json.loads((run_dir / "results.json").read_text())}


def lightgbm_fit(path: Path, test_size: float = 0.2) -> dict:
    """One default LightGBM fit on mlsmith's training rows (the latest ``test_size`` by date held out)."""
    import lightgbm
    from sklearn.metrics import roc_auc_score

    frame = pd.read_parquet(path)
    order = np.argsort(pd.to_datetime(frame[DATE]).to_numpy(), kind="stable")
    n_test = max(1, int(round(test_size * len(frame))))
    y = frame[TARGET].to_numpy()
    X = frame.drop(columns=[TARGET])
    del frame
    for c in LEVELS:
        X[c] = X[c].astype("category")
    X[DATE] = (pd.to_datetime(X[DATE]) - pd.Timestamp("2021-01-01")).dt.days
    train, test = order[:-n_test], order[-n_test:]
    start = time.perf_counter()
    model = lightgbm.LGBMClassifier(verbose=-1).fit(X.iloc[train], y[train])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "auc": float(roc_auc_score(y[test], model.predict_proba(X.iloc[test])[:, 1])),
            "n_train": len(train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None, help="default: /tmp/mlsmith-scale-<rows>")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget", type=float, default=None,
                        help="constraints.time_budget_s (default: none, the run picks one from the table's size)")
    parser.add_argument("--models", nargs="+", default=None, help="the spec's models (default: every family)")
    parser.add_argument("--stop-gib", type=float, default=None,
                        help="kill the run when its process tree passes this many GiB (PSS)")
    args = parser.parse_args()
    work = args.work or Path(f"/tmp/mlsmith-scale-{args.rows}")
    work.mkdir(parents=True, exist_ok=True)
    path = work / "table.parquet"
    if not path.exists():
        start = time.perf_counter()
        generate(args.rows, path, args.seed)
        print(f"generated {args.rows:,} x 20 in {time.perf_counter() - start:.0f} s: {path} "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
    run = mlsmith_run(work, args.jobs, args.time_budget, args.stop_gib, args.models)
    res = run["results"]
    auc = res["evaluation"]["test_metrics"].get("roc_auc")
    gib = 2**30
    # mlsmith's figures first: the LightGBM fit on every training row takes minutes of its own at 10M rows.
    spec = "bare spec" if not args.models else f"models: [{', '.join(args.models)}]"
    spec += f", time budget {args.time_budget:g} s" if args.time_budget else ""
    print(f"\ngenerated table: {args.rows:,} rows x 20 columns, time-ordered split on {DATE}\n")
    print(f"`mlsmith run`, {spec}: {run['seconds']:.0f} s, peak RSS of the tree {run['peak_rss'] / gib:.2f} GiB "
          f"(PSS {run['peak_pss'] / gib:.2f}), test ROC AUC {auc:.4f}")
    print("\npeak memory by stage (GiB: tree RSS, tree PSS, main process RSS; processes):")
    for stage, at in run["by_stage"].items():
        print(f"  {stage:<60} {at['rss'] / gib:6.2f} {at['pss'] / gib:6.2f} {at['main_rss'] / gib:6.2f}  {at['procs']}")
    print("\nmlsmith's stages (s):", json.dumps(res.get("timings_s", {})))
    print("best:", res["leaderboard"][0]["model"], "| notes:", json.dumps(res.get("notes", [])), flush=True)
    fit = lightgbm_fit(path)
    print("\n| | seconds | x one LightGBM fit | peak RSS of the tree (GiB) | peak PSS (GiB) | test ROC AUC |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| LightGBM, defaults, {fit['n_train']:,} training rows | {fit['seconds']:.1f} | 1.0 | | | {fit['auc']:.4f} |")
    print(f"| `mlsmith run`, {spec} | {run['seconds']:.0f} | {run['seconds'] / fit['seconds']:.0f} | "
          f"{run['peak_rss'] / gib:.2f} | {run['peak_pss'] / gib:.2f} | {auc:.4f} |")

if __name__ == "__main__":
    main()
