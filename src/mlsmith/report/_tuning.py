from __future__ import annotations

from typing import Any

from ._figures import PALETTE, Drawing, Rendered, draw, figure
from ._html import render_fragment, render_template


def learning_curve_figure(lc: dict[str, Any]):
    """Train and validation score by training rows, with ±1 std bands (numbers from results.json)."""
    fig = figure(6.0, 3.4)
    ax = fig.subplots()
    sizes = lc["train_sizes"]
    for key, label, color in (("train", "training", PALETTE[0]), ("val", "validation (CV)", PALETTE[1])):
        mean, std = lc[f"{key}_mean"], lc[f"{key}_std"]
        ax.plot(sizes, mean, "o-", color=color, label=label)
        ax.fill_between(sizes, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                        color=color, alpha=0.15)
    if lc.get("reference") is not None:
        ax.axhline(lc["reference"], color=PALETTE[7], linestyle=":", label="dummy model")
    ax.set_xlabel("training rows")
    ax.set_ylabel(lc["metric"] + ("" if lc["greater_is_better"] else " (lower is better)"))
    ax.set_title(f"Learning curves: {lc['diagnosis']}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def _drawing(lc: dict[str, Any]) -> Drawing:
    return draw(learning_curve_figure(lc), f"Learning curves, diagnosed as {lc['diagnosis']}")


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The tuning section of the run report: search, gain over the defaults, learning curves."""
    lc = data.get("learning_curve")
    figure = _drawing(lc) if lc else None
    return Rendered(render_template("sections/tuning.html", d=data, r=results, figure=figure or ""),
                    (figure,) if figure else ())


def learning_curve_html(lc: dict[str, Any]) -> str:
    """A learning curve on its own (``LearningCurve._repr_html_``): the tuning section's figure and diagnosis."""
    return render_fragment(render_template("sections/_learning_curve.html", lc=lc, figure=_drawing(lc)))
