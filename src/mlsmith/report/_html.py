from __future__ import annotations

import importlib
import math
import re
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from markupsafe import Markup

from ._figures import Rendered


class _TemplateCache(FileSystemBytecodeCache):
    """The compiled templates, kept between processes in the user's private temporary folder.

    Compiling the report's templates costs each run ~0.15 s; loading them compiled, ~5 ms. Jinja
    compiles a template again when its source or the Python version changed. A cache that cannot be
    read or written is passed over: the page is rendered all the same.
    """

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged or unreadable file: compile the template
            bucket.reset()

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _template_cache() -> _TemplateCache | None:
    try:
        return _TemplateCache()
    except (OSError, RuntimeError):  # no private temporary folder to be had
        return None


_env = Environment(loader=PackageLoader("mlsmith.report", "templates"), autoescape=select_autoescape(["html"]),
                   bytecode_cache=_template_cache())

#: The report's sections in page order: (key in results.json, renderer module). Each module has
#: ``html(data: dict, results: dict) -> Rendered``, which renders the stage's ``to_dict()`` data as an
#: HTML fragment with the figures it embeds, so a page can be re-rendered from results.json alone. A key absent from the results is left out.
SECTIONS: list[tuple[str, str]] = [
    ("problem", "mlsmith.report._problem"),
    ("quality", "mlsmith.report._quality"),
    ("eda", "mlsmith.report._eda"),
    ("guards", "mlsmith.report._guards"),
    ("features", "mlsmith.report._features"),
    ("leaderboard", "mlsmith.report._selection"),
    ("tuning", "mlsmith.report._tuning"),
    ("evaluation", "mlsmith.report._evaluation"),
    ("bundle", "mlsmith.report._bundle"),
]


def fmt(value: Any, digits: int = 4) -> str:
    """A number for display: fixed digits, '—' for missing or NaN."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.{digits}f}"
    return str(value)


_env.filters["fmt"] = fmt


def render_template(name: str, **context: Any) -> Markup:
    """Render one of the package's templates (e.g. ``sections/quality.html``) to safe HTML."""
    return Markup(_env.get_template(name).render(**context))


def render_sections(results: dict[str, Any], keys: list[str]) -> dict[str, Rendered]:
    """Some sections of the page, to be passed to :func:`render_page` as ``rendered``.

    A section reads its own key and few others (the problem; the selection section the tuning's), so
    it can be drawn before the run has finished: the run's workers draw the sections of stages 2-6
    during the evaluation, and the others but the bundle's while it saves the model.

    Examples
    --------
    >>> from mlsmith.guards import GuardReport
    >>> html = render_sections({"guards": GuardReport().to_dict()}, ["guards", "eda"])
    >>> list(html), html["guards"].html.startswith('<section id="guards">'), html["guards"].figures
    (['guards'], True, ())
    """
    modules = dict(SECTIONS)
    return {key: importlib.import_module(modules[key]).html(results[key], results)
            for key in keys if results.get(key) is not None}


def render_page(results: dict[str, Any], standalone: bool = True,
                rendered: dict[str, Rendered] | None = None) -> Rendered:
    """Render results.json data (a dict) as the run's HTML page and its figures in page order
    (``rendered``: sections drawn already)."""
    rendered = {**render_sections(results, [key for key, _ in SECTIONS if key not in (rendered or {})]),
                **(rendered or {})}
    parts = [rendered[key] for key, _ in SECTIONS if key in rendered]
    sections = [Markup(part) for part in parts]
    nav = [(m.group(1), Markup(m.group(2)).striptags())
           for m in (re.match(r'\s*<section id="([^"]+)"><h2>(.*?)</h2>', str(s)) for s in sections) if m]
    page = _env.get_template("report.html").render(r=results, sections=sections, standalone=standalone, nav=nav)
    return Rendered(page, tuple(drawing for part in parts for drawing in part.figures))


def render_section(key: str, data: Any, results: dict[str, Any] | None = None) -> str:
    """One section of the report with the report's style, for a result's ``_repr_html_`` in a notebook."""
    module = dict(SECTIONS)[key]
    return render_fragment(str(importlib.import_module(module).html(data, results or {})))


def render_fragment(body: str) -> str:
    """HTML drawn by the report's templates, wrapped with the report's style for a notebook cell.

    Examples
    --------
    >>> html = render_fragment(render_template("sections/_learning_curve.html", lc={"diagnosis": "good fit",
    ...                        "fix": "deploy", "explanation": "<b>train = val</b>"}, figure=""))
    >>> html.count('<div class="mls">'), "&lt;b&gt;train = val&lt;/b&gt;" in html
    (1, True)
    """
    return _env.get_template("fragment.html").render(body=Markup(body))


def render_html(result, standalone: bool = True, rendered: dict[str, Rendered] | None = None) -> str:
    """Render a run's results as one self-contained HTML page (or a fragment for notebooks)."""
    from ..runs import to_jsonable

    return render_page(to_jsonable(result), standalone=standalone, rendered=rendered).html
