"""Drift on 1,000,000 rows x 20 columns against a reference of the same size: mlsmith vs Evidently.

    /work/main/.venv/bin/python benchmarks/bench_drift.py            # mlsmith, then Evidently if its venv exists
    benchmarks/.venv-evidently/bin/python benchmarks/bench_drift.py --evidently-only

Data: 15 numeric columns (normal, gamma, integer counts) and 5 categorical ones (4 to 50 levels);
the current table shifts 3 of them. Both tables are written to Parquet under benchmarks/out/.
mlsmith reads the current file in chunks (250k rows) and compares it with reference statistics
(built once at training time, timed separately); Evidently's DataDriftPreset takes both tables
in memory (the time to read them is reported separately).
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

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
N_ROWS = 1_000_000


def make(n: int, seed: int, shift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(8):
        cols[f"num{i}"] = rng.normal(0.5 if (shift and i == 0) else 0.0, 1.0, n)
    for i in range(4):
        cols[f"skew{i}"] = rng.gamma(2.0 * (1.3 if (shift and i == 1) else 1.0), 1.0, n)
    for i in range(3):
        cols[f"count{i}"] = rng.poisson(3 + i, n)
    for i, k in enumerate([4, 8, 12, 25, 50]):
        p = np.ones(k) / k
        if shift and i == 2:
            p = np.linspace(1, 3, k) / np.linspace(1, 3, k).sum()
        cols[f"cat{i}"] = np.array([f"level{j}" for j in range(k)], dtype=object)[rng.choice(k, n, p=p)]
    return pd.DataFrame(cols)


def write_data() -> tuple[Path, Path]:
    OUT.mkdir(exist_ok=True)
    ref_path, cur_path = OUT / "reference.parquet", OUT / "current.parquet"
    if not ref_path.exists():
        make(N_ROWS, 1, False).to_parquet(ref_path, row_group_size=250_000)
        make(N_ROWS, 2, True).to_parquet(cur_path, row_group_size=250_000)
    return ref_path, cur_path


def bench_mlsmith(ref_path: Path, cur_path: Path) -> dict:
    from mlsmith.monitor import data_drift
    from mlsmith.monitor._reference import column_reference

    reference = pd.read_parquet(ref_path)
    roles = {c: "numeric" if pd.api.types.is_numeric_dtype(reference[c]) else "categorical" for c in reference}
    t0 = time.perf_counter()
    stats = {c: column_reference(reference[c], role) for c, role in roles.items()}
    t_ref = time.perf_counter() - t0
    del reference
    t0, c0 = time.perf_counter(), time.process_time()
    rows = data_drift(stats, cur_path)
    t_drift, c_drift = time.perf_counter() - t0, time.process_time() - c0
    return {"tool": "mlsmith", "reference_stats_s": round(t_ref, 2), "drift_s": round(t_drift, 2),
            "drift_cpu_s": round(c_drift, 2), "load_avg": os.getloadavg()[0],
            "reference_json_mb": round(len(json.dumps(stats)) / 1e6, 2),
            "drifted": sorted(r["name"] for r in rows if r["drifted"])}


def bench_evidently(ref_path: Path, cur_path: Path) -> dict:
    from importlib.metadata import version

    from evidently import Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    reference, current = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    t_read = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    t_drift, c_drift = time.perf_counter() - t0, time.process_time() - c0
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        name = str(metric.get("metric_name", ""))
        value = metric.get("value")
        if name.startswith("ValueDrift(") and isinstance(value, (int, float)):
            column = name.split("column=")[1].split(",")[0].rstrip(")")
            threshold = float(name.split("threshold=")[1].rstrip(")")) if "threshold=" in name else 0.1
            if value >= threshold:
                drifted.append(column)
    return {"tool": f"evidently {version('evidently')}", "read_s": round(t_read, 2), "drift_s": round(t_drift, 2),
            "drift_cpu_s": round(c_drift, 2), "load_avg": os.getloadavg()[0],
            "drifted": sorted(drifted)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evidently-only", action="store_true")
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    ref_path, cur_path = write_data()
    if args.evidently_only:
        print(json.dumps(bench_evidently(ref_path, cur_path)))
        return
    sys.path.insert(0, str(HERE.parent / "src"))
    print(json.dumps(bench_mlsmith(ref_path, cur_path)), flush=True)
    evidently = HERE / ".venv-evidently" / "bin" / "python"
    if evidently.exists() and not args.skip_evidently:
        done = subprocess.run([str(evidently), __file__, "--evidently-only"], capture_output=True, text=True,
                              timeout=1800)
        print(done.stdout.strip() or done.stderr.strip()[-2000:])


if __name__ == "__main__":
    main()
