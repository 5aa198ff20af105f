"""Grid, randomized and Bayesian (Optuna TPE with pruning) search, under a budget in trials or seconds.

Every method runs the same loop: ask the search for the candidates it can give without waiting for
a result, cross-validate them on the problem's folds (in parallel, locally or on Dask), then hand
the results back in trial order, each trial's folds in fold order, as if the trials had run one
after another. A budget in trials is therefore deterministic: the same seed asks the same
candidates, prunes the same trials after the same folds and finds the same winner, however the
fits were dispatched and wherever they ran.

How the trials are dispatched (:func:`mlsmith.parallel.fit_many`, one joblib call for all the
folds of a batch of trials; :func:`mlsmith.parallel.fit_folds` for one trial in rounds):

- grid and random search: every trial in one batch, their candidates do not depend on results;
- Bayesian search: TPE's random start-up trials in batches (see :meth:`_TpeSearch.ahead`; the first
  holds only trials the pruner cannot stop, as the folds' cost is not known yet), then one trial at
  a time, each TPE candidate following from the results so far. Once folds are known to be cheap
  (their mean fit time under :data:`CHEAP_FOLD_S`), a trial is sent whole: the median pruner still
  stops it after the same fold, and the later folds' fits are dropped. Otherwise it is sent in
  rounds of as many folds as workers, so that pruning saves the fits of the later rounds;
- with a budget in seconds: one trial at a time, in rounds, so that the deadline stops the work
  promptly; no trial starts in less time than the trials so far took on average. The budget
  records how many trials it allowed, so a rerun can ask for exactly that work with ``n_trials``.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterSampler

from .._budget import BudgetExceeded
from .._experiment import CVSetup
from .._progress import Step
from .._space import describe_space, grid_points, suggest
from ..catalog import CATALOG
from ..metrics import get_metric, scorer
from ..parallel import FoldResult, fit_folds, fit_many

__all__ = ["METHODS", "TuningResult", "tune"]

METHODS = ("grid", "random", "bayes", "none")
#: With a budget in seconds only, no more trials than this.
MAX_TRIALS = 1000
#: Folds that fit faster than this on average (seconds) send a Bayesian trial whole, not in rounds.
#: Rounds let the median pruner save the later rounds' fits (most trials it stops, it stops after
#: the first round); a whole trial saves the later rounds' dispatches, 10-20 ms each on local
#: workers. Measured on two cores, 5 folds: rounds were faster with 25 ms folds (breast cancer, SVM,
#: 15 trials: 1.1 s against 1.6 s whole) and 12 ms folds (logistic regression), slower with 8 ms
#: folds (200 rows, logistic regression, 30 trials: 1.6 s against 1.3 s whole).
CHEAP_FOLD_S = 0.01
#: The median pruner prunes nothing before this many trials are complete.
PRUNER_STARTUP = 5
#: False sends one trial at a time in rounds, as with a budget in seconds (the results are the same).
_BATCHES = True


@dataclass
class TuningResult:
    """The search that was run, its best parameters, and the gain over the defaults on the same folds.

    Made by :func:`tune`.

    Parameters
    ----------
    model : str
        The family tuned.
    method : str
        ``grid``, ``random``, ``bayes`` or ``none``.
    n_trials : int, optional
        The trial budget.
    metric : str
        The metric optimised.
    default_score, best_score : float, optional
        The CV score of the default parameters and of the best trial, on the same folds.
    best_params : dict
        The best trial's parameters.
    gain : float
        The best trial's score over the defaults', signed so that positive is better.
    kept : str
        Which was kept (the tuned or the default parameters) and why.
    trials : list of dict
        Every trial: its number, parameters, score and state.
    timeout_s : float, optional
        The time budget.
    trials_done, trials_pruned : int
        Trials completed, and stopped early as unpromising.
    budget_note : str
        What the budget cut short, if anything.
    space : dict
        The search space, per parameter, as text.
    seed : int, optional
        The samplers' seed.
    learning_curve : LearningCurve, optional
        The kept pipeline's learning curves, diagnosed.
    rows : int, optional
        Training rows the search cross-validated on.
    rounds : dict, optional
        The boosting rounds chosen on every training row, when the search ran on a sample.

    Examples
    --------
    >>> result = TuningResult("linear", "random", 3, "rmse", 55.1, 54.8, {"alpha": 0.1}, 0.3, "tuned")
    >>> result.to_dict()["best_params"], "random search on linear" in result._repr_html_()
    ({'alpha': 0.1}, True)
    """

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
    #: Training rows the search cross-validated on: a sample on a large table (see
    #: :func:`mlsmith.selection.search_rows`); the chosen parameters are then fitted on every row.
    rows: int | None = None
    #: A boosting family's rounds chosen on every training row after a search on a sample
    #: (:meth:`mlsmith.tuning.RoundsChoice.to_dict`); None otherwise, and then not in ``to_dict()``.
    rounds: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        if out["rounds"] is None:
            del out["rounds"]
        out["learning_curve"] = self.learning_curve.to_dict() if self.learning_curve is not None else None
        return out

    def _repr_html_(self) -> str:
        from ..report._html import render_section
        from ..runs import to_jsonable

        return render_section("tuning", to_jsonable(self.to_dict()))


def tune(pipeline, family: str, setup: CVSetup, *, default_score: float | None = None, n_trials: int | None = 15,
         method: str = "bayes", timeout_s: float | None = None, space: dict[str, Any] | None = None,
         progress: Callable[[str], None] | None = None) -> tuple[Any, "TuningResult"]:
    """Search the family's space; keep the tuned model only if it beats the defaults on the same folds.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The family's default pipeline (preprocessing + model), unfitted.
    family : str
        Its name in the catalog; its search space is used unless ``space`` is given.
    setup : CVSetup
        The rows, task, metric to optimise, folds, groups, seed (it seeds the random and
        Bayesian samplers) and workers of the search.
    default_score : float, optional
        The default pipeline's CV score on the metric.
    n_trials : int or None, default=15
        The budget in trials; with ``timeout_s``, whichever ends first (None: ``MAX_TRIALS`` at most).
    method : {"bayes", "random", "grid", "none"}, default="bayes"
        ``grid``, ``random``, ``bayes`` (Optuna TPE, unpromising trials pruned fold by fold)
        or ``none``.
    timeout_s : float, optional
        The budget in seconds; with ``n_trials``, whichever ends first.
    space : dict, optional
        The search space, replacing the family's: the model's parameter names, each with its
        distribution or values (as problem.yaml's ``tuning.spaces``).
    progress : callable, optional
        Called with each trial's step (its number of the budget) as the search goes.

    Returns
    -------
    (pipeline, TuningResult)
        The pipeline to use (tuned or default, unfitted) and what the search found.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith import CVSetup
    >>> from mlsmith.data import infer_schema
    >>> from mlsmith.pipeline import build_pipeline
    >>> df = load_diabetes(as_frame=True).frame
    >>> schema = infer_schema(df, "target")
    >>> setup = CVSetup(X=df.drop(columns="target"), y=df["target"].to_numpy(), schema=schema, task="regression",
    ...                 metric="rmse", cv=KFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)
    >>> _, res = tune(build_pipeline("linear", schema, "regression", 0), "linear", setup, method="random", n_trials=3)
    >>> res.trials_done, res.best_score < res.trials[0]["score"] + 1e-9
    (3, True)
    """
    if method not in METHODS:
        from ..exceptions import ProblemSpecError

        raise ProblemSpecError(f"problem.yaml: tuning.method must be one of {', '.join(METHODS)}; got '{method}'.")
    X, y, task, metric, seed, n_jobs = setup.X, setup.y, setup.task, setup.metric, setup.seed, setup.n_jobs
    space = space if space is not None else CATALOG[family].space(task)
    model_params = pipeline.named_steps["model"].get_params()
    # A wrapped model (calibrated SVM) takes its parameters one level down.
    prefixed = {k: f"model__{k if k in model_params else 'estimator__' + k}" for k in space}
    greater = get_metric(metric).greater_is_better
    sign = 1.0 if greater else -1.0
    result = TuningResult(family, method, n_trials, metric, default_score, default_score, {}, 0.0,
                          "default: no search", timeout_s=timeout_s, space=describe_space(space), seed=seed,
                          rows=len(X))
    if method == "none" or not space:
        result.kept = "default: no search space" if not space else "default: tuning.method is none"
        return pipeline, result
    scorers = {metric: scorer(metric, task, setup.n_classes)}
    folds = setup.folds()
    start = time.perf_counter()
    deadline = None if timeout_s is None else start + timeout_s
    limit = n_trials if n_trials is not None else MAX_TRIALS
    search = _search(method, space, limit, seed, len(folds))
    batches = _BATCHES and deadline is None
    fit_times: list[float] = []  # of the folds fitted so far, to tell cheap folds from expensive ones

    trial_s: list[float] = []  # how long each trial took, under a deadline
    while result.trials_done + result.trials_pruned < limit:
        now = time.perf_counter()
        if deadline is not None and now >= deadline:
            break
        if trial_s and now + float(np.mean(trial_s)) > deadline:  # a trial started now would be stopped unfinished
            result.budget_note = (f"no trial started in the last {deadline - now:.1f} s, less than a trial's "
                                  f"mean {float(np.mean(trial_s)):.1f} s")
            break
        cheap = bool(fit_times) and float(np.mean(fit_times)) < CHEAP_FOLD_S
        ahead = min(search.ahead(cheap), limit - result.trials_done - result.trials_pruned) if batches else 1
        batch = search.ask_many(ahead)
        if not batch:
            break
        first = len(result.trials) + 1
        if progress:
            text = f"trial {first}" if len(batch) == 1 else f"trials {first}-{first + len(batch) - 1}"
            progress(Step(f"{text} of {limit}", done=first - 1, total=limit))
        candidates = [clone(pipeline).set_params(**{prefixed[k]: v for k, v in params.items()}) for params in batch]
        # Several trials (none the pruner could stop, unless folds are cheap) or a cheap one: all folds at once.
        if batches and (cheap or len(batch) > 1):
            outcomes = fit_many(candidates, X, y, folds, scorers, n_jobs=n_jobs, seed=seed,
                                after_fold=search.report)
        else:  # one trial, in rounds
            try:
                outcomes = [fit_folds(candidates[0], X, y, folds, scorers, n_jobs=n_jobs, seed=seed, deadline=deadline,
                                      after_fold=search.report)]
            except BudgetExceeded as exc:
                result.budget_note = (f"the {timeout_s:g} s budget stopped trial {first} after "
                                      f"{exc.done} folds; it is not counted")
                search.abandon()
                break
            except Exception as exc:  # a candidate that cannot fit is recorded, the search goes on
                outcomes = [exc]
        for params, res in zip(batch, outcomes):  # in trial order: each is told before the next is judged
            _record(result, search, params, res, len(folds), metric, sign)
            if not isinstance(res, Exception):
                fit_times.extend(r.fit_time_s for r in res)
        if deadline is not None:
            trial_s.append(time.perf_counter() - now)
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


def _record(result: TuningResult, search: "_PointSearch", params: dict[str, Any], res: list[FoldResult] | Exception,
            n_folds: int, metric: str, sign: float) -> None:
    """Tell the search how the oldest trial it is waiting for went, and add it to ``result``.

    ``res`` holds the folds up to where the trial was pruned, or the exception of a candidate that
    could not fit: that trial is recorded as failed and the search goes on.
    """
    if isinstance(res, Exception):
        result.trials.append({"number": len(result.trials), "params": _plain_dict(params), "score": None,
                              "state": f"failed: {type(res).__name__}"})
        search.tell(None, failed=True)
        result.trials_done += 1
        return
    pruned = len(res) < n_folds
    value = float(np.mean([r.test_scores[metric] for r in res]))
    search.tell(None if pruned else value)
    result.trials.append({"number": len(result.trials), "params": _plain_dict(params),
                          "score": None if pruned else sign * value,
                          "state": f"pruned after {len(res)} folds" if pruned else "complete"})
    if pruned:
        result.trials_pruned += 1
    else:
        result.trials_done += 1


class _PointSearch:
    """Candidates that do not depend on results: a grid, or a seeded random sample of the space.

    Every method's search answers the same calls (see :class:`_TpeSearch`): ``ahead``, ``ask``,
    ``ask_many``, ``report``, ``tell`` and ``abandon``; this one learns nothing from what it is told.
    """

    def __init__(self, points: Iterator[dict[str, Any]], limit: int):
        self._points, self.limit = points, limit

    def ahead(self, cheap: bool) -> int:
        """How many trials may be asked before any is told: all of them."""
        return self.limit

    def ask(self) -> dict[str, Any] | None:
        """The next candidate, or None when the grid or sample is exhausted."""
        return next(self._points, None)

    def ask_many(self, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` next candidates (fewer when the grid or sample is exhausted)."""
        batch = []
        while len(batch) < n and (params := self.ask()) is not None:
            batch.append(params)
        return batch

    def report(self, fold: int, res: FoldResult) -> bool:
        """Never prunes."""
        return False

    def tell(self, value: float | None, failed: bool = False) -> None:
        """Nothing to learn."""

    def abandon(self) -> None:
        """Nothing pending."""


class _TpeSearch(_PointSearch):
    """Optuna's TPE with a median pruner.

    Trials are asked, then reported on and told in the order they were asked: :meth:`report` and
    :meth:`tell` are about the oldest trial not yet told.
    """

    def __init__(self, space: dict[str, Any], limit: int, seed: int, n_folds: int):
        import optuna

        super().__init__(iter(()), limit)
        self.space = space
        self._optuna = optuna
        self._pending: list[Any] = []  # trials asked and not yet told, oldest first
        self._scores: list[float] = []  # the oldest pending trial's fold scores so far
        self._startup = min(10, max(3, limit // 3))
        with _quiet(optuna):
            self.study = optuna.create_study(
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=self._startup),
                pruner=optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP,
                                                   n_warmup_steps=min(1, n_folds - 1)),
            )

    def ahead(self, cheap: bool) -> int:
        """How many trials may be asked before any is told, with the candidates one at a time would get.

        TPE samples at random, from its own seeded generator, while fewer than its
        ``n_startup_trials`` trials are complete or pruned (failed ones do not count): the start-up
        trials still missing can be asked at once, and after them each candidate follows from the
        results so far. Unless folds are known to be ``cheap``, a batch also stops before the trials
        the pruner could stop (it waits for :data:`PRUNER_STARTUP` complete trials), so that no fit
        it would save is spent.
        """
        states = [t.state for t in self.study.get_trials(deepcopy=False)]
        complete = states.count(self._optuna.trial.TrialState.COMPLETE)
        n = self._startup - complete - states.count(self._optuna.trial.TrialState.PRUNED)
        return max(1, n if cheap else min(n, PRUNER_STARTUP - complete))

    def ask(self) -> dict[str, Any] | None:
        """The next candidate (TPE never runs out)."""
        self._pending.append(self.study.ask())
        return suggest(self._pending[-1], self.space)

    def report(self, fold: int, res: FoldResult) -> bool:
        """After each fold of the oldest pending trial, in fold order: True prunes it."""
        self._scores.append(next(iter(res.test_scores.values())))
        if not self._pending:
            return False
        self._pending[0].report(float(np.mean(self._scores)), step=fold)
        return self._pending[0].should_prune()

    def tell(self, value: float | None, failed: bool = False) -> None:
        """The oldest pending trial's mean score, or None when it was pruned (or failed)."""
        self._scores = []
        if not self._pending:
            return
        state = self._optuna.trial.TrialState
        trial = self._pending.pop(0)
        with _quiet(self._optuna):
            if value is None:
                self.study.tell(trial, state=state.FAIL if failed else state.PRUNED)
            else:
                self.study.tell(trial, value)

    def abandon(self) -> None:
        """The budget stopped the pending trials: they are recorded as failed (TPE learns nothing from them)."""
        self._scores = []
        while self._pending:
            self.study.tell(self._pending.pop(0), state=self._optuna.trial.TrialState.FAIL)


def _search(method: str, space: dict[str, Any], limit: int, seed: int, n_folds: int) -> _PointSearch:
    """The search of a tuning method: one small class per kind, chosen here once."""
    if method == "grid":
        return _PointSearch(iter(grid_points(space, limit)), limit)
    if method == "random":
        return _PointSearch(iter(ParameterSampler(space, n_iter=limit, random_state=seed)), limit)
    return _TpeSearch(space, limit, seed, n_folds)


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
