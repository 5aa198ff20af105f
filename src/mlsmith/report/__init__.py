"""Rendering: results in, HTML or terminal text out. Nothing here computes a statistic.

Stages return plain result objects; this package presents them. ``render_html`` fills one Jinja
template with the run's data. Each section renders to a ``Rendered`` value: its HTML and the figures
it embeds, each a ``Drawing`` (PNG bytes and alt text) drawn from the section's numbers and embedded as
base64, so the page is one self-contained file and the run folder writes ``figures/`` from the same
values. ``print_run`` writes the same data as rich tables.
"""

from ._deploy import print_log_comparison
from ._html import render_html
from ._terminal import print_findings, print_run

__all__ = ["print_findings", "print_log_comparison", "print_run", "render_html"]
