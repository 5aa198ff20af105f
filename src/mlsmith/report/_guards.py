from __future__ import annotations

from typing import Any

from ._figures import Rendered
from ._html import render_template


def html(data: list[dict[str, Any]], results: dict[str, Any]) -> Rendered:
    """The guards section of the run report: each finding with its evidence and fix."""
    counts = {s: sum(1 for f in data if f["severity"] == s) for s in ("error", "warning", "info")}
    return Rendered(render_template("sections/guards.html", d=data, counts=counts, r=results))
