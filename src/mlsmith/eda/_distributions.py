"""Distributions of the numeric features: moments (exact, SQL), IQR outliers (exact), modes (sample)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from .._findings import Finding, finding
from .._table import Table, finite, lit, q

__all__ = ["bimodality_coefficient", "count_modes", "distributions"]

SKEW_LIMIT = 1.0
OUTLIER_SHARE = 0.005


def bimodality_coefficient(skew: float, kurtosis: float, n: int) -> float:
    """Sarle's bimodality coefficient from sample skewness and excess kurtosis; > 5/9 hints at two modes.

    Examples
    --------
    >>> round(bimodality_coefficient(0.0, -1.2, 10_000), 2)  # a uniform distribution: the 5/9 boundary
    0.56
    """
    return (skew**2 + 1) / (kurtosis + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))


def count_modes(values: np.ndarray, bins: int = 128, min_prominence: float = 0.1) -> int:
    """The number of modes of a density estimate: a histogram smoothed with a Gaussian kernel of
    Silverman's bandwidth, counting peaks whose prominence is at least ``min_prominence`` of the highest.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> count_modes(rng.normal(size=5000)), count_modes(np.r_[rng.normal(0, 1, 3000), rng.normal(6, 1, 3000)])
    (1, 2)
    """
    values = values[np.isfinite(values)]
    if len(values) < 50 or np.ptp(values) == 0:
        return 1
    lo, hi = np.quantile(values, [0.005, 0.995])
    if hi <= lo:
        return 1
    if np.all(values == np.round(values)) and hi - lo <= 256:
        counts, edges = np.histogram(values, bins=np.arange(lo - 0.5, hi + 1.5))  # one bin per integer
    else:
        counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    iqr = np.subtract(*np.quantile(values, [0.75, 0.25]))
    spread = min(values.std(), iqr / 1.34) if iqr > 0 else values.std()
    bandwidth = 0.9 * spread * len(values) ** (-0.2)
    density = gaussian_filter1d(counts.astype(float), max(bandwidth / (edges[1] - edges[0]), 1.0), mode="constant")
    peaks, _ = find_peaks(np.r_[0, density, 0], prominence=min_prominence * density.max())
    return max(len(peaks), 1)


def distributions(table: Table, stats: dict[str, dict[str, Any]], columns: list[str], sample,
                  group: str | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray], list[Finding]]:
    """Skewness, kurtosis, IQR fences and outlier counts, box-plot numbers, modes and a histogram.

    The same scan groups the rows by ``group`` (an SQL expression: the class label) and returns, per
    column, an array of (count, mean, population variance) per non-null group, from which the
    correlation ratios are computed.
    """
    out: dict[str, dict[str, Any]] = {}
    findings: list[Finding] = []
    exprs = []
    for c in columns:
        quart = stats[c]["quartiles"]
        if not quart:
            continue
        q1, _, q3 = quart
        lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        x = f"CAST({q(c)} AS DOUBLE)"
        fx = f"(CASE WHEN isfinite({x}) THEN {x} END)"
        inside = f"{x} BETWEEN {lit(lo)} AND {lit(hi)}"
        exprs += [f"sum(CASE WHEN isfinite({x}) AND NOT ({inside}) THEN 1 ELSE 0 END)",
                  f"min(CASE WHEN {inside} THEN {x} END)", f"max(CASE WHEN {inside} THEN {x} END)",
                  f"count({fx})", f"avg({fx})", f"var_pop({fx})"]
        out[c] = {"q1": q1, "median": quart[1], "q3": q3, "fence_low": lo, "fence_high": hi}
    rows = table.all(f"SELECT {group or 'NULL'} AS g, {', '.join(exprs)} FROM t GROUP BY 1") if exprs else []
    by_group: dict[str, np.ndarray] = {}
    for i, c in enumerate(out):
        s, d = stats[c], out[c]
        parts = [r[1 + 6 * i: 7 + 6 * i] for r in rows]
        n_out = sum(p[0] or 0 for p in parts)
        lows, highs = [p[1] for p in parts if p[1] is not None], [p[2] for p in parts if p[2] is not None]
        d["whisker_low"], d["whisker_high"] = (min(lows) if lows else None), (max(highs) if highs else None)
        by_group[c] = np.array([[p[3], p[4] or 0.0, p[5] or 0.0] for r, p in zip(rows, parts) if r[0] is not None],
                               dtype=float).reshape(-1, 3)
        n = s["count"]
        values = finite(sample[c])
        counts, edges = np.histogram(values, bins=30) if len(values) else (np.array([]), np.array([]))
        bc = bimodality_coefficient(s["skew"], s["kurtosis"], n) if n > 3 and s["skew"] is not None else None
        d.update(n=int(n), mean=s["mean"], std=s["std"], min=s["min"], max=s["max"], skew=s["skew"],
                 kurtosis=s["kurtosis"], n_outliers=int(n_out), outlier_pct=round(100 * n_out / n, 3) if n else 0.0,
                 n_modes=count_modes(values) if s["n_unique"] > 10 else None, bimodality_coefficient=bc,
                 histogram={"edges": edges.tolist(), "counts": counts.tolist()})
        findings.extend(_findings(c, d))
    return out, by_group, findings


def _findings(c: str, d: dict[str, Any]) -> list[Finding]:
    out = []
    skew = d["skew"]
    if skew is not None and abs(skew) > SKEW_LIMIT:
        side = "right" if skew > 0 else "left"
        fix = ("log-transform it (np.log1p; values are >= 0)" if d["min"] >= 0 and skew > 0
               else "apply a Yeo-Johnson power transform (PowerTransformer)")
        kurtosis = "" if d["kurtosis"] is None else f", excess kurtosis {d['kurtosis']:.2f}"  # needs 4 values
        out.append(finding("skewed", "info", f"'{c}' is {side}-skewed (skewness {skew:.2f}{kurtosis})", f"{fix} for linear and distance-based models; trees do not need it",
                           c, {"skew": skew, "kurtosis": d["kurtosis"]}))
    if d["n_outliers"] and d["n_outliers"] / d["n"] >= OUTLIER_SHARE:
        out.append(finding("outliers", "info", f"'{c}' has {d['n_outliers']} values ({d['outlier_pct']}%) outside "
                           f"the IQR fences [{d['fence_low']:.4g}, {d['fence_high']:.4g}]",
                           "check whether they are errors; otherwise clip (winsorise) at the fences or use a robust "
                           "scaler", c, {"n_outliers": d["n_outliers"], "fences": [d["fence_low"], d["fence_high"]]}))
    if (d["n_modes"] or 1) > 1:
        out.append(finding("multimodal", "info", f"'{c}' looks multimodal ({d['n_modes']} modes; bimodality "
                           f"coefficient {d['bimodality_coefficient'] or float('nan'):.2f})",
                           "look for a hidden grouping (a category that separates the modes); consider a binned "
                           "feature or separate models per group", c, {"n_modes": d["n_modes"]}))
    return out
