"""A run's wall-clock budget: how long it may take, what is left, and the error that says it ran out.

The workflow makes one :class:`RunBudget` per run (``constraints.time_budget_s``, or
:func:`default_time_budget` from the table's size) and asks it, stage by stage, what remains; the
CV engine (:mod:`mlsmith.parallel`) stops the fits still running at a deadline and raises
:class:`BudgetExceeded`.
"""

from __future__ import annotations

import time

__all__ = ["CELLS_PER_SECOND", "DEFAULT_BUDGET_CAP_S", "DEFAULT_BUDGET_CELLS", "DEFAULT_BUDGET_FLOOR_S",
           "BudgetExceeded", "RunBudget", "default_time_budget"]


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

    def left(self, reserve: float = 0.0) -> float | None:
        """Seconds left after ``reserve`` (never negative), or None without a budget."""
        if self.seconds is None:
            return None
        return max(0.0, self.seconds - (time.perf_counter() - self.start) - reserve)

    def allows(self, stage: str, cost_s: float, reserve: float = 0.0) -> bool:
        """Whether ``stage``, estimated at ``cost_s``, fits in what is left after ``reserve``; if not, it is cut."""
        left = self.left(reserve)
        if left is None or cost_s <= left:
            return True
        self.cuts.append(f"{stage}: not run, about {cost_s:.0f} s needed and {left:.0f} s left of the "
                         f"{self.seconds:g} s time budget")
        return False

    def bound(self, stage: str, own: float | None, share: float) -> float | None:
        """A stage's own limit ``own`` (None: none), lowered to ``share`` seconds, recorded if it was."""
        if self.seconds is None or (own is not None and own <= share):
            return own
        share = round(share, 1)
        self.cuts.append(f"{stage}: bounded to {share:g} s of the {self.seconds:g} s time budget")
        return share


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

