from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ._html import fmt, render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> str:
    """The feature-engineering section of the run report: the plan, its measured gain, what was kept."""
    return render_template("sections/features.html", d=data, r=results)


def plan_html(plan: dict[str, Any]) -> str:
    """A feature plan on its own (``FeaturePlan._repr_html_``)."""
    return render_template("sections/features.html", d={"mode": plan["mode"], "plan": plan["transforms"],
                                                         "notes": plan["notes"], "groups": []}, r={})


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
