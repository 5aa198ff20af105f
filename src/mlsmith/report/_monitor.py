"""The monitoring report: the section, its figures, and a standalone page. It renders DriftReport data only."""

from __future__ import annotations

from typing import Any

import numpy as np
from markupsafe import Markup

from ._figures import PALETTE, Rendered, draw, figure
from ._html import _env, render_fragment, render_template

#: Reference-vs-current distributions shown: the drifted features first, then the largest PSI.
SHOWN_DISTRIBUTIONS = 6


def psi_figure(rows: list[dict[str, Any]]):
    """PSI per tested feature, with the 0.1 and 0.2 bands; drifted features in the alarm colour."""
    tested = sorted((r for r in rows if r["psi"] is not None), key=lambda r: r["psi"])
    fig = figure(6.4, max(1.6, 0.28 * len(tested) + 0.9))
    ax = fig.subplots()
    colours = [PALETTE[3] if r["drifted"] else PALETTE[0] for r in tested]
    ax.barh([r["name"] for r in tested], [r["psi"] for r in tested], color=colours)
    ax.axvline(0.1, color=PALETTE[1], linestyle="--", linewidth=1, label="0.1: moderate")
    ax.axvline(0.2, color=PALETTE[3], linestyle="--", linewidth=1, label="0.2: significant")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel("PSI (red: flagged — significant after Holm correction and PSI >= 0.1, or for a category\n"
                  "a Jensen-Shannon distance net of sampling noise >= 0.07)")
    ax.tick_params(axis="y", labelsize=8)
    return fig


def distribution_figure(row: dict[str, Any]):
    """Reference vs current shares per bin (numeric deciles of the reference) or per category."""
    bins = row["bins"]
    fig = figure(6.4, 2.6)
    ax = fig.subplots()
    x = np.arange(len(bins["labels"]))
    ax.bar(x - 0.2, bins["reference"], width=0.4, label="reference", color=PALETTE[0])
    ax.bar(x + 0.2, bins["current"], width=0.4, label="current", color=PALETTE[1])
    ax.set_xticks(x, bins["labels"], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    psi_text = "—" if row["psi"] is None else f"{row['psi']:.3f}"
    net = row.get("js_net")
    js_text = "" if net is None else f", Jensen-Shannon {row['js']:.3f} ({net:.3f} net of noise)"
    ax.set_title(f"{row['name']}: PSI {psi_text}{js_text}", fontsize=10)
    ax.legend(fontsize=8)
    return fig


def performance_figure(perf: dict[str, Any]):
    """The success metric on the test split and on the current rows, each with a 95% interval."""
    fig = figure(4.2, 2.4)
    ax = fig.subplots()
    z = 1.96
    values = [perf["reference"], perf["current"]]
    errors = [z * (perf["reference_se"] or 0.0), z * (perf["current_se"] or 0.0)]
    ax.errorbar([0, 1], values, yerr=errors, fmt="o", capsize=6, color=PALETTE[0])
    if perf.get("threshold") is not None:
        ax.axhline(perf["threshold"], color=PALETTE[3], linestyle="--", linewidth=1, label="success threshold")
        ax.legend(fontsize=8)
    ax.set_xticks([0, 1], ["test split (training time)", "current rows"])
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel(perf["metric"])
    return fig


def html(data: dict[str, Any], results: dict[str, Any] | None = None) -> Rendered:
    """The monitoring section, from ``DriftReport.to_dict()`` data."""
    rows = data["features"]
    tested = [r for r in rows if r["bins"] is not None]
    shown = sorted(tested, key=lambda r: (not r["drifted"], -(r["psi"] or 0)))[:SHOWN_DISTRIBUTIONS]
    psi = draw(psi_figure(rows), "PSI per feature") if tested else None
    distributions = [draw(distribution_figure(r), f"reference vs current distribution of {r['name']}") for r in shown]
    prediction = (draw(distribution_figure(data["prediction"]), "prediction distribution")
                  if data["prediction"]["bins"] else None)
    performance = draw(performance_figure(data["performance"]), "performance") if data.get("performance") else None
    figures = {"psi": psi, "distributions": distributions, "prediction": prediction, "performance": performance}
    # the template's order: performance, PSI, the distributions, the prediction's distribution
    return Rendered(render_template("sections/monitor.html", d=data, fig=figures),
                    tuple(f for f in (performance, psi, *distributions, prediction) if f is not None))


def page(data: dict[str, Any]) -> str:
    """A standalone HTML page of the monitoring report."""
    about = data["model"]
    title = {"name": f"Monitoring — {about.get('problem') or data['bundle']}", "decision": data["verdict"]["summary"],
             "type": about["task"], "target": about["target"], "seed": about.get("seed")}
    return _env.get_template("report.html").render(r={"problem": title}, sections=[Markup(html(data))], standalone=True)


def retrain_html(data: dict[str, Any]) -> str:
    """A retraining decision (``RetrainResult.to_dict()``) for a notebook: the figures ``mlsmith retrain`` prints."""
    return render_fragment(render_template("sections/retrain.html", d=data))
