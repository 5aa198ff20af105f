"""Figures for the reports: matplotlib without pyplot (no global backend switch), embedded as PNG."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

__all__ = ["figure", "to_data_uri", "img_tag"]

PALETTE = ["#3565a8", "#e0803a", "#3f9a5b", "#c2413b", "#7d5ba6", "#8c6d4f", "#d074b3", "#7a7a7a"]


def figure(width: float = 6.0, height: float = 3.6, layout: str | None = "constrained") -> Figure:
    """A new figure with the report's style (call ``fig.subplots()`` for axes)."""
    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    return fig


def to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """Encode a figure as a ``data:image/png;base64,...`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def img_tag(fig: Figure, alt: str, dpi: int = 100) -> str:
    """An ``<img>`` element embedding the figure, with alt text for accessibility."""
    from markupsafe import escape

    return f'<img class="fig" src="{to_data_uri(fig, dpi)}" alt="{escape(alt)}">'
