"""The target over a time column: volume and level per period, trend, and calendar seasonality."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from .._findings import Finding, finding
from .._table import Table, lit, q

__all__ = ["temporal"]


def _period(span_days: float) -> str:
    if span_days > 3 * 365:
        return "month"
    if span_days > 120:
        return "week"
    return "day"


def temporal(table: Table, column: str, y_expr: str, y_name: str, span: tuple | None = None) -> tuple[
        dict[str, Any] | None, list[Finding]]:
    """Aggregate ``y_expr`` by period of ``column``; test a monotone trend (Kendall's tau of the period
    means) and seasonality (one-way ANOVA of the detrended period means by month of year, or by day of
    week for daily data)."""
    ts = f"TRY_CAST({q(column)} AS TIMESTAMP)"
    lo, hi = span if span and None not in span else table.one(f"SELECT min({ts}), max({ts}) FROM t")
    if lo is None or hi is None or hi <= lo:
        return None, []
    period = _period((hi - lo).total_seconds() / 86400)
    rows = table.all(f"SELECT date_trunc({lit(period)}, {ts}) AS p, count(*), avg({y_expr}) FROM t "
                     f"WHERE {ts} IS NOT NULL GROUP BY 1 ORDER BY 1")
    periods = [r[0] for r in rows]
    counts = np.array([r[1] for r in rows], dtype=float)
    means = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
    data: dict[str, Any] = {"column": column, "period": period, "y": y_name,
                            "periods": [p.isoformat()[:10] for p in periods], "counts": counts.astype(int).tolist(),
                            "means": [None if np.isnan(m) else float(m) for m in means]}
    findings: list[Finding] = []
    ok = np.isfinite(means) & (counts >= 5)
    if ok.sum() < 6:
        return data, findings
    idx = np.arange(len(means))[ok]
    tau, p = sps.kendalltau(idx, means[ok])
    data["trend"] = {"kendall_tau": float(tau), "p_value": float(p)}
    if p < 0.01 and abs(tau) >= 0.3:
        findings.append(finding(
            "temporal_trend", "warning", f"{y_name} {'rises' if tau > 0 else 'falls'} over '{column}' "
            f"(Kendall's tau {tau:.2f} across {ok.sum()} {period}s, p = {p:.2g})",
            f"split by time (set data.time_column: {column}) and validate on later periods; a random split "
            "would overstate the score", column, data["trend"]))
    slope, intercept = np.polyfit(idx, means[ok], 1)
    resid = means[ok] - (slope * idx + intercept)
    if period == "month":
        season = np.array([p.month for p in periods])[ok]
        label = "month of year"
    elif period == "day":
        season = np.array([p.weekday() for p in periods])[ok]
        label = "day of week"
    else:
        season = None
    if season is not None:
        groups = [resid[season == s] for s in np.unique(season) if (season == s).sum() >= 2]
        if len(groups) >= 2 and sum(len(g) for g in groups) > len(groups):
            f, p_season = sps.f_oneway(*groups)
            data["seasonality"] = {"by": label, "f": float(f), "p_value": float(p_season)}
            if p_season < 0.01:
                findings.append(finding(
                    "seasonality", "warning", f"{y_name} varies with the {label} (ANOVA on detrended {period}ly "
                    f"means, p = {p_season:.2g})", f"add calendar features ({label}) and validate with a "
                    "time-based split that covers whole cycles", column, data["seasonality"]))
    if not findings:
        findings.append(finding("time_column", "info", f"no clear trend or seasonality of {y_name} over '{column}'",
                                "if the model will predict future rows, still prefer a time-based split", column, {}))
    return data, findings
