"""Grid, randomized and Bayesian (Optuna TPE with pruning) search, under a budget in trials or seconds.

Every method runs the same loop: a candidate is cross-validated on the problem's folds through
:func:`mlsmith.parallel.fit_folds` (folds in parallel, locally or on Dask), trials one after
another. Trials in sequence keep a budget in trials deterministic: the same seed asks the same
candidates and finds the same winner wherever the folds ran. A budget in seconds records how many
trials it allowed, so a rerun can ask for exactly that work with ``n_trials``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterSampler

from ..catalog import CATALOG
from ..metrics import get_metric, scorer
from ..parallel import BudgetExceeded, fit_folds
from ._space import describe_space, grid_points, suggest

__all__ = ["METHODS", "TuningResult", "tune"]

METHODS = ("grid", "random", "bayes", "none")
#: With a budget in seconds only, no more trials than this.
MAX_TRIALS = 1000


@dataclass
class TuningResult:
    """The search that was run, its best parameters, and the gain over the defaults on the same folds."""

    model: str
    method: str
    n_trials: int | None
    metric: str
    default_score: float | None
    best_score: float | None
    best_params: dict[str, Any]
    gain: float
    kept: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    timeout_s: float | None = None
    trials_done: int = 0
    trials_pruned: int = 0
    budget_note: str = ""
    space: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    learning_curve: Any = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["learning_curve"] = self.learning_curve.to_dict() if self.learning_curve is not None else None
        return out


def tune(pipeline, family: str, X, y, task: str, metric: str, cv, groups=None, default_score: float | None = None,
         n_trials: int | None = 15, seed: int = 42, n_jobs: int = -1, method: str = "bayes",
         timeout_s: float | None = None, space: dict[str, Any] | None = None,
         progress: Callable[[str], None] | None = None) -> tuple[Any, "TuningResult"]:
    """Search the family's space; keep the tuned model only if it beats the defaults on the same folds.

    Parameters
    ----------
    pipeline : the family's default pipeline (preprocessing + model), unfitted.
    family : its name in the catalog; its search space is used unless ``space`` is given.
    metric : the metric to optimise; ``default_score`` is the default pipeline's CV score on it.
    method : ``grid``, ``random``, ``bayes`` (Optuna TPE, unpromising trials pruned fold by fold)
        or ``none``.
    n_trials, timeout_s : the budget; either or both (whichever ends first).

    Returns
    -------
    (pipeline, TuningResult)
        The pipeline to use (tuned or default, unfitted) and what the search found.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith.catalog import build_pipeline
    >>> from mlsmith.data import infer_schema
    >>> df = load_diabetes(as_frame=True).frame
    >>> pipe = build_pipeline("linear", infer_schema(df, "target"), "regression", 0)
    >>> _, res = tune(pipe, "linear", df.drop(columns="target"), df["target"].to_numpy(), "regression", "rmse",
    ...               KFold(3, shuffle=True, random_state=0), method="random", n_trials=3, n_jobs=1)
    >>> res.trials_done, res.best_score < res.trials[0]["score"] + 1e-9
    (3, True)
    """
    if method not in METHODS:
        from ..exceptions import ProblemSpecError

        raise ProblemSpecError(f"problem.yaml: tuning.method must be one of {', '.join(METHODS)}; got '{method}'.")
    space = space if space is not None else CATALOG[family].space(task)
    model_params = pipeline.named_steps["model"].get_params()
    # A wrapped model (calibrated SVM) takes its parameters one level down.
    prefixed = {k: f"model__{k if k in model_params else 'estimator__' + k}" for k in space}
    greater = get_metric(metric).greater_is_better
    sign = 1.0 if greater else -1.0
    result = TuningResult(family, method, n_trials, metric, default_score, default_score, {}, 0.0,
                          "default: no search", timeout_s=timeout_s, space=describe_space(space), seed=seed)
    if method == "none" or not space:
        result.kept = "default: no search space" if not space else "default: tuning.method is none"
        return pipeline, result
    n_classes = int(len(np.unique(y))) if task != "regression" else None
    scorers = {metric: scorer(metric, task, n_classes)}
    folds = list(cv.split(X, y, groups))
    start = time.perf_counter()
    deadline = None if timeout_s is None else start + timeout_s
    limit = n_trials if n_trials is not None else MAX_TRIALS
    search = _Search(method, space, limit, seed, len(folds))

    while result.trials_done + result.trials_pruned < limit:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        params = search.ask()
        if params is None:
            break
        if progress:
            progress(f"trial {len(result.trials) + 1}")
        candidate = clone(pipeline).set_params(**{prefixed[k]: v for k, v in params.items()})
        try:
            res = fit_folds(candidate, X, y, folds, scorers, n_jobs=n_jobs, deadline=deadline,
                            after_fold=search.report)
        except BudgetExceeded as exc:
            result.budget_note = (f"the {timeout_s:g} s budget stopped trial {len(result.trials) + 1} after "
                                  f"{exc.done} folds; it is not counted")
            search.abandon()
            break
        except Exception as exc:  # a candidate that cannot fit is recorded, the search goes on
            result.trials.append({"number": len(result.trials), "params": _plain_dict(params), "score": None,
                                  "state": f"failed: {type(exc).__name__}"})
            search.tell(None, failed=True)
            result.trials_done += 1
            continue
        scores = [r.test_scores[metric] for r in res]
        pruned = len(res) < len(folds)
        value = float(np.mean(scores))
        search.tell(None if pruned else value)
        result.trials.append({"number": len(result.trials), "params": _plain_dict(params),
                              "score": None if pruned else sign * value,
                              "state": f"pruned after {len(res)} folds" if pruned else "complete"})
        if pruned:
            result.trials_pruned += 1
        else:
            result.trials_done += 1
    if deadline is not None:
        ran = result.trials_done + result.trials_pruned
        result.budget_note = (f"{timeout_s:g} s allowed {ran} trials ({result.trials_pruned} pruned)"
                              + (f"; {result.budget_note}" if result.budget_note else "")
                              + f". Set 'tuning: {{n_trials: {ran}}}' to repeat exactly this work.")
    complete = [t for t in result.trials if t["score"] is not None]
    if not complete:
        result.kept = "default: no trial completed"
        return pipeline, result
    best = max(complete, key=lambda t: sign * t["score"])
    result.best_score, result.best_params = best["score"], best["params"]
    result.gain = sign * (best["score"] - default_score) if default_score is not None else float("nan")
    if default_score is None or result.gain > 0:
        result.kept = "tuned"
        return clone(pipeline).set_params(**{prefixed[k]: v for k, v in best["params"].items()}), result
    result.kept = "default: tuning did not beat it"
    return pipeline, result


class _Search:
    """Which candidate comes next: a grid, a seeded random sample, or Optuna's TPE with a median pruner."""

    def __init__(self, method: str, space: dict[str, Any], limit: int, seed: int, n_folds: int):
        self.method, self.space = method, space
        self._trial = None
        self._scores: list[float] = []
        if method == "grid":
            self._points = iter(grid_points(space, limit))
        elif method == "random":
            self._points = iter(ParameterSampler(space, n_iter=limit, random_state=seed))
        else:
            import optuna

            self._optuna = optuna
            with _quiet(optuna):
                self.study = optuna.create_study(
                    direction="maximize",
                    sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, limit // 3))),
                    pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=min(1, n_folds - 1)),
                )

    def ask(self) -> dict[str, Any] | None:
        self._scores = []
        if self.method != "bayes":
            return next(self._points, None)
        self._trial = self.study.ask()
        return suggest(self._trial, self.space)

    def report(self, fold: int, res) -> bool:
        """After each fold, in fold order: True prunes the trial (Bayesian search only)."""
        self._scores.append(next(iter(res.test_scores.values())))
        if self._trial is None:
            return False
        self._trial.report(float(np.mean(self._scores)), step=fold)
        return self._trial.should_prune()

    def tell(self, value: float | None, failed: bool = False) -> None:
        """The trial's mean score, or None when it was pruned (or failed)."""
        if self._trial is None:
            return
        state = self._optuna.trial.TrialState
        with _quiet(self._optuna):
            if value is None:
                self.study.tell(self._trial, state=state.FAIL if failed else state.PRUNED)
            else:
                self.study.tell(self._trial, value)
        self._trial = None

    def abandon(self) -> None:
        if self._trial is not None:
            self.study.tell(self._trial, state=self._optuna.trial.TrialState.FAIL)
            self._trial = None


@contextmanager
def _quiet(optuna):
    """Optuna logs every trial at INFO; the run reports trials itself. Restored afterwards."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def _plain_dict(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
