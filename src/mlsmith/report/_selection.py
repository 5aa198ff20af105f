from __future__ import annotations

from typing import Any

from ._html import render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> str:
    """The selection section of the run report."""
    return render_template("sections/selection.html", d=data, r=results)
