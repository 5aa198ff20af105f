from __future__ import annotations

import math
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

_env = Environment(loader=PackageLoader("mlsmith.report", "templates"), autoescape=select_autoescape(["html"]))


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.{digits}f}"
    return str(value)


_env.filters["fmt"] = _fmt


def render_html(result, standalone: bool = True) -> str:
    """Render a run's results as one self-contained HTML page (or a fragment for notebooks)."""
    data = result.to_dict()
    return _env.get_template("report.html").render(r=data, standalone=standalone)
