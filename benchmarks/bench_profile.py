"""Profile 1,000,000 rows x 20 columns: mlsmith quality + EDA vs ydata-profiling (minimal mode).

    /work/main/.venv/bin/python benchmarks/bench_profile.py            # make the data, time mlsmith
    benchmarks/.venv-ydata/bin/python benchmarks/bench_profile.py --ydata   # time ydata-profiling

Each tool runs in a child process so its peak memory (ru_maxrss) is its own. The data: 14 numeric
columns (normal, log-normal, exponential, integer counts; 5-30 % missing; skewed), 4 string
categoricals, 1 date and a binary target, as Parquet and CSV in benchmarks/out/.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"
N_ROWS = 1_000_000


def make_data(n: int = N_ROWS, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = {}
    for i in range(5):
        cols[f"normal_{i}"] = rng.normal(50 + i, 10, n)
    for i in range(4):
        cols[f"lognormal_{i}"] = rng.lognormal(3, 1 + i / 4, n)
    for i in range(3):
        cols[f"exponential_{i}"] = rng.exponential(2 + i, n)
    cols["count_0"] = rng.poisson(3, n).astype(float)
    cols["count_1"] = rng.negative_binomial(2, 0.3, n).astype(float)
    for j, (name, arr) in enumerate(cols.items()):
        arr[rng.random(n) < 0.05 + 0.02 * (j % 13)] = np.nan
    df = pd.DataFrame(cols)
    df["plan"] = rng.choice(["basic", "plus", "premium", "Basic "], n, p=[0.5, 0.3, 0.19, 0.01])
    df["region"] = rng.choice([f"region_{k:02d}" for k in range(40)], n)
    df["channel"] = rng.choice(["web", "store", "phone", "partner", None], n, p=[.4, .3, .15, .1, .05])
    df["device"] = rng.choice([f"device_{k}" for k in range(300)], n)
    df["signup_date"] = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365, n), unit="D")
    logit = 0.05 * (df["normal_0"].fillna(50) - 50) + 0.3 * (df["plan"] == "basic") - 2.0
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


def ensure_data() -> tuple[Path, Path]:
    OUT.mkdir(exist_ok=True)
    parquet, csv = OUT / "profile_1m.parquet", OUT / "profile_1m.csv"
    if not parquet.exists() or not csv.exists():
        df = make_data()
        df.to_parquet(parquet, index=False)
        df.to_csv(csv, index=False)
    return parquet, csv


def run_mlsmith(path: str, memory_limit: str) -> dict:
    """Quality + EDA over one DuckDB view of the file, as `mlsmith run` does on the train split."""
    from mlsmith._table import open_table
    from mlsmith.eda import explore
    from mlsmith.quality import assess_quality
    from mlsmith.report._profile import profile_page
    from mlsmith.runs import to_jsonable

    start = time.perf_counter()
    with open_table(path, memory_limit=memory_limit) as table:
        opened = time.perf_counter()
        quality = assess_quality(table, target="churned")
        mid = time.perf_counter()
        eda = explore(table, target="churned", seed=0)
        end = time.perf_counter()
    page = profile_page("benchmark", {"quality": to_jsonable(quality), "eda": to_jsonable(eda)})
    rendered = time.perf_counter()
    return {"tool": "mlsmith", "file": Path(path).name, "memory_limit": memory_limit,
            "open_s": round(opened - start, 2), "quality_s": round(mid - opened, 2), "eda_s": round(end - mid, 2),
            "total_s": round(end - start, 2), "html_s": round(rendered - end, 2), "html_mb": round(len(page) / 2**20, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def run_ydata(path: str) -> dict:
    import pandas as pd
    from ydata_profiling import ProfileReport

    start = time.perf_counter()
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    loaded = time.perf_counter()
    report = ProfileReport(df, minimal=True, progress_bar=False)
    page = report.to_html()
    end = time.perf_counter()
    return {"tool": "ydata-profiling (minimal)", "file": Path(path).name, "load_s": round(loaded - start, 2),
            "total_s": round(end - start, 2), "html_mb": round(len(page) / 2**20, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ydata", action="store_true", help="time ydata-profiling instead of mlsmith")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB's memory limit (it spills to disk beyond)")
    parser.add_argument("--child", help="(internal) run one tool on this file and print JSON")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_ydata(args.child) if args.ydata else run_mlsmith(args.child, args.memory_limit)))
        return
    parquet, csv = ensure_data()
    for path in (parquet, csv):
        cmd = [sys.executable, __file__, "--child", str(path), "--memory-limit", args.memory_limit]
        cmd += ["--ydata"] if args.ydata else []
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
        print(result.stdout.strip() or result.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
