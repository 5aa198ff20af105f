from __future__ import annotations

from typing import Any

from ._html import render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> str:
    """The EDA section of the run report: the overview figure, findings and tables, per-feature plots."""
    from ._eda_figures import feature_grids, missing_heatmap, overview, temporal_plot

    return render_template("sections/eda.html", d=data, r=results, overview=overview(data),
                           features=feature_grids(data), missing_fig=missing_heatmap(data),
                           temporal_fig=temporal_plot(data))
