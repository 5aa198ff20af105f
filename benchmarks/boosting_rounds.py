"""Boosting rounds chosen on every training row vs the rounds of a search on a sample (issue 19).

On the generated table of ``scale_generated.py`` (time-ordered split, the latest 20 % held out), the
LightGBM pipeline mlsmith builds (its preprocessing, no feature plan) is fitted on every training row
with two parameter sets: the catalog's defaults, and the parameters tuning chose on an 80,000-row
sample of the 10M table in the Dask run of RESULTS.md (431 trees at learning rate 0.0106, 11
leaves). Each is fitted as the search left it ("before") and with its rounds chosen by
:func:`mlsmith.tuning.choose_rounds` on the training rows ("after"), and scored on the test rows;
beside them, one LightGBM fit with the library's defaults on the raw columns (``lightgbm_fit`` of
``scale_generated.py``).

    PYTHONPATH=src python benchmarks/boosting_rounds.py --table /tmp/gbmscale/gen1m_before/table.parquet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import TimeSeriesSplit

sys.path.insert(0, str(Path(__file__).parent))
from scale_generated import DATE, TARGET, lightgbm_fit  # noqa: E402

from mlsmith import CVSetup  # noqa: E402
from mlsmith.data import infer_schema  # noqa: E402
from mlsmith.pipeline import build_pipeline  # noqa: E402
from mlsmith.tuning import choose_rounds  # noqa: E402

#: What tuning chose on 80,000 rows of the 10M table (RESULTS.md, the Dask run's results.json).
SAMPLE_TUNED = {"n_estimators": 431, "learning_rate": 0.010631920547466827, "num_leaves": 11, "min_child_samples": 94,
                "subsample": 0.8816788477345205, "subsample_freq": 1, "colsample_bytree": 0.9425988779183909}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, required=True, help="a table.parquet of scale_generated.py")
    parser.add_argument("--search-rows", type=int, default=80_000, help="the rows the search saw")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--params", choices=["defaults", "tuned", "both"], default="both",
                        help="the catalog's defaults, the parameters tuned on a sample, or both")
    args = parser.parse_args()

    frame = pd.read_parquet(args.table)
    frame = frame.iloc[np.argsort(pd.to_datetime(frame[DATE]).to_numpy(), kind="stable")].reset_index(drop=True)
    n_test = int(round(0.2 * len(frame)))
    train, test = frame.iloc[:-n_test], frame.iloc[-n_test:]
    schema = infer_schema(train, TARGET)
    features = schema.features()
    y, y_test = train[TARGET].to_numpy().astype(int), test[TARGET].to_numpy().astype(int)
    setup = CVSetup(X=train[features], y=y, schema=schema, task="binary_classification", metric="roc_auc",
                    cv=TimeSeriesSplit(5), seed=0, n_jobs=args.jobs)
    print(f"{len(train):,} training rows, {len(test):,} test rows; search rows {args.search_rows:,}\n")
    print("| parameters | rounds | test ROC AUC | fit s | choosing s | stopped by |")
    print("|---|---:|---:|---:|---:|---|")
    sets = {"defaults": [("catalog defaults", {})], "tuned": [("tuned on a sample", SAMPLE_TUNED)]}
    for name, params in sets.get(args.params, [*sets["defaults"], *sets["tuned"]]):
        pipe = build_pipeline("lightgbm", schema, "binary_classification", 0)
        pipe.set_params(**{f"model__{k}": v for k, v in params.items()})
        chosen, choice = choose_rounds(pipe, "lightgbm", setup, args.search_rows)
        for label, model, how in [("before", pipe, None), ("after", chosen, choice)]:
            start = time.perf_counter()
            fitted = clone(model).fit(setup.X, y)
            seconds = time.perf_counter() - start
            auc = roc_auc_score(y_test, fitted.predict_proba(test[features])[:, 1])
            rounds = fitted.named_steps["model"].n_estimators
            print(f"| {name}, {label} | {rounds} | {auc:.4f} | {seconds:.1f} | "
                  f"{'' if how is None else how.seconds} | {'' if how is None else how.stopped_by} |", flush=True)
    fit = lightgbm_fit(args.table)
    print(f"| LightGBM's own defaults, raw columns | 100 | {fit['auc']:.4f} | {fit['seconds']:.1f} | | |")


if __name__ == "__main__":
    main()
