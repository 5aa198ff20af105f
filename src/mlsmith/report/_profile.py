"""Rendering of the stand-alone quality and EDA reports: rich tables and a one-stage HTML page."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from rich.console import Console
from rich.table import Table

from ._html import SECTIONS, render_template

__all__ = ["print_eda", "print_quality", "profile_page"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _findings(console: Console, findings: list[dict[str, Any]], title: str, limit: int = 40) -> None:
    table = Table(title=title, show_lines=False)
    for col in ("severity", "check", "finding", "suggested action"):
        table.add_column(col, overflow="fold")
    for f in findings[:limit]:
        table.add_row(f"[{_STYLE[f['severity']]}]{f['severity']}[/]", f["check"].replace("_", " "), f["message"],
                      f["fix"])
    console.print(table)
    if len(findings) > limit:
        console.print(f"… and {len(findings) - limit} more findings (see --json or --html)")


def print_quality(d: dict[str, Any], console: Console | None = None) -> None:
    """The quality report as rich tables: shape, missing values, numeric summary, findings."""
    console = console or Console()
    console.print(f"{d['n_rows']:,} rows × {d['n_columns']} columns, {d['memory_mb']:.1f} MB"
                  f"{' (estimated)' if d['memory_estimated'] else ''}; {d['n_duplicates']:,} duplicate rows "
                  f"({d['duplicate_pct']}%)", markup=False, highlight=False)
    if d["missing"]:
        table = Table(title="Missing values")
        for col in ("column", "missing", "%"):
            table.add_column(col, justify="left" if col == "column" else "right")
        for c, m in d["missing"].items():
            table.add_row(c, f"{m['count']:,}", f"{m['pct']}")
        console.print(table)
    if d["numeric_summary"]:
        keys = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
        table = Table(title="Numeric columns (finite values)")
        table.add_column("column")
        for k in keys:
            table.add_column(k, justify="right")
        for c, s in d["numeric_summary"].items():
            table.add_row(c, *("—" if s[k] is None else f"{s[k]:.4g}" for k in keys))
        console.print(table)
    if d.get("target") and d["target"].get("distribution"):
        dist = ", ".join(f"{k}: {v:.1%}" for k, v in d["target"]["distribution"].items())
        console.print(f"Target {d['target']['name']}: {dist}", markup=False, highlight=False)
    _findings(console, d["findings"], "Data quality findings")


def print_eda(d: dict[str, Any], console: Console | None = None) -> None:
    """The EDA report as rich tables: feature-target association, distributions, findings."""
    console = console or Console()
    console.print(f"{d['n_rows']:,} rows; {d['task'].replace('_', ' ')}; figures from a sample of "
                  f"{d['sample_rows']:,} rows", markup=False, highlight=False)
    table = Table(title=f"Feature-target association ({d['target']})")
    for col in ("feature", "kind", "strength", "Pearson", "Spearman", "η", "Cramér's V", "AUC"):
        table.add_column(col, justify="left" if col in ("feature", "kind") else "right")

    def f3(v):
        return "—" if v is None else f"{v:.3f}"

    for a in d["associations"][:25]:
        table.add_row(a["feature"], a["kind"], f3(a["strength"]), f3(a.get("pearson")), f3(a.get("spearman")),
                      f3(a.get("eta")), f3(a.get("cramers_v")), f3(a.get("auc")))
    console.print(table)
    if d["distributions"]:
        table = Table(title="Numeric distributions")
        for col in ("feature", "skew", "kurtosis", "outliers %", "modes", "VIF"):
            table.add_column(col, justify="left" if col == "feature" else "right")
        vif = d["correlation"]["vif"]
        for c, s in d["distributions"].items():
            table.add_row(c, f3(s["skew"]), f3(s["kurtosis"]), f"{s['outlier_pct']}", str(s["n_modes"] or "—"),
                          "—" if vif.get(c) is None else f"{vif[c]:.1f}")
        console.print(table)
    _findings(console, d["findings"], "EDA findings and suggested actions")


def profile_page(title: str, sections: dict[str, Any]) -> str:
    """A self-contained HTML page of the quality and/or EDA sections (from their to_dict() data)."""
    import importlib

    results = {"problem": {"name": title}, **sections}
    parts = [importlib.import_module(module).html(results[key], results) for key, module in SECTIONS
             if key in sections]
    return str(render_template("report.html", r=results, sections=[Markup(p) for p in parts], standalone=True,
                               nav=[]))
