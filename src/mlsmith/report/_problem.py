from __future__ import annotations

from typing import Any

from ._figures import Rendered
from ._html import render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The problem section of the run report."""
    return Rendered(render_template("sections/problem.html", d=data, r=results))
