from __future__ import annotations

from typing import Any

from ._figures import Rendered
from ._html import render_template


def html(data: dict[str, Any], results: dict[str, Any]) -> Rendered:
    """The EDA section of the run report: the overview figure, findings and tables, per-feature plots."""
    from ._eda_figures import feature_grids, missing_heatmap, overview, temporal_plot

    first, features = overview(data), feature_grids(data)
    missing, temporal = missing_heatmap(data), temporal_plot(data)
    html = render_template("sections/eda.html", d=data, r=results, overview=first, features=features,
                           missing_fig=missing, temporal_fig=temporal)
    # the template's order: the overview, the missingness heatmap, the target over time, per feature
    return Rendered(html, tuple(f for f in (first, missing, temporal, *features) if f is not None))
