"""Bootstrap interval of a test metric: vectorised resamples vs one scikit-learn call per resample.

    PYTHONPATH=src python benchmarks/bench_bootstrap.py

Prints the seconds each way and their ratio, for recall and ROC AUC on 2,500 rows, 1,000 resamples.
"""

from __future__ import annotations

import time

import numpy as np

from mlsmith.evaluation import bootstrap_interval, metric_on_resamples
from mlsmith.metrics import compute

N, B, TASK = 2500, 1000, "binary_classification"
rng = np.random.default_rng(0)
y = (rng.uniform(size=N) < 0.05).astype(int)
proba = np.clip(0.1 + 0.5 * y + rng.normal(0, 0.15, N), 0, 1)
pred = (proba >= 0.3).astype(int)

for name in ("recall", "roc_auc"):
    fast = metric_on_resamples(name, TASK, y, pred, proba)

    def slow(idx, name=name):
        return np.array([compute(name, TASK, y[i], y_pred=pred[i], y_proba=proba[i]) for i in idx])

    times = {}
    for label, score in (("vectorised", fast), ("loop", slow)):
        start = time.perf_counter()
        interval = bootstrap_interval(score, N, B, seed=1)
        times[label] = time.perf_counter() - start
        print(f"{name:8s} {label:10s} {times[label]:7.2f} s  interval {interval[0]:.4f}-{interval[1]:.4f}")
    print(f"{name:8s} ratio loop/vectorised: {times['loop'] / times['vectorised']:.0f}x")
