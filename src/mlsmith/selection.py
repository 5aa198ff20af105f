"""Stage 5: a cross-validated comparison of algorithm families, leak-free, seeded and budgeted.

The families come from the catalog (:mod:`mlsmith.catalog`, the traits of the classic comparison
table) through the recommender (:mod:`mlsmith.recommender`, which to try first and why).
:func:`compare_models` cross-validates the shortlisted families, each as one Pipeline
(preprocessing + model), on the same folds, within a time budget per family and for the whole
comparison, and returns a :class:`Leaderboard`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from .catalog import CATALOG, Family, build_pipeline
from .data import Schema
from .features import FeaturePlan
from .metrics import get_metric, scorer
from .parallel import BudgetExceeded, fit_folds, fit_many, fold_arrays, warm_up
from .recommender import Recommendation, recommend

__all__ = ["CATALOG", "Family", "Leaderboard", "LeaderboardRow", "build_pipeline", "compare_models"]


@dataclass
class LeaderboardRow:
    """One family's cross-validated result.

    ``status`` is ``ok``, ``failed`` (it cannot fit this data), ``over budget`` (stopped when its
    time ran out) or ``over latency`` (its measured one-row predict time exceeds the constraint).
    """

    model: str
    label: str
    cv_mean: float | None
    cv_std: float | None
    train_mean: float | None
    fit_time_s: float
    predict_time_s: float
    secondary: dict[str, float] = field(default_factory=dict)
    selection_score: float | None = None
    status: str = "ok"
    note: str = ""
    latency_ms: float | None = None
    #: Seconds the family took: elapsed under a budget; otherwise (its folds queued with the others')
    #: the fitting and scoring time of its folds, summed.
    wall_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Leaderboard:
    """The comparison: one row per family, best first by the success metric."""

    metric: str
    greater_is_better: bool
    cv: str
    rows: list[LeaderboardRow]
    skipped: dict[str, str] = field(default_factory=dict)
    selection: str = ""
    recommendation: Recommendation | None = None
    budget: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> LeaderboardRow:
        """The best family by the success metric that meets the constraints.

        When every family is over the latency budget, the best of them (the run says so); the
        dummy only when nothing else ran.
        """
        scored = [r for r in self.rows if r.cv_mean is not None]
        for usable in ([r for r in scored if r.status == "ok" and r.model != "dummy"],
                       [r for r in scored if r.status == "over latency"], scored):
            if usable:
                return usable[0]
        raise ValueError("no family produced a cross-validated score")

    def to_frame(self) -> pd.DataFrame:
        records = []
        for r in self.rows:
            record = {k: v for k, v in r.to_dict().items() if k != "secondary"}
            record.update({f"cv_{k}": v for k, v in r.secondary.items()})
            records.append(record)
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "cv": self.cv,
                "selection": self.selection, "rows": [r.to_dict() for r in self.rows], "skipped": self.skipped,
                "recommendation": self.recommendation.to_dict() if self.recommendation else None,
                "budget": self.budget}


def compare_models(
    X: pd.DataFrame,
    y: np.ndarray,
    schema: Schema,
    task: str,
    metric: str,
    cv: Any,
    groups: np.ndarray | None = None,
    secondary: list[str] | tuple[str, ...] = (),
    models: list[str] | None = None,
    seed: int = 42,
    n_jobs: int = -1,
    time_budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
    target: float | None = None,
    family_budget_s: float | None = None,
    interpretability: str = "medium",
    latency_ms: float | None = None,
    plan: FeaturePlan | None = None,
) -> Leaderboard:
    """Cross-validate every shortlisted family on the same folds.

    Parameters
    ----------
    X, y : training features and the encoded target (see :class:`~mlsmith.target.TargetCodec`).
    schema : the column roles that drive preprocessing.
    task, metric : the problem's task and success metric; ``secondary`` metrics are reported too.
    cv, groups : the splitter and its groups (see :func:`~mlsmith.split.cv_splitter`).
    models : the families to compare (default: what :func:`~mlsmith.recommender.recommend` keeps).
    seed : reaches every estimator; the splitter carries it already.
    n_jobs : folds run in parallel (all cores by default, or the Dask cluster in use); each model
        uses one thread.
    time_budget_s : for the whole comparison: a family still running when it is spent is stopped,
        the families not started are skipped; both are marked.
    family_budget_s : for each family: one that runs over is stopped and marked ``over budget``.
    interpretability, latency_ms : the problem's constraints. A family whose measured one-row
        predict time exceeds ``latency_ms`` is marked ``over latency`` and cannot be chosen.
    plan : the feature plan of stage 4, applied inside every family's pipeline.
    target : the success threshold. For a binary task whose metric depends on the decision threshold
        (recall, precision, f1, accuracy, ...), families are compared at their own operating point:
        the threshold is chosen on out-of-fold probabilities exactly as for the final model (see
        :func:`~mlsmith.evaluation.choose_threshold`), the metric is reported at that threshold, and
        ``selection_score`` ranks them (e.g. the precision reached with recall >= target).
    """
    n_classes = int(len(np.unique(y))) if task != "regression" else None
    operating_point = task == "binary_classification" and get_metric(metric).threshold_dependent
    rec = recommend(schema, len(X), task, interpretability, latency_ms, models)
    # A threshold-free companion for families compared at their operating point (tuning uses it).
    extra = ["average_precision"] if operating_point else []
    scoring = {m: scorer(m, task, n_classes) for m in dict.fromkeys([metric, *secondary, *extra])}
    sign = {m: 1.0 if get_metric(m).greater_is_better else -1.0 for m in scoring}
    folds = list(cv.split(X, y, groups))
    rows: list[LeaderboardRow] = []
    budgeted = time_budget_s is not None or family_budget_s is not None
    if budgeted:
        warm_up(n_jobs)
    pipes = {name: build_pipeline(name, schema, task, seed, plan=plan) for name in rec.order}
    # Without a budget nothing has to stop between families: every fold of every family is queued at once.
    queued = None if budgeted else fit_many(list(pipes.values()), X, y, folds, scoring, n_jobs=n_jobs,
                                            train_metric=metric, want_proba=operating_point,
                                            want_latency=latency_ms is not None)
    start = time.perf_counter()
    total_deadline = None if time_budget_s is None else start + time_budget_s
    for name in rec.order:
        family = CATALOG[name]
        now = time.perf_counter()
        if total_deadline is not None and now > total_deadline and name != "dummy":
            rec.drop(name, f"the comparison's time budget of {time_budget_s:g} s was spent before it started")
            continue
        if progress:
            progress(family.label)
        deadlines = [d for d in (total_deadline, None if family_budget_s is None else now + family_budget_s) if d]
        deadline = min(deadlines) if deadlines and name != "dummy" else None
        try:
            if queued is not None:
                res = next(queued)
                if isinstance(res, Exception):
                    raise res
            else:
                res = fit_folds(pipes[name], X, y, folds, scoring, n_jobs=n_jobs, deadline=deadline,
                                train_metric=metric, want_proba=operating_point, want_latency=latency_ms is not None)
            values = {m: sign[m] * v for m, v in fold_arrays(res).items()}
            selection_score = None
            train_values = sign[metric] * fold_arrays(res, "train_scores")[metric]
            if operating_point:
                values[metric], train_values, selection_score = _at_operating_point(res, y, metric, target)
        except BudgetExceeded as exc:
            which = "comparison" if deadline == total_deadline else "family"
            budget = family_budget_s if which == "family" else time_budget_s
            rows.append(LeaderboardRow(name, family.label, None, None, None, 0.0, 0.0, status="over budget",
                                       note=f"stopped at the {which} time budget of {budget:g} s "
                                            f"({exc.done}/{len(folds)} folds done)",
                                       wall_time_s=round(time.perf_counter() - now, 3)))
            warm_up(n_jobs)  # the stopped family's workers were killed; the next one starts warm
            continue
        except Exception as exc:  # a family that cannot fit this data is reported, not fatal
            rows.append(LeaderboardRow(name, family.label, None, None, None, 0.0, 0.0,
                                       status="failed", note=f"{type(exc).__name__}: {exc}"[:300]))
            continue
        row = LeaderboardRow(
            model=name,
            label=family.label,
            cv_mean=float(np.mean(values[metric])),
            cv_std=float(np.std(values[metric])),
            train_mean=float(np.mean(train_values)),
            fit_time_s=float(np.mean([r.fit_time_s for r in res])),
            predict_time_s=float(np.mean([r.score_time_s for r in res])),
            secondary={m: float(np.mean(v)) for m, v in values.items() if m != metric},
            selection_score=float(np.mean(values[metric])) if selection_score is None else selection_score,
            wall_time_s=round(time.perf_counter() - now if queued is None else
                              sum(r.fit_time_s + r.score_time_s for r in res), 3),
        )
        if latency_ms is not None:
            row.latency_ms = res[0].latency_ms
            if row.latency_ms > latency_ms and name != "dummy":
                row.status = "over latency"
                row.note = f"one-row predict takes {row.latency_ms:.2f} ms > the {latency_ms:g} ms budget"
                rec.drop(name, row.note)
        rows.append(row)
    greater = get_metric(metric).greater_is_better or operating_point
    rows.sort(key=lambda r: (r.status != "ok", r.selection_score is None,
                             -(r.selection_score or 0) if greater else (r.selection_score or 0)))
    cv_name = f"{type(cv).__name__}(n_splits={cv.get_n_splits()})"
    budget = {"time_budget_s": time_budget_s, "family_budget_s": family_budget_s,
              "elapsed_s": round(time.perf_counter() - start, 3)}
    return Leaderboard(get_metric(metric).name, get_metric(metric).greater_is_better, cv_name, rows, rec.skipped,
                       selection=_selection_text(metric, target, operating_point), recommendation=rec, budget=budget)


def _selection_text(metric: str, target: float | None, operating_point: bool) -> str:
    if not operating_point:
        return f"cross-validated {metric}"
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        return (f"out-of-fold {other} at the threshold that keeps {metric} >= {target:g} "
                f"(each family at its own operating point)")
    return f"out-of-fold {metric} at each family's best decision threshold"


def _at_operating_point(
    res: list, y: np.ndarray, metric: str, target: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-fold validation and training metric at the out-of-fold threshold, and the ranking score."""
    from .evaluation import choose_threshold
    from .metrics import compute

    def at_threshold(rows, proba):
        return compute(metric, "binary_classification", y[rows], y_pred=(proba >= threshold).astype(int))

    idx = np.concatenate([r.test_index for r in res])
    proba = np.concatenate([r.proba for r in res])
    threshold, _ = choose_threshold(y[idx], proba, metric, target)
    per_fold = np.array([at_threshold(r.test_index, r.proba) for r in res])
    # the training score at the same threshold, so that train and CV compare like with like
    train = np.array([at_threshold(r.train_index, r.train_proba) for r in res])
    pred = (proba >= threshold).astype(int)
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        reached = compute(metric, "binary_classification", y[idx], y_pred=pred) >= target
        score = compute(other, "binary_classification", y[idx], y_pred=pred)
        # a family that misses the target ranks below every family that reaches it
        return per_fold, train, score if reached else score - 1.0
    return per_fold, train, compute(metric, "binary_classification", y[idx], y_pred=pred)
