"""A boosting model's number of rounds, chosen on every training row by early stopping.

On a large table the search runs on a sample (:func:`mlsmith.selection.search_rows`), and the number of
boosting rounds is the parameter that depends most on the rows: the rounds that were best for 80,000
rows stop short of what 8 million rows can carry (on the generated 10M-row table, LightGBM tuned on a
sample scored below LightGBM's defaults fitted on every row). So before the final fit, the chosen
pipeline is fitted once on the training rows less a held-out slice of them, with the round cap raised,
and the libraries' own early stopping on that slice picks the rounds: LightGBM's ``early_stopping``
callback, XGBoost's ``early_stopping_rounds``, scikit-learn's ``early_stopping`` with ``X_val``. The
slice is taken as the folds see rows (:func:`mlsmith.split.sample_rows`): the most recent rows of a
time-ordered split, whole groups, or a class-stratified sample; test rows never reach this stage. The
pipeline returned has that many rounds and no early stopping, a plain estimator that the evaluation
fits on every training row and the bundle and its ONNX export take as any other.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import TimeSeriesSplit
from sklearn.pipeline import Pipeline

from .._experiment import CVSetup
from ..split import sample_rows

__all__ = ["ROUND_PARAMETERS", "RoundsChoice", "choose_rounds", "validation_rows"]

#: The boosting families whose rounds are chosen on every row, and their parameter for the rounds.
ROUND_PARAMETERS = {"lightgbm": "n_estimators", "xgboost": "n_estimators", "hist_gradient_boosting": "max_iter"}
#: The held-out slice: this share of the training rows, at most this many (the validation loss of
#: 200,000 rows moves by far less than one round's gain near the best round).
VALIDATION_SHARE, VALIDATION_ROWS = 0.1, 200_000
#: Rounds without a better validation loss before the fit stops (the libraries' patience).
PATIENCE = 50
#: The raised round cap: the search's rounds times the rows' ratio (at least twice them), at most this.
MAX_ROUNDS = 5000


@dataclass
class RoundsChoice:
    """How many boosting rounds the final fit gets, and how that was chosen. Made by :func:`choose_rounds`.

    Parameters
    ----------
    model : str
        The family.
    parameter : str
        Its parameter for the rounds (``n_estimators``, ``max_iter``).
    searched : int
        The rounds of the pipeline the search kept, chosen on ``search_rows`` rows.
    cap : int
        The raised cap of the early-stopped fit.
    chosen : int
        The rounds the final fit gets: those with the best validation loss.
    fitted : int
        Rounds the early-stopped fit ran before it stopped.
    search_rows, fit_rows, validation_rows : int
        Rows of the search's sample, of the early-stopped fit, and of the held-out slice.
    validation : str
        How the slice was taken from the training rows.
    stopped_by : str
        ``early stopping``, ``the round cap`` or ``the time budget``.
    seconds : float
        What choosing took (preprocessing and the fit).
    """

    model: str
    parameter: str
    searched: int
    cap: int
    chosen: int
    fitted: int
    search_rows: int
    fit_rows: int
    validation_rows: int
    validation: str
    stopped_by: str
    seconds: float

    @property
    def note(self) -> str:
        """One sentence for the run's notes and the report."""
        kept = (f"kept the search's {self.searched} as the time budget stopped the fit at {self.fitted}"
                if self.stopped_by == "the time budget" and self.chosen == self.searched and self.fitted < self.searched
                else f"{self.chosen} chosen by early stopping ({self.stopped_by} ended the fit at {self.fitted} of "
                     f"at most {self.cap})")
        return (f"boosting rounds ({self.model} {self.parameter}): {kept}, fitted on {self.fit_rows:,} training "
                f"rows and scored on a held-out {self.validation_rows:,} ({self.validation}); the search had "
                f"{self.searched} on a sample of {self.search_rows:,} rows; the final model is fitted with "
                f"{self.chosen} rounds on every training row")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "note": self.note}


