from __future__ import annotations

from typing import Any

from ._figures import Rendered
from ._html import render_fragment, render_template


def html(data: list[dict[str, Any]], results: dict[str, Any]) -> Rendered:
    """The selection section of the run report (``data``: the leaderboard's rows; its other fields are
    ``results["leaderboard_meta"]``)."""
    return Rendered(render_template("sections/selection.html", d=data, r=results))


def recommendation_html(rec: dict[str, Any]) -> str:
    """The shortlist on its own (``Recommendation._repr_html_``), as the selection section shows it."""
    return render_fragment(render_template("sections/_recommendation.html", rec=rec))
