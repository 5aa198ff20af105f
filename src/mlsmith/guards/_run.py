"""The guards as the workflow runs them: on the data after the split, and on the training results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._findings import Finding
from ..data import Schema
from ..metrics import get_metric
from ..problem import Problem
from ..split import HeldOutTest
from ._finding import GuardReport
from ._labels import check_conflicting_labels, check_imbalanced_accuracy, check_missing_target
from ._leakage import check_id_order, check_target_leakage, check_timestamps
from ._split import check_adversarial, check_contamination, check_date_trend, check_entities, check_time_order
from ._text import check_text_leakage
from ._training import check_cv_test_gap, check_overfitting, check_seeds, check_tuning_range

if TYPE_CHECKING:
    from ..evaluation import Evaluation
    from ..selection import Leaderboard
    from ..tuning import TuningResult

__all__ = ["check_data", "check_training"]


def check_data(problem: Problem, schema: Schema, train: pd.DataFrame, y: np.ndarray, held_out: HeldOutTest,
               split_strategy: str, n_missing_target: int = 0) -> GuardReport:
    """Run the guards that need only the data: after the split, before anything is trained.

    Parameters
    ----------
    problem
        The resolved problem.
    schema
        Column roles; id columns are checked for order, features for everything else.
    train, y
        The training rows (file order) and their encoded target.
    held_out
        The sealed test split; only its feature, id and group columns are looked at.
    split_strategy
        ``SplitInfo.strategy`` (random, stratified, group or time).
    n_missing_target
        Rows dropped before the split for a missing target.

    Returns
    -------
    GuardReport
    """
    spec, seed = problem.data, problem.seed
    task, metric = problem.task_and_metric()
    features = schema.features()
    roles = {c.name: c.role for c in schema.columns}
    ids = [c.name for c in schema.columns if c.role == "id"]
    findings: list[Finding] = []
    findings += check_missing_target(n_missing_target, len(train) + held_out.n_rows + n_missing_target, problem.target)
    findings += check_target_leakage(train[features], y, task, roles, seed=seed)
    findings += check_text_leakage(train[features], train[problem.target], task, roles, seed=seed)
    if spec.event_time and spec.event_time in features:
        findings.append(Finding(
            "timestamp_after_outcome", "error", f"The outcome's own timestamp '{spec.event_time}' is a feature.",
            {"column": spec.event_time}, f"Add '{spec.event_time}' to data.drop: it is not known when the prediction is made.",
        ))
    refs = [c for c in (spec.event_time, spec.prediction_time) if c and c in train.columns and c not in features]
    findings += check_timestamps(train[features + refs], spec.event_time, spec.prediction_time, roles)
    findings += check_id_order(train, y, task, ids, seed=seed)
    extra = [c for c in dict.fromkeys([*ids, spec.group_column]) if c and c not in features]
    test = held_out.features_for_guards(features + extra)
    findings += check_contamination(train, test, features, roles, spec.group_column, ids, seed=seed, y=y)
    if not spec.group_column:
        entities = check_entities(train, test, features, y, task, roles)
        # An entity key predicts the target by recognising the entity; the fix is a group split, not a drop.
        named = {f.evidence["column"] for f in entities}
        findings = [f for f in findings if not (f.check == "target_leakage" and named & {
            f.evidence.get("column"), *f.evidence.get("columns", [])})]
        findings += entities
    findings += check_adversarial(train, test, features, roles, seed=seed, exclude_dates=split_strategy == "time",
                                  time_ordered=split_strategy == "time")
    findings += check_time_order(train[features], split_strategy, roles)
    findings += check_date_trend(train[features], y, task, split_strategy, roles, seed=seed)
    findings += check_conflicting_labels(train[features], y, task)
    findings += check_imbalanced_accuracy(y, task, metric)
    findings += _seeds(problem, schema, train)
    return GuardReport(findings)


def _seeds(problem: Problem, schema: Schema, train: pd.DataFrame) -> list[Finding]:
    from ..catalog import families
    from ..pipeline import build_pipeline
    from ..recommender import recommend
    from ..split import cv_splitter

    constraints, (task, _) = problem.constraints, problem.task_and_metric()
    names = recommend(schema, len(train), task, constraints.interpretability, constraints.latency_ms,
                      problem.models).order
    catalog = families(problem.models)
    objects: dict[str, Any] = {name: build_pipeline(catalog[name], schema, task, problem.seed)
                               for name in names}
    objects["cv"] = cv_splitter(problem, train)[0]
    return check_seeds(objects)


def check_training(problem: Problem, leaderboard: Leaderboard, tuning: TuningResult,
                   evaluation: Evaluation) -> list[Finding]:
    """Run the guards that need the training results: overfitting, CV against test, the tuning ranges."""
    from ..catalog import family

    best = leaderboard.best
    task, metric = problem.task_and_metric()
    # The leaderboard scores train and CV alike (binary threshold metrics at the same operating point).
    findings = check_overfitting(metric, best.train_mean, best.cv_mean, evaluation.test_metrics.get(metric), best.label)
    findings += check_cv_test_gap(metric, evaluation.cv_metrics.get(metric), evaluation.verdict.value,
                                  evaluation.verdict.interval, evaluation.n_test, best.label)
    if tuning.method in ("random", "bayes", "grid"):
        from ..tuning import parse_space

        override = problem.tuning.spaces.get(tuning.model)
        space = (parse_space(tuning.model, override) if override
                 else family(tuning.model, problem.models).space(task))
        findings += check_tuning_range(space, tuning.best_params, best.label, tuning.trials,
                                       get_metric(tuning.metric).greater_is_better)
    return findings