def validation_rows(setup: CVSetup) -> tuple[np.ndarray, np.ndarray, str]:
    """The training rows the early-stopped fit learns from and the held-out slice it is scored on.

    The slice is :data:`VALIDATION_SHARE` of the rows (at most :data:`VALIDATION_ROWS`), taken as the
    folds see rows: the most recent for time-ordered folds, whole groups, a class-stratified sample
    otherwise. Returns the positions fitted, the positions held out, and how they were taken.

    >>> import pandas as pd
    >>> from sklearn.model_selection import TimeSeriesSplit
    >>> setup = CVSetup(X=pd.DataFrame({"x": range(20)}), y=np.zeros(20), schema=None, task="regression",
    ...                 metric="rmse", cv=TimeSeriesSplit(2), seed=0, n_jobs=1)
    >>> fit, held_out, how = validation_rows(setup)
    >>> held_out.tolist(), how
    ([18, 19], 'the most recent rows')
    """
    n = len(setup.X)
    size = max(1, min(VALIDATION_ROWS, int(VALIDATION_SHARE * n)))
    held_out = sample_rows(n, size, setup.y, setup.task, setup.cv, setup.groups, setup.seed)
    fit = np.setdiff1d(np.arange(n), held_out, assume_unique=True)
    if isinstance(setup.cv, TimeSeriesSplit):
        how = "the most recent rows"
    elif setup.groups is not None:
        how = "whole groups"
    else:
        how = "a random sample" if setup.task == "regression" else "a sample stratified by class"
    return fit, held_out, how


def choose_rounds(pipeline: Pipeline, family: str, setup: CVSetup, search_rows: int, *,
                  time_budget_s: float | None = None) -> tuple[Pipeline, RoundsChoice | None]:
    """The pipeline with its boosting rounds chosen on every training row by early stopping.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The pipeline the search kept (preprocessing, then a ``model`` step), unfitted.
    family : str
        Its family; only those of :data:`ROUND_PARAMETERS` have rounds to choose.
    setup : CVSetup
        Every training row, its task, folds (which say how the held-out slice is taken), groups and seed.
    search_rows : int
        The rows the search cross-validated on; with every training row, nothing is chosen.
    time_budget_s : float, optional
        Seconds the choice may take: LightGBM and XGBoost stop at the deadline and keep their best
        round so far (the search's rounds if the fit had not reached them); histogram gradient boosting
        gets no more rounds than its cap.

    Returns
    -------
    (pipeline, RoundsChoice or None)
        The pipeline with the chosen rounds and no early stopping (unfitted), and the choice; the
        pipeline unchanged and None when the search saw every row or the family has no rounds.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from mlsmith.data import infer_schema
    >>> from mlsmith.pipeline import build_pipeline
    >>> df = load_breast_cancer(as_frame=True).frame
    >>> schema = infer_schema(df, "target")
    >>> setup = CVSetup(X=df.drop(columns="target"), y=df["target"].to_numpy(), schema=schema,
    ...                 task="binary_classification", metric="roc_auc", cv=StratifiedKFold(3), seed=0, n_jobs=1)
    >>> pipe = build_pipeline("hist_gradient_boosting", schema, "binary_classification", 0)
    >>> tuned, choice = choose_rounds(pipe, "hist_gradient_boosting", setup, search_rows=200)
    >>> choice.validation_rows, choice.fit_rows, tuned.named_steps["model"].max_iter == choice.chosen
    (56, 513, True)
    """
    parameter = ROUND_PARAMETERS.get(family)
    n = len(setup.X)
    if parameter is None or search_rows >= n:
        return pipeline, None
    start = time.perf_counter()
    deadline = None if time_budget_s is None else start + time_budget_s
    fit_idx, held_idx, how = validation_rows(setup)
    prep = Pipeline(clone(pipeline).steps[:-1])
    X_fit = prep.fit_transform(setup.X.iloc[fit_idx], setup.y[fit_idx])
    X_val = prep.transform(setup.X.iloc[held_idx])
    y_fit, y_val = setup.y[fit_idx], setup.y[held_idx]
    model = clone(pipeline.named_steps["model"])
    searched = int(model.get_params()[parameter])
    cap = min(MAX_ROUNDS, max(searched, searched * max(2, math.ceil(n / search_rows))))
    fitted, best, by_time = _early_stopped(family, model, parameter, cap, X_fit, y_fit, X_val, y_val, deadline)
    stopped_by = "the time budget" if by_time else "the round cap" if fitted >= cap else "early stopping"
    # Stopped by the deadline before the search's rounds: the loss was still falling, so those are kept.
    chosen = max(best, searched) if by_time else best
    final = clone(pipeline).set_params(**{f"model__{parameter}": chosen})
    if family == "hist_gradient_boosting":  # its "auto" would hold out a random tenth of every row again
        final.set_params(model__early_stopping=False)
    return final, RoundsChoice(family, parameter, searched, cap, chosen, fitted, search_rows, len(fit_idx),
                               len(held_idx), how, stopped_by, round(time.perf_counter() - start, 1))


