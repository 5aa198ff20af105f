"""Stage 4's plan, measured: the comparison's best family cross-validated with and without each
transform group (an ablation), and the plan kept.

It runs after the model comparison (it needs the family that won) and builds pipelines, so it sits
above the feature package and the pipeline builder rather than inside stage 4.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._budget import SAFETY_SAME_ROWS, BudgetExceeded
from ._experiment import CVSetup
from .features import FeaturePlan
from .metrics import get_metric, scorer
from .parallel import fit_folds, fit_many
from .pipeline import build_pipeline

__all__ = ["FeatureResult", "measure_gain"]


@dataclass
class FeatureResult:
    """Stage 4's result: the proposed plan, what each group is worth, and the plan kept.

    Scores are the success metric (or the threshold-free metric that steers tuning), in its
    natural direction, cross-validated on the run's folds for the best model family. Made by
    :func:`measure_gain`.

    Parameters
    ----------
    plan : FeaturePlan
        The plan proposed (suggested or declared).
    final : FeaturePlan
        The plan kept: the groups that earned their place, and the pinned ones.
    family : str, optional
        The model family the gain was measured with.
    metric : str, optional
        The metric the scores are in.
    greater_is_better : bool, default=True
        The metric's direction.
    raw_score, full_score, final_score : float, optional
        The CV score on the raw columns, with the whole plan, and with the plan kept.
    groups : list of dict
        Per transform group: its columns, the score without it, its gain, and the decision.
    notes : list of str
        Why a group was kept or dropped when the scores alone do not say.
    cv_s : float, optional
        Seconds of one cross-validation, timed under a time budget.

    Examples
    --------
    >>> from mlsmith.features import FeaturePlan
    >>> result = FeatureResult(FeaturePlan([]), FeaturePlan([]), "linear", "r2", raw_score=0.40, full_score=0.47,
    ...                        final_score=0.45)
    >>> round(result.gain, 2), "4. Feature engineering" in result._repr_html_()
    (0.05, True)
    """

    plan: FeaturePlan
    final: FeaturePlan
    family: str | None = None
    metric: str | None = None
    greater_is_better: bool = True
    raw_score: float | None = None
    full_score: float | None = None
    final_score: float | None = None
    groups: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Seconds one cross-validation took here, timed on the first plan scored under a time budget
    #: (what the stages after it estimate their cost from); None without a budget.
    cv_s: float | None = None

    @property
    def gain(self) -> float | None:
        """How much the kept features improve the raw columns' score (positive is better)."""
        if self.raw_score is None or self.final_score is None:
            return None
        return (self.final_score - self.raw_score) * (1 if self.greater_is_better else -1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.plan.mode, "plan": self.plan.to_dict()["transforms"], "notes": self.plan.notes + self.notes,
            "kept": self.final.to_dict()["transforms"], "family": self.family, "metric": self.metric,
            "greater_is_better": self.greater_is_better, "raw_score": self.raw_score, "full_score": self.full_score,
            "final_score": self.final_score, "gain": self.gain, "groups": self.groups, "cv_s": self.cv_s,
        }

    def _repr_html_(self) -> str:
        from .report._features import html

        return html(self.to_dict(), {}).html


