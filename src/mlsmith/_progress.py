"""What a stage reports while it works: a line of text, with a count when the work is countable.

A :class:`Step` is a ``str`` (what ``run(progress=...)`` callbacks have always received), so a
callback that prints its argument keeps working; one that reads ``done`` and ``total`` can draw a
bar with a count and the time left (the CLI's, on a terminal).
"""

from __future__ import annotations

__all__ = ["Step"]


class Step(str):
    """A progress message, with ``done`` of ``total`` units of its stage's work when they are known.

    Examples
    --------
    >>> step = Step("6/7 tuning LightGBM: trials 4-6", done=3, total=15)
    >>> step, step.done, step.total, step.upper().startswith("6/7")
    ('6/7 tuning LightGBM: trials 4-6', 3, 15, True)
    >>> Step("6/7 tuning") + ": trial 1", Step("2/7 data quality").total
    ('6/7 tuning: trial 1', None)
    """

    done: int | None
    total: int | None

    def __new__(cls, text: str, done: int | None = None, total: int | None = None) -> "Step":
        step = super().__new__(cls, text)
        step.done, step.total = done, total
        return step

    def within(self, prefix: str) -> "Step":
        """The same count, under a stage's prefix (``"6/7 tuning LightGBM: " + self``)."""
        return Step(prefix + self, self.done, self.total)