def _early_stopped(family: str, model: Any, parameter: str, cap: int, X_fit, y_fit, X_val, y_val,
                   deadline: float | None) -> tuple[int, int, bool]:
    """Fit ``model`` with up to ``cap`` rounds, early stopping on the held-out rows; the rounds it ran,
    the best round (counted from 1), and whether the deadline stopped it. The model keeps its threads
    (one), as in the comparison's folds and the final fit, whose timings the time budget's estimates use."""
    if family == "lightgbm":
        import lightgbm as lgb

        clock = _LightGBMDeadline(deadline)
        model.set_params(**{parameter: cap})
        # LightGBM 4.7 takes the held-out rows as eval_X / eval_y and deprecates eval_set; 4.3 has only eval_set.
        held_out = ({"eval_X": (X_val,), "eval_y": (y_val,)} if "eval_X" in inspect.signature(model.fit).parameters
                    else {"eval_set": [(X_val, y_val)]})
        model.fit(X_fit, y_fit, **held_out,
                  callbacks=[lgb.early_stopping(PATIENCE, first_metric_only=True, verbose=False), clock])
        return clock.rounds, max(1, model.best_iteration_), clock.stopped
    if family == "xgboost":
        clock = _xgboost_deadline(deadline)
        model.set_params(**{parameter: cap, "early_stopping_rounds": PATIENCE,
                            "callbacks": [clock]})
        model.fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
        booster = model.get_booster()
        fitted = booster.num_boosted_rounds()
        # A deadline on the very first round ends training before early stopping records a best round.
        best = int(booster.attr("best_iteration") or fitted - 1) + 1
        return fitted, best, clock.stopped
    # Histogram gradient boosting: no callbacks, so the deadline cannot stop it; its cap bounds it.
    model.set_params(**{parameter: cap, "early_stopping": True, "n_iter_no_change": PATIENCE, "scoring": "loss"})
    model.fit(X_fit, y_fit, X_val=X_val, y_val=y_val)
    # validation_score_[i] is the score after i rounds (the first, before any); the loss is scored negated.
    return int(model.n_iter_), max(1, int(np.argmax(model.validation_score_))), False


class _LightGBMDeadline:
    """A LightGBM callback that ends training at a deadline with the best round so far; it counts the
    rounds run (LightGBM keeps only those up to the best). It runs before the ``early_stopping``
    callback (order 30), which may end training in the same round."""

    order = 20

    def __init__(self, deadline: float | None):
        self.deadline, self.stopped, self.rounds = deadline, False, 0
        self.best: tuple[int, list] | None = None

    def __call__(self, env: Any) -> None:
        import lightgbm as lgb

        self.rounds = env.iteration + 1
        score = env.evaluation_result_list[0]
        better = score[3]  # whether greater is better
        if self.best is None or (score[2] > self.best[1][0][2] if better else score[2] < self.best[1][0][2]):
            self.best = (env.iteration, env.evaluation_result_list)
        if self.deadline is not None and time.perf_counter() > self.deadline:
            self.stopped = True
            raise lgb.callback.EarlyStopException(self.best[0], self.best[1])


def _xgboost_deadline(deadline: float | None) -> Any:
    """An XGBoost callback that ends training at a deadline; ``early_stopping_rounds`` keeps the best round."""
    import xgboost as xgb

    class Deadline(xgb.callback.TrainingCallback):
        stopped = False

        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if deadline is not None and time.perf_counter() > deadline:
                self.stopped = True
            return self.stopped

    return Deadline()
