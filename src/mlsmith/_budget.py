"""A run's wall-clock budget: how long it may take, what is left, and the error that says it ran out.

The workflow makes one :class:`RunBudget` per run (``constraints.time_budget_s``, or
:func:`default_time_budget` from the table's size) and asks it, stage by stage, what remains; the
CV engine (:mod:`mlsmith.parallel`) stops the fits still running at a deadline and raises
:class:`BudgetExceeded`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["CELLS_PER_SECOND", "DEFAULT_BUDGET_CAP_S", "DEFAULT_BUDGET_CELLS", "DEFAULT_BUDGET_FLOOR_S",
           "EVALUATION_MIN_CV_ROWS", "EVALUATION_MIN_FIT_ROWS", "GROWTH", "PREDICT_GROWTH", "SAFETY",
           "SAFETY_SAME_ROWS", "BudgetExceeded", "EvaluationCost", "RunBudget", "default_time_budget", "grown",
           "scaled"]

#: An estimate carried from a measured cost to more rows is multiplied by this: a fit's cost grows a
#: little faster than its rows (deeper trees, more categories seen), and the machine's load moves
#: between the measurement and the work (on the shared two cores, a rung took 2.6x its time at lower
#: load). A cost re-measured on the same rows just before is carried with :data:`SAFETY_SAME_ROWS`.
SAFETY, SAFETY_SAME_ROWS = 1.5, 1.2


#: A fit's cost is taken to grow as its rows to this power, faster than linearly (n log n sorts, more
#: iterations to converge): on the generated 1M x 20 table (benchmarks/scale_generated.py) a logistic
#: regression's folds took 1.15 s on about 10,000 rows each and its fit on 800,000 rows about 340 s,
#: its fit on 100,000 rows about 40 s, on two loaded cores.
GROWTH = 1.25
#: Predictions are taken to grow as their rows to this power, slower than linearly: a fold's scoring on
#: a few thousand rows is mostly what each call costs whatever its rows (the pipeline's transformers,
#: eight metrics): 0.28 s on 3,333 rows there, and about 36 s for the evaluation's 1.3M rows.
PREDICT_GROWTH = 0.8


def scaled(seconds: float, rows_from: int, rows_to: int, safety: float = SAFETY, growth: float = GROWTH) -> float:
    """What work measured at ``seconds`` on ``rows_from`` rows is expected to take on ``rows_to`` rows.

    As the rows to the power ``growth`` (default :data:`GROWTH`), times ``safety``.

    >>> round(scaled(10.0, 20_000, 80_000), 1), scaled(4.0, 1000, 1000, safety=1.0)
    (84.9, 4.0)
    """
    return safety * seconds * (max(rows_to, 1) / max(rows_from, 1)) ** growth


def grown(rows_before: float, seconds_before: float, rows: float, seconds: float) -> float:
    """The power of the rows a cost grew by between two timings, at least 1: below it, each call's fixed
    cost still counted at the smaller size, and carrying that further would promise a fit faster than its rows.

    >>> round(grown(20_000, 10.0, 80_000, 30.0), 2), grown(20_000, 1.0, 80_000, 16.0)
    (1.0, 2.0)
    """
    return max(1.0, math.log(seconds / seconds_before) / math.log(rows / rows_before))


class BudgetExceeded(Exception):
    """The time budget ran out; ``done`` folds had finished."""

    def __init__(self, done: int):
        super().__init__(f"time budget spent with {done} folds finished")
        self.done = done


class RunBudget:
    """A run's wall-clock budget (``constraints.time_budget_s``), shared out stage by stage.

    Each stage that may be bounded or left out asks what remains once the stages after it have their
    reserve; what was left out, or bounded, is recorded in :attr:`cuts` for the report. Without a
    budget (``seconds=None``) every answer is "no limit".

    Examples
    --------
    >>> budget = RunBudget(None)
    >>> budget.left(), budget.allows("learning curves", 1e9)
    (None, True)
    >>> budget = RunBudget(10.0)
    >>> budget.allows("learning curves", 60.0), budget.cuts
    (False, ['learning curves: not run, about 60 s needed and 10 s left of the 10 s time budget'])
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.start = time.perf_counter()
        self.cuts: list[str] = []
        #: Per stage (results.json's keys of ``timings_s``): the seconds it was allotted
        #: (``allotted_s``), its estimated cost when one decided whether it ran (``estimate_s``)
        #: and what it cost (``spent_s``).
        self.stages: dict[str, dict[str, float | None]] = {}

    def allot(self, stage: str, allotted_s: float | None = None, estimate_s: float | None = None) -> None:
        """Record what ``stage`` was allotted and estimated to cost (None: not known or no limit)."""
        record = self.stages.setdefault(stage, {})
        if allotted_s is not None or "allotted_s" not in record:
            record["allotted_s"] = None if allotted_s is None else round(allotted_s, 1)
        if estimate_s is not None:
            record["estimate_s"] = round(estimate_s, 1)

    def spent(self, stage: str, seconds: float) -> None:
        """Record what ``stage`` cost."""
        self.stages.setdefault(stage, {"allotted_s": None})["spent_s"] = round(seconds, 1)

    def to_dict(self) -> dict[str, Any]:
        """The budget as results.json records it: its seconds, the seconds spent, each stage's allotment,
        estimate and cost, and what it cut."""
        spent = round(time.perf_counter() - self.start, 1)
        return {"seconds": self.seconds, "spent_s": spent, "stages": self.stages, "cuts": self.cuts}

    def left(self, reserve: float = 0.0) -> float | None:
        """Seconds left after ``reserve`` (never negative), or None without a budget."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.perf_counter() - self.start) - reserve)

    def allows(self, stage: str, cost_s: float, reserve: float = 0.0) -> bool:
        """Whether ``stage``, estimated at ``cost_s``, fits in what is left after ``reserve``; if not, it is cut."""
        left = self.left(reserve)
        self.allot(_STAGE_KEYS.get(stage, stage), left, cost_s)
        if left is None or cost_s <= left:
            return True
        self.cuts.append(f"{stage}: not run, about {cost_s:.0f} s needed and {left:.0f} s left of the "
                         f"{self.seconds:g} s time budget")
        return False

    def bound(self, stage: str, own: float | None, share: float) -> float | None:
        """A stage's own limit ``own`` (None: none), lowered to ``share`` seconds, recorded if it was."""
        if self.seconds is None or (own is not None and own <= share):
            self.allot(_STAGE_KEYS.get(stage, stage), own)
            return own
        share = round(share, 1)
        self.allot(_STAGE_KEYS.get(stage, stage), share)
        self.cuts.append(f"{stage}: bounded to {share:g} s of the {self.seconds:g} s time budget")
        return share


