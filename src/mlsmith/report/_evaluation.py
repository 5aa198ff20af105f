from __future__ import annotations

from typing import Any

from ._evaluation_figures import classification_figures, explanation_figures, regression_figures
from ._figures import Rendered
from ._html import render_fragment, render_template

STATUS_CLASS = {"met": "met", "not met": "notmet", "inconclusive": "inconclusive", "invalid": "notmet", None: "neutral"}


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The evaluation section of the run report (figures drawn from the section's data)."""
    figures = regression_figures(data) if data.get("task") == "regression" else classification_figures(data)
    explanations = (data.get("constraints") or {}).get("explanations")
    explain_figures = explanation_figures(explanations, data.get("classes")) if explanations else []
    order = ["macro avg", "weighted avg"]
    report = data.get("classification_report") or {}
    class_rows = [(k, v) for k, v in report.items() if isinstance(v, dict) and k not in order]
    avg_rows = [(k, report[k]) for k in order if k in report]
    page = render_template("sections/evaluation.html", d=data, r=results, figures=figures,
                           explain_figures=explain_figures, class_rows=class_rows, avg_rows=avg_rows,
                           status_class=STATUS_CLASS, bundle=(results.get("bundle") or {}).get("path"))
    return Rendered(page, tuple(drawing for _, drawing in [*figures, *explain_figures]))


def verdict_html(verdict: dict[str, Any]) -> str:
    """A verdict on its own (``Verdict._repr_html_``): the cards that head the run report."""
    return render_fragment(render_template("verdict.html", r={"evaluation": {"verdict": verdict}}))
