"""Stage 6 (tuning) on breast cancer: trials sent in batches vs one at a time in rounds, side by side.

    PYTHONPATH=src python benchmarks/bench_tuning.py [--method bayes] [--n-trials 15] [--repeat 7]

15 trials of the calibrated SVM on 5 stratified folds (seed 42), after the workers are warmed up.
The two dispatches alternate in one process (``_search._BATCHES``: off sends one trial at a time,
its folds in rounds of as many as workers, as before batches); each prints its best and median wall
time, its joblib dispatches and fold fits, and the run stops if the two ever find different trials.
Needs benchmarks/out/breast_cancer/train.csv (``python benchmarks/bench_pycaret.py prepare``
writes it; ``--data`` to point elsewhere).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from mlsmith import CVSetup, _workers, parallel
from mlsmith.data import infer_schema
from mlsmith.pipeline import build_pipeline
from mlsmith.tuning import _search, tune

parser = argparse.ArgumentParser()
parser.add_argument("--data", default=str(Path(__file__).parent / "out" / "breast_cancer" / "train.csv"))
parser.add_argument("--method", default="bayes", choices=["bayes", "random", "grid"])
parser.add_argument("--n-trials", type=int, default=15)
parser.add_argument("--repeat", type=int, default=7)
args = parser.parse_args()

counts = {"dispatches": 0, "fits": 0}


class Counted(joblib.Parallel):
    def __call__(self, jobs):
        jobs = list(jobs)
        counts["dispatches"] += 1
        counts["fits"] += len(jobs)
        return super().__call__(jobs)


parallel.Parallel = Counted
df = pd.read_csv(args.data)
schema = infer_schema(df, "target")
X, y = df[schema.features()], df["target"].to_numpy()
cv = StratifiedKFold(5, shuffle=True, random_state=42)
_workers.warm_up()
times: dict[str, list[float]] = {"one at a time": [], "batches": []}
seen: dict[str, dict[str, int]] = {}
reference = None
for _ in range(args.repeat):
    for label in times:
        _search._BATCHES = label == "batches"
        counts.update(dispatches=0, fits=0)
        start = time.perf_counter()
        setup = CVSetup(X=X, y=y, schema=schema, task="binary_classification", metric="average_precision", cv=cv,
                        seed=42, n_jobs=-1)
        _, result = tune(build_pipeline("svm", schema, "binary_classification", 42), "svm", setup,
                         n_trials=args.n_trials, method=args.method)
        times[label].append(time.perf_counter() - start)
        seen[label] = dict(counts)
        found = json.dumps(result.to_dict(), default=str)
        reference = reference or found
        assert found == reference, f"{label} found other trials"
print(f"{args.method}, {args.n_trials} trials ({result.trials_done} complete, {result.trials_pruned} pruned), "
      f"identical results; best of {args.repeat}:")
for label, runs in times.items():
    print(f"  {label:14s} {min(runs):5.2f} s (median {np.median(runs):.2f} s), "
          f"{seen[label]['dispatches']} dispatches, {seen[label]['fits']} fold fits")
