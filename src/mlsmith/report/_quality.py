from __future__ import annotations

from typing import Any

from ._figures import Rendered
from ._html import render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The quality section of the run report."""
    return Rendered(render_template("sections/quality.html", d=data, r=results))