def measure_gain(plan: FeaturePlan, family: Any, setup: CVSetup, *, full_score: float | None = None,
                 time_budget_s: float | None = None) -> FeatureResult:
    """Cross-validate ``family`` on the raw columns, with the whole plan, and without each group.

    A group whose removal improves the score is dropped unless one of its transforms is pinned;
    the notes say which. Each configuration is one cross-validation on the same folds, so the cost
    is (number of groups + 2) cross-validations of one family, their folds queued together; one more
    when several groups go.

    Parameters
    ----------
    plan : FeaturePlan
        The proposed plan.
    family : str or Family
        The model family to measure with (the leaderboard's best): a catalog name or a
        :class:`~mlsmith.catalog.Family` (a user's own).
    setup : CVSetup
        The training rows, schema, task, metric (scores are reported in its natural direction),
        the run's splitter and groups (the same folds as the comparison), seed and workers.
    full_score : float, optional
        The whole plan's score when already known (the leaderboard's, same metric and
        folds), saving one cross-validation.
    time_budget_s : float, optional
        Seconds the measurement may take. The first plan (the whole plan, or the raw columns when
        its score is known) is cross-validated alone, stopped at the deadline, and timed; the others
        are queued only if that many cross-validations of that time (times
        :data:`~mlsmith._budget.SAFETY_SAME_ROWS`, one more for the plan kept) fit in what is left.
        Otherwise nothing is dropped: the whole plan is kept, with a note.

    Returns
    -------
    FeatureResult
        With ``final``, the plan to train with.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith import CVSetup
    >>> from mlsmith.data import infer_schema
    >>> from mlsmith.features import plan_features
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.lognormal(0, 1.5, 300)})
    >>> df["y"] = np.log1p(df["x"]) + rng.normal(0, 0.1, 300)
    >>> schema = infer_schema(df, "y")
    >>> setup = CVSetup(X=df[["x"]], y=df["y"].to_numpy(), schema=schema, task="regression", metric="rmse",
    ...                 cv=KFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)
    >>> res = measure_gain(plan_features(df, schema), "linear", setup)
    >>> res.groups[0]["group"], res.groups[0]["decision"], res.final_score < res.raw_score
    ('log', 'kept', True)
    """
    name = family if isinstance(family, str) else family.name
    metric = setup.metric
    if not plan.transforms:
        note = "no transforms in the plan: nothing to measure" if plan.mode != "none" else "features: none"
        return FeatureResult(plan, plan, name, metric, get_metric(metric).greater_is_better, notes=[note])
    score = scorer(metric, setup.task, setup.n_classes)
    sign = 1.0 if get_metric(metric).greater_is_better else -1.0
    cache: dict[frozenset, float] = {} if full_score is None else {frozenset(plan.groups): sign * full_score}

    folds = setup.folds()

    def score_plans(*plans: FeaturePlan) -> None:
        """Score the plans not scored yet, all their folds queued at once (as the comparison scores)."""
        todo = {frozenset(p.groups): p for p in plans if frozenset(p.groups) not in cache}
        pipes = [build_pipeline(family, setup.schema, setup.task, setup.seed, plan=p) for p in todo.values()]
        for key, results in zip(todo, fit_many(pipes, setup.X, setup.y, folds, {metric: score}, n_jobs=setup.n_jobs, seed=setup.seed)):
            if isinstance(results, Exception):
                raise results
            cache[key] = float(np.mean([r.test_scores[metric] for r in results]))  # greater is better

    def cv_score(kept: FeaturePlan) -> float:
        """The mean fold score (greater is better) of the family with the ``kept`` plan."""
        score_plans(kept)
        return cache[frozenset(kept.groups)]

    plans = [plan, plan.without(*plan.groups), *(plan.without(group) for group in plan.groups)]
    cv_s = None
    if time_budget_s is not None:
        first = next(p for p in plans if frozenset(p.groups) not in cache)
        began = time.perf_counter()
        deadline = began + time_budget_s
        pipe = build_pipeline(family, setup.schema, setup.task, setup.seed, plan=first)
        try:
            results = fit_folds(pipe, setup.X, setup.y, folds, {metric: score}, n_jobs=setup.n_jobs, seed=setup.seed,
                                deadline=deadline)
        except BudgetExceeded as exc:
            return _whole_plan(plan, name, metric, f"not measured: the {time_budget_s:.0f} s time budget allowed "
                               f"{exc.done}/{len(folds)} folds of the first cross-validation; the whole plan is kept")
        cache[frozenset(first.groups)] = float(np.mean([r.test_scores[metric] for r in results]))
        cv_s = time.perf_counter() - began
        todo = sum(frozenset(p.groups) not in cache for p in plans) + 1
        if time.perf_counter() + todo * cv_s * SAFETY_SAME_ROWS > deadline:
            return _whole_plan(plan, name, metric, f"not measured: {todo} more cross-validations of {cv_s:.1f} s "
                               f"each do not fit in the {deadline - time.perf_counter():.0f} s left of its "
                               f"{time_budget_s:.0f} s time budget; the whole plan is kept", cv_s)
    score_plans(*plans)
    full = cv_score(plan)
    raw = cv_score(plan.without(*plan.groups))
    rows, dropped, notes = [], [], []
    for group in plan.groups:
        without = cv_score(plan.without(group))
        pinned = plan.pinned(group)
        hurts = without > full
        decision = "kept (pinned)" if hurts and pinned else "dropped" if hurts else "kept"
        if hurts:
            dropped += [] if pinned else [group]
            what = "kept because it is pinned" if pinned else "dropped"
            notes.append(f"'{group}' made {metric} worse ({sign * full:.4f} with it, {sign * without:.4f} without): {what}")
        columns = [", ".join(t.columns) + (f" by {t.by}" if t.by else "") for t in plan.of_kind(group)]
        rows.append({"group": group, "columns": columns, "pinned": pinned, "score_without": sign * without,
                     "gain": full - without, "decision": decision})
    final = plan.without(*dropped)
    return FeatureResult(plan, final, name, metric, sign > 0, sign * raw, sign * full, sign * cv_score(final),
                         rows, notes, cv_s=cv_s)


def _whole_plan(plan: FeaturePlan, family: str, metric: str, note: str, cv_s: float | None = None) -> FeatureResult:
    """The result when the time budget stopped the measurement: the whole plan kept, unmeasured."""
    return FeatureResult(plan, plan, family, metric, get_metric(metric).greater_is_better, notes=[note], cv_s=cv_s)