#: The evaluation's cross-validation is not shrunk below this many rows to fit a budget (nor below all the
#: training rows of a smaller table): fewer out-of-fold predictions would not place a decision threshold.
EVALUATION_MIN_CV_ROWS = 10_000
#: Nor is the final model's fit, when even that cross-validation leaves it no time on every row.
EVALUATION_MIN_FIT_ROWS = 100_000


@dataclass(frozen=True)
class EvaluationCost:
    """What the evaluation is expected to cost, from the chosen family's fold timings in the comparison.

    One fold's fit took ``fit_s`` on ``fit_rows`` rows, and its scoring ``predict_s`` on
    ``predict_rows``. The evaluation's cross-validation (``n_folds`` fits, each on ``train_share`` of its rows) and
    the final fit(s) (on every training row, ``n_train``, twice the rows and the test's with
    ``refit``) run on ``workers`` workers at once, the final fit taking one of them; then
    ``n_predicted`` rows are predicted (training metrics, the test split, the bundle's checks), and
    ``fixed_s`` covers the rest (saving the bundle and report, the explanations). Fits scale as
    :func:`scaled` with ``growth``, predictions as their rows to the power :data:`PREDICT_GROWTH`, all times
    :data:`SAFETY`.

    Examples
    --------
    >>> cost = EvaluationCost(fit_s=1.0, fit_rows=10_000, predict_s=0.1, predict_rows=2_000, n_folds=5,
    ...                       train_share=0.8, n_train=400_000, n_test=100_000, refit=False, n_predicted=1_200_000, workers=2,
    ...                       fixed_s=15.0)
    >>> cost.seconds(200_000), cost.fitting(200.0, 200_000)
    (238.8, (100000, 400000, 192.6))

    Both at their floors, it may still not fit:

    >>> cost.fitting(60.0, 200_000)
    (10000, 100000, 66.9)
    """

    fit_s: float
    fit_rows: float
    predict_s: float
    predict_rows: float
    n_folds: int
    train_share: float
    n_train: int
    n_test: int
    refit: bool
    n_predicted: int
    workers: int
    fixed_s: float
    #: The power of the rows the fits grow by (:data:`GROWTH` unless a fit on more rows measured it).
    growth: float = GROWTH

    def seconds(self, cv_rows: int, fit_rows: int | None = None) -> float:
        """The evaluation's expected seconds with its cross-validation on ``cv_rows`` rows and the final
        fit on ``fit_rows`` (default: every training row)."""
        rows = self.n_train if fit_rows is None else fit_rows
        cv = self.n_folds * scaled(self.fit_s, int(self.fit_rows), int(self.train_share * cv_rows), safety=1.0,
                                   growth=self.growth)
        final = scaled(self.fit_s, int(self.fit_rows), rows, safety=1.0, growth=self.growth)
        if self.refit:
            final += scaled(self.fit_s, int(self.fit_rows), rows + self.n_test, safety=1.0, growth=self.growth)
        fits = max(final, (cv + final) / max(self.workers, 1))
        predict = self.predict_s * ((self.n_predicted + cv_rows) / max(self.predict_rows, 1.0)) ** PREDICT_GROWTH
        return round(SAFETY * (fits + predict) + self.fixed_s, 1)

    def fitting(self, left: float, cv_rows: int) -> tuple[int, int, float]:
        """What fits in ``left`` seconds: the cross-validation's rows, ``cv_rows`` halved until it does
        (not below :data:`EVALUATION_MIN_CV_ROWS`), then, if that is not enough, the final fit's rows
        halved from every training row (not below :data:`EVALUATION_MIN_FIT_ROWS`); and the
        evaluation's expected seconds with them."""
        floor = min(cv_rows, EVALUATION_MIN_CV_ROWS)
        while cv_rows > floor and self.seconds(cv_rows) > left:
            cv_rows = max(floor, cv_rows // 2)
        fit_rows, fit_floor = self.n_train, min(self.n_train, EVALUATION_MIN_FIT_ROWS)
        while fit_rows > fit_floor and self.seconds(cv_rows, fit_rows) > left:
            fit_rows = max(fit_floor, fit_rows // 2)
        return cv_rows, fit_rows, self.seconds(cv_rows, fit_rows)


#: The stages' names in the cuts' wording, and the keys of their seconds in ``timings_s``.
_STAGE_KEYS = {"model comparison": "selection", "feature ablation": "features", "learning curves": "learning_curves",
               "boosting rounds": "boosting_rounds", "cost calibration": "cost_calibration"}


#: A table of at least this many cells (rows x columns) gets a time budget when the spec sets none:
#: below it a whole run takes minutes at most on two cores, and a budget would only make the
#: comparison go family by family instead of queueing every fold at once.
DEFAULT_BUDGET_CELLS = 2_000_000
#: The default budget: a floor, one second per this many cells, and a cap, so that a 10M-row table
#: does not run for a day without saying so. Issue 19's targets on two cores: 1M x 20 cells within
#: 10 minutes, 10M x 20 within an hour, the stages after the budgeted ones (the evaluation's fit on
#: every row, the bundle) included: 500 s and 2,300 s.
DEFAULT_BUDGET_FLOOR_S, DEFAULT_BUDGET_CAP_S, CELLS_PER_SECOND = 300.0, 3000.0, 100_000


def default_time_budget(n_rows: int, n_columns: int) -> float | None:
    """The time budget a run gets from its table's size when ``constraints.time_budget_s`` is not set.

    None (no budget) below :data:`DEFAULT_BUDGET_CELLS` cells.

    Examples
    --------
    >>> default_time_budget(569, 31) is None, default_time_budget(327_346, 14), default_time_budget(10_000_000, 20)
    (True, 345.8, 2300.0)
    """
    cells = n_rows * max(n_columns, 1)
    if cells < DEFAULT_BUDGET_CELLS:
        return None
    return round(min(DEFAULT_BUDGET_CAP_S, DEFAULT_BUDGET_FLOOR_S + cells / CELLS_PER_SECOND), 1)

