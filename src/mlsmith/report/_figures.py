"""Figures for the reports: matplotlib without pyplot (no global backend switch), embedded as PNG."""

from __future__ import annotations

import base64
import io
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # imported where a figure is made: writing a page's figures out needs no matplotlib
    from matplotlib.figure import Figure

__all__ = ["Drawing", "Rendered", "draw", "figure", "png_bytes", "write_figures"]

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


@dataclass(frozen=True)
class Drawing:
    """A report figure as data: its PNG bytes and its alt text (the figure's title on disk).

    The page embeds it (``{{ drawing }}`` in a template renders the ``<img>`` element); the run folder
    writes the same bytes to ``figures/`` (:func:`write_figures`).

    Parameters
    ----------
    png : bytes
        The figure drawn, as PNG.
    alt : str
        What the figure shows, for readers who cannot see it; it also names the file.

    Examples
    --------
    >>> Drawing(b"PNG", 'A "quoted" title').__html__()
    '<img class="fig" src="data:image/png;base64,UE5H" alt="A &#34;quoted&#34; title">'
    """

    png: bytes
    alt: str

    def __html__(self) -> str:
        from markupsafe import escape

        data = base64.b64encode(self.png).decode("ascii")
        return f'<img class="fig" src="data:image/png;base64,{data}" alt="{escape(self.alt)}">'

    def file_name(self, number: int) -> str:
        """``NN-<alt text>.png``: the figure's place in the page, then its alt text as a slug.

        Examples
        --------
        >>> Drawing(b"", "Über 'x' & y").file_name(3)
        '03-ber-x-y.png'
        """
        slug = re.sub(r"[^a-z0-9]+", "-", self.alt.lower()).strip("-")[:60] or "figure"
        return f"{number:02d}-{slug}.png"


def draw(fig: Figure, alt: str, dpi: int = 100) -> Drawing:
    """The figure drawn once, with its alt text: what a section puts in its page.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, made by :func:`figure`.
    alt : str
        What the figure shows (the ``<img>`` element's alt text and the file's name).
    dpi : int, default=100
        Pixels per inch of the PNG.

    Returns
    -------
    Drawing
        The PNG bytes and the alt text.

    Examples
    --------
    >>> fig = figure(2, 1)
    >>> _ = fig.subplots().plot([0, 1])
    >>> drawing = draw(fig, "A line", dpi=50)
    >>> drawing.alt, drawing.png[:4]
    ('A line', b'\\x89PNG')
    """
    return Drawing(png_bytes(fig, dpi), alt)


@dataclass(frozen=True)
class Rendered:
    """HTML and the figures it embeds, in page order: what a section (or the page) renders to.

    ``{{ rendered }}`` in a template, or ``str(rendered)``, gives the HTML.

    Parameters
    ----------
    html : str
        The HTML, every figure embedded as an ``<img>`` element.
    figures : tuple of Drawing, default=()
        The figures the HTML embeds, in the order it shows them.

    Examples
    --------
    >>> part = Rendered("<p>two figures</p>", (Drawing(b"a", "first"), Drawing(b"b", "second")))
    >>> str(part), [d.alt for d in (part + Rendered("<p>one</p>", (Drawing(b"c", "third"),))).figures]
    ('<p>two figures</p>', ['first', 'second', 'third'])
    """

    html: str
    figures: tuple[Drawing, ...] = ()

    def __html__(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    def __add__(self, other: Rendered) -> Rendered:
        return Rendered(self.html + other.html, self.figures + other.figures)


def write_figures(figures: Iterable[Drawing], folder: Path) -> list[Path]:
    """Write figures as ``folder/NN-<alt text>.png``, numbered from 1 in the order given.

    The page's figures are written in page order (:attr:`Rendered.figures`): the PNG files are the bytes
    the page embeds, for use outside the browser (slides, tickets).

    Parameters
    ----------
    figures : iterable of Drawing
        The figures, in the order to number them.
    folder : pathlib.Path
        Where to write them; made if missing.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order given.

    Examples
    --------
    >>> import tempfile
    >>> fig = figure(2, 1)
    >>> _ = fig.subplots().plot([0, 1])
    >>> [p.name for p in write_figures([draw(fig, "A line")], Path(tempfile.mkdtemp()))]
    ['01-a-line.png']
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, drawing in enumerate(figures, start=1):
        path = folder / drawing.file_name(number)
        path.write_bytes(drawing.png)
        written.append(path)
    return written
