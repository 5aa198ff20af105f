"""EDA figures drawn from the numbers in EDAReport.to_dict() (nothing here computes a statistic)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import LogNorm

from ._figures import PALETTE, Drawing, draw, figure

__all__ = ["feature_grids", "missing_heatmap", "overview", "temporal_plot"]


def _short(name: str, n: int = 22) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def _target_panel(ax, d: dict[str, Any]) -> None:
    t = d["figures"]["target"]
    if t["kind"] == "classes":
        labels, counts = list(t["counts"]), list(t["counts"].values())
        bars = ax.bar(range(len(labels)), counts, color=PALETTE[: len(labels)] if len(labels) <= 8 else PALETTE[0])
        total = sum(counts)
        for b, c in zip(bars, counts):
            ax.annotate(f"{c / total:.1%}", (b.get_x() + b.get_width() / 2, c), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(labels)), [_short(x, 12) for x in labels], rotation=30 if len(labels) > 4 else 0)
        ax.set_ylabel("rows")
    else:
        edges = np.asarray(t["edges"])
        ax.stairs(t["counts"], edges, fill=True, color=PALETTE[0], alpha=0.8)
        ax.set_xlabel(d["target"])
        ax.set_ylabel(f"rows (sample of {d['sample_rows']:,})")
    ax.set_title(f"Target distribution: {d['target']}")


def _assoc_panel(ax, d: dict[str, Any], top: int = 15) -> None:
    rows = d["associations"][:top][::-1]
    if not rows:
        ax.text(0.5, 0.5, "no features", ha="center", va="center", transform=ax.transAxes)
        return
    colors = [PALETTE[0] if r["kind"] == "numeric" else PALETTE[1] for r in rows]
    ax.barh([_short(r["feature"]) for r in rows], [r["strength"] or 0 for r in rows], color=colors)
    ax.set_xlim(0, max(1e-3, max(r["strength"] or 0 for r in rows)) * 1.15)
    ax.set_xlabel("association strength (0-1)")
    ax.set_title("Feature-target association")
    ax.tick_params(axis="y", labelsize=8)
    from matplotlib.patches import Patch

    measure = "|Pearson|/|Spearman|" if d["task"] == "regression" else "correlation ratio η"
    other = "η" if d["task"] == "regression" else "Cramér's V"
    ax.legend(handles=[Patch(color=PALETTE[0], label=f"numeric: {measure}"), Patch(color=PALETTE[1],
              label=f"categorical: {other}")], fontsize=7, loc="lower right")


def _feature_panel(ax, d: dict[str, Any], name: str, title: str | None = None) -> None:
    f = d["figures"]["features"].get(name)
    ylab = d["figures"]["target_mean_label"]
    if f is None:
        ax.set_axis_off()
        return
    if f["kind"] == "numeric":
        edges = np.asarray(f["edges"])
        if len(f["counts"]) > 1:
            for i, (label, counts) in enumerate(f["counts"].items()):
                total = max(sum(counts), 1)
                ax.stairs(np.asarray(counts) / total, edges, color=PALETTE[i % len(PALETTE)], linewidth=1.6,
                          label=f"{d['target']} = {label}")
            ax.set_ylabel("share of class")
            ax.legend(fontsize=7)
        else:
            ax.stairs(next(iter(f["counts"].values())), edges, fill=True, color=PALETTE[0], alpha=0.6)
            ax.set_ylabel("rows (sample)")
            if f.get("target_mean") and d["task"] == "regression":
                centers = (edges[:-1] + edges[1:]) / 2
                tw = ax.twinx()
                tm = np.array([np.nan if v is None else v for v in f["target_mean"]])
                tw.plot(centers, tm, color=PALETTE[3], marker=".", linewidth=1.2)
                tw.set_ylabel(ylab, color=PALETTE[3], fontsize=8)
        ax.set_xlabel(name)
        ax.locator_params(axis="x", nbins=5)  # a third of the page wide: six-digit values would overlap
    else:
        levels = [_short(str(v), 14) for v in f["levels"]]
        x = np.arange(len(levels))
        ax.bar(x, f["counts"], color=PALETTE[1], alpha=0.7)
        ax.set_xticks(x, levels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("rows")
        if ylab and any(v is not None for v in f["target_mean"]):
            tw = ax.twinx()
            tw.plot(x, [np.nan if v is None else v for v in f["target_mean"]], color=PALETTE[3], marker="o")
            tw.set_ylabel(ylab, color=PALETTE[3], fontsize=8)
        shown = f" (top {len(levels)} of {f['n_levels']})" if f["n_levels"] > len(levels) else ""
        ax.set_xlabel(name + shown)
    ax.set_title(title or name, fontsize=10)


def _top_panel(ax, d: dict[str, Any]) -> None:
    top, scatter = d["figures"]["top_feature"], d["figures"]["top_scatter"]
    if top is None:
        ax.set_axis_off()
        return
    if scatter:
        h = np.asarray(scatter["counts"], dtype=float).T
        mesh = ax.pcolormesh(scatter["x_edges"], scatter["y_edges"], np.where(h > 0, h, np.nan), cmap="viridis",
                             norm=LogNorm(vmin=1, vmax=max(h.max(), 2)))
        ax.figure.colorbar(mesh, ax=ax, label="rows (sample)")
        ax.set_xlabel(top)
        ax.set_ylabel(d["target"])
        ax.set_title(f"Top feature vs target: {_short(top)}")
    else:
        _feature_panel(ax, d, top, f"Top feature vs target: {_short(top)}")


def _missing_panel(ax, d: dict[str, Any]) -> None:
    pct = d["missingness"].get("pct", {})
    items = sorted(pct.items(), key=lambda kv: kv[1])[-20:]
    if not items:
        ax.text(0.5, 0.5, "no missing values", ha="center", va="center", transform=ax.transAxes, fontsize=12)
        ax.set_axis_off()
    else:
        ax.barh([_short(k) for k, _ in items], [v for _, v in items], color=PALETTE[3])
        ax.set_xlabel("% of rows missing")
        ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Missing values")


def _heatmap(ax, names: list[str], matrix, title: str, annotate: bool) -> None:
    m = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    im = ax.imshow(m, cmap="coolwarm", vmin=-1, vmax=1)
    ax.set_xticks(range(len(names)), [_short(n, 14) for n in names], rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), [_short(n, 14) for n in names], fontsize=7)
    if annotate:
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6)
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)


def _corr_panel(ax, d: dict[str, Any], top: int = 15) -> None:
    corr = d["correlation"]
    cols = corr["columns"]
    if len(cols) < 2:
        ax.text(0.5, 0.5, "fewer than two numeric features", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    rank = [r["feature"] for r in d["associations"] if r["feature"] in cols][:top]
    idx = [cols.index(c) for c in rank]
    matrix = [[corr["matrix"][i][j] for j in idx] for i in idx]
    _heatmap(ax, rank, matrix, "Correlation (Pearson, top features)", len(idx) <= 10)


def _box_panel(ax, d: dict[str, Any], top: int = 8) -> None:
    dist = d["distributions"]
    names = sorted(dist, key=lambda c: -dist[c]["outlier_pct"])[:top]
    stats = []
    for c in names:
        s = dist[c]
        iqr = (s["q3"] - s["q1"]) or 1.0

        def z(v):
            return (v - s["median"]) / iqr

        stats.append({"label": _short(c, 14), "med": 0.0, "q1": z(s["q1"]), "q3": z(s["q3"]),
                      "whislo": z(s["whisker_low"] if s["whisker_low"] is not None else s["q1"]),
                      "whishi": z(s["whisker_high"] if s["whisker_high"] is not None else s["q3"]), "fliers": []})
    if not stats:
        ax.set_axis_off()
        return
    ax.bxp(stats, showfliers=False)
    for i, c in enumerate(names, start=1):
        ax.annotate(f"{dist[c]['outlier_pct']:.1f}%", (i, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=7, color=PALETTE[3])
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.set_ylabel("(value − median) / IQR")
    ax.set_title("Outlier check (IQR rule; % outside the fences)", pad=14)


def overview(d: dict[str, Any]) -> Drawing:
    """The six-panel overview: target, associations, top feature, missing values, heatmap, box plots."""
    fig = figure(16, 9.5, layout=None)  # fixed spacing: constrained layout doubles the drawing time
    axes = fig.subplots(2, 3, gridspec_kw={"wspace": 0.45, "hspace": 0.42, "left": 0.07, "right": 0.96,
                                           "bottom": 0.11, "top": 0.95})
    _target_panel(axes[0, 0], d)
    _assoc_panel(axes[0, 1], d)
    _top_panel(axes[0, 2], d)
    _missing_panel(axes[1, 0], d)
    _corr_panel(axes[1, 1], d)
    _box_panel(axes[1, 2], d)
    return draw(fig, "EDA overview: target distribution, feature-target association, top feature vs target, "
                   "missing values, correlation heatmap, outlier box plots", dpi=80)


def feature_grids(d: dict[str, Any], per_image: int = 6, limit: int = 18) -> list[Drawing]:
    """Per-feature plots, six to an image, for the ``limit`` features most associated with the target."""
    names = [r["feature"] for r in d["associations"] if r["feature"] in d["figures"]["features"]][:limit]
    out = []
    for start in range(0, len(names), per_image):
        chunk = names[start: start + per_image]
        rows = (len(chunk) + 2) // 3
        fig = figure(16, 3.6 * rows, layout=None)  # a fixed grid: constrained layout would triple the time
        grid = fig.add_gridspec(rows, 3, wspace=0.42, hspace=0.75, left=0.05, right=0.95, bottom=0.2 / rows + 0.05,
                                top=1 - 0.12 / rows)
        for i, name in enumerate(chunk):  # no axes for the empty places of the last row (each costs ~10 ms)
            _feature_panel(fig.add_subplot(grid[i // 3, i % 3]), d, name)
        out.append(draw(fig, "Per-feature plots: " + ", ".join(chunk), dpi=72))
    return out


def missing_heatmap(d: dict[str, Any]) -> Drawing | None:
    m = d["missingness"]
    if len(m["columns"]) < 2:
        return None
    size = min(3 + 0.35 * len(m["columns"]), 9)
    fig = figure(size + 1.5, size)
    _heatmap(fig.subplots(), m["columns"], m["cooccurrence"], "Missingness co-occurrence (indicator correlation)",
             len(m["columns"]) <= 12)
    return draw(fig, "Missingness co-occurrence heatmap", dpi=72)


def temporal_plot(d: dict[str, Any]) -> Drawing | None:
    t = d.get("temporal")
    if not t or not t["periods"]:
        return None
    import datetime as dt

    x = [dt.date.fromisoformat(p) for p in t["periods"]]
    fig = figure(12, 3.4)
    ax = fig.subplots()
    # matplotlib's date units take datetime.date; its stubs list only numbers and arrays
    ax.bar(x, t["counts"], width=(x[1] - x[0]).days * 0.8 if len(x) > 1 else 1, color="#c9d3e3",  # type: ignore[arg-type]
           label="rows")
    ax.set_ylabel(f"rows per {t['period']}")
    tw = ax.twinx()
    tw.plot(x, [np.nan if v is None else v for v in t["means"]], color=PALETTE[3], marker=".",  # type: ignore[arg-type]
            label=t["y"])
    tw.set_ylabel(t["y"], color=PALETTE[3])
    ax.set_title(f"{t['y']} per {t['period']} of {t['column']}")
    return draw(fig, f"{t['y']} over {t['column']}", dpi=72)
