from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ._figures import Drawing, Rendered
from ._html import fmt, render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The feature-engineering section of the run report: the plan, its measured gain, what was kept."""
    figure = gain_figure(data) if data.get("raw_score") is not None else None
    return Rendered(render_template("sections/features.html", d=data, r=results, figure=figure or ""),
                    (figure,) if figure else ())


def gain_figure(data: dict[str, Any]) -> Drawing:
    """Bars: the CV score on the raw columns, without each group, with the whole plan and the kept plan."""
    from ._figures import PALETTE, draw, figure

    labels = ["raw columns", *[f"without {g['group']}" for g in data["groups"]], "whole plan", "kept plan"]
    values = [data["raw_score"], *[g["score_without"] for g in data["groups"]], data["full_score"], data["final_score"]]
    colours = [PALETTE[7], *[PALETTE[3] if g["decision"] == "dropped" else PALETTE[0] for g in data["groups"]],
               PALETTE[0], PALETTE[2]]
    fig = figure(6.0, 0.45 * len(labels) + 0.9)
    ax = fig.subplots()
    ax.barh(labels[::-1], values[::-1], color=colours[::-1])
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {v:.4g}", va="center", fontsize=8)
    ax.set_xlabel(f"CV {data['metric']} ({'higher' if data['greater_is_better'] else 'lower'} is better), {data['family']}")
    ax.spines[["top", "right"]].set_visible(False)
    return draw(fig, f"cross-validated {data['metric']} with and without each feature group")


def plan_html(plan: dict[str, Any]) -> str:
    """A feature plan on its own (``FeaturePlan._repr_html_``)."""
    return render_template("sections/features.html", d={"mode": plan["mode"], "plan": plan["transforms"],
                                                         "notes": plan["notes"], "groups": [], "raw_score": None}, r={})


def print_features(data: dict[str, Any], console: Console) -> None:
    """The plan and its measured gain as rich tables."""
    decisions = {g["group"]: g["decision"] for g in data.get("groups", [])}
    table = Table(title=f"Feature plan ({data['mode']})")
    for col in ("kind", "columns", "reason", "pinned", "decision"):
        table.add_column(col)
    for t in data["plan"]:
        columns = ", ".join(t["columns"]) + (f" by {t['by']}" if t.get("by") else "")
        table.add_row(t["kind"], columns, t.get("reason") or "", "yes" if t.get("pinned") else "",
                      decisions.get(t["kind"], ""))
    if data["plan"]:
        console.print(table)
    if data.get("raw_score") is not None:
        console.print(f"Features measured with {data['family']} (CV {data['metric']}): raw columns {fmt(data['raw_score'])}, "
                      f"whole plan {fmt(data['full_score'])}, kept plan {fmt(data['final_score'])}", markup=False)
    for note in data.get("notes", []):
        console.print(f"  {note}", markup=False)
