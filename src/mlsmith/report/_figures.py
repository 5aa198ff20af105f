"""Figures for the reports: matplotlib without pyplot (no global backend switch), embedded as PNG."""

from __future__ import annotations

import base64
import io
import re
import warnings
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # imported where a figure is made: writing a page's figures out needs no matplotlib
    from matplotlib.figure import Figure

__all__ = ["figure", "img_tag", "png_bytes", "to_data_uri", "write_figures"]

PALETTE = ["#3565a8", "#e0803a", "#3f9a5b", "#c2413b", "#7d5ba6", "#8c6d4f", "#d074b3", "#7a7a7a"]


def figure(width: float = 6.0, height: float = 3.6,
           layout: Literal["constrained", "compressed", "tight"] | None = "constrained") -> Figure:
    """A new figure with the report's style (call ``fig.subplots()`` for axes)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    return fig


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure drawn once, as PNG.

    ``savefig`` draws a figure that has a layout engine twice: a pass that lays it out without
    rendering, then the rendering. A canvas's ``draw`` lays out and renders in one pass, to the same
    pixels. The PNG is RGB when every pixel is opaque (the report's figures have a white background),
    which makes it about a tenth smaller than matplotlib's RGBA.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    with warnings.catch_warnings():
        # a column or class name in a script DejaVu Sans lacks (CJK) draws as boxes; the report's
        # tables, not the figures, carry the names, so this is no reason to write to stderr
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    if image.getextrema()[-1] == (255, 255):  # the alpha band's (min, max)
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue()


def to_data_uri(fig: Figure, dpi: int = 100) -> str:
    """Encode a figure as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")


def img_tag(fig: Figure, alt: str, dpi: int = 100) -> str:
    """An ``<img>`` element embedding the figure, with alt text for accessibility."""
    from markupsafe import escape

    return f'<img class="fig" src="{to_data_uri(fig, dpi)}" alt="{escape(alt)}">'


_IMG = re.compile(r'<img class="fig" src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')


def write_figures(html: str, folder: Path) -> list[Path]:
    """Write every figure embedded in a rendered page as ``folder/NN-<alt text>.png``.

    The page is the one place figures are drawn; the PNG files are the same bytes, for use outside
    the browser (slides, tickets). Returns the files written, in page order.

    Examples
    --------
    >>> import tempfile
    >>> fig = figure(2, 1)
    >>> _ = fig.subplots().plot([0, 1])
    >>> [p.name for p in write_figures(img_tag(fig, "A line"), Path(tempfile.mkdtemp()))]
    ['01-a-line.png']
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (data, alt) in enumerate(_IMG.findall(html), start=1):
        slug = re.sub(r"[^a-z0-9]+", "-", unescape(alt).lower()).strip("-")[:60] or "figure"
        path = folder / f"{i:02d}-{slug}.png"
        path.write_bytes(base64.b64decode(data))
        written.append(path)
    return written
