"""FLAML and AutoGluon on one train/test split, each within a wall-clock limit (issue 19).

Run by ``scale_flights.py --rivals PYTHON`` with the Python of a separate virtual environment that
has ``flaml[automl]`` and ``autogluon.tabular[lightgbm,catboost,xgboost]`` (they pin other versions of
scikit-learn and LightGBM than mlsmith, so they do not share its environment). It imports neither
mlsmith nor anything of this repository, reads the two Parquet files the caller wrote (the same
training and test rows as the LightGBM fit it is compared with), and prints one JSON line per tool:
the wall seconds of its ``fit`` (time limit included), the test ROC AUC, and the model it chose.

Usage::

    python -m venv /tmp/rivals/venv
    /tmp/rivals/venv/bin/pip install "flaml[automl]" "autogluon.tabular[lightgbm,catboost,xgboost]"
    /tmp/rivals/venv/bin/python benchmarks/rivals.py TRAIN.parquet TEST.parquet --target late \
        --positive late --time-limit 225 [--tools flaml autogluon]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import pandas as pd
from sklearn.metrics import roc_auc_score


def flaml_fit(train: pd.DataFrame, test: pd.DataFrame, target: str, positive: str, seconds: float) -> dict:
    """FLAML's ``AutoML`` with its defaults, ROC AUC as the metric, ``time_budget`` of ``seconds``."""
    from flaml import AutoML

    automl = AutoML()
    start = time.perf_counter()
    automl.fit(train.drop(columns=target), (train[target] == positive).astype(int), task="classification",
               metric="roc_auc", time_budget=seconds, seed=42, verbose=0)
    took = time.perf_counter() - start
    proba = automl.predict_proba(test.drop(columns=target))[:, 1]
    return {"tool": "FLAML", "seconds": took, "auc": roc_auc_score(test[target] == positive, proba),
            "model": automl.best_estimator}


def autogluon_fit(train: pd.DataFrame, test: pd.DataFrame, target: str, positive: str, seconds: float) -> dict:
    """AutoGluon's ``TabularPredictor`` with its default presets, ROC AUC, ``time_limit`` of ``seconds``."""
    from autogluon.tabular import TabularPredictor

    start = time.perf_counter()
    predictor = TabularPredictor(label=target, eval_metric="roc_auc", path=tempfile.mkdtemp(prefix="ag-"),
                                 verbosity=0).fit(train, time_limit=seconds)
    took = time.perf_counter() - start
    proba = predictor.predict_proba(test.drop(columns=target))[positive]
    return {"tool": "AutoGluon", "seconds": took, "auc": roc_auc_score(test[target] == positive, proba),
            "model": predictor.model_best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--target", required=True)
    parser.add_argument("--positive", required=True)
    parser.add_argument("--time-limit", type=float, required=True)
    parser.add_argument("--tools", nargs="+", default=["flaml", "autogluon"], choices=["flaml", "autogluon"])
    args = parser.parse_args()
    train, test = pd.read_parquet(args.train), pd.read_parquet(args.test)
    fits = {"flaml": flaml_fit, "autogluon": autogluon_fit}
    for tool in args.tools:
        print(json.dumps(fits[tool](train, test, args.target, args.positive, args.time_limit)), flush=True)


if __name__ == "__main__":
    main()
