"""The page of ``mlsmith runs compare --html``: runs side by side (verdicts, metrics, leaderboards,
the keys of problem.yaml that differ, parameters, data)."""

from __future__ import annotations

from typing import Any

from ._evaluation import STATUS_CLASS
from ._html import _env
from ._monitor_terminal import leaderboard_cell, leaderboard_models, run_names, spec_value, verdict_status


def comparison_page(data: dict[str, Any]) -> str:
    """A self-contained HTML page of a :class:`~mlsmith.monitor.RunComparison`'s data (everything escaped).

    Examples
    --------
    >>> run = {"id": "20260101-000000-a", "status": "met", "metric": "r2", "value": 0.8, "data_fingerprint": "ab"}
    >>> page = comparison_page({"runs": [run, {**run, "id": "<b>x</b>"}], "metrics": [], "params": [],
    ...                         "same_data": True})
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "MET" in page
    True
    """
    boards = data.get("leaderboards") or []
    return _env.get_template("compare.html").render(
        d=data, names=run_names(len(data["runs"])), statuses=[verdict_status(r) for r in data["runs"]],
        status_class=STATUS_CLASS, boards=leaderboard_models(boards) if any(boards) else [],
        cell=leaderboard_cell, spec_value=spec_value)
