"""Data drift: each column's current counts against its reference statistics.

A feature is flagged as drifted only when the shift is both significant — the KS (numeric) or
chi-square (categorical; rare categories pooled to an expected count of 5) p-value, Holm-adjusted
for the number of features tested, below alpha — and large enough to matter. On a million rows a
trivial shift is significant; the size gate keeps it from raising an alarm, and the correction
keeps many small samples from doing so.

The size of a numeric shift is its PSI over the reference deciles (>= 0.1). A categorical column
has as many bins as categories, and PSI's sampling noise grows with them (a 51-level column on
1,000 rows shows PSI 0.04-0.07 with no drift at all), while halving a category that holds a
quarter of the rows reads only 0.09-0.14: no fixed PSI cut separates the two. A category's size is
instead its Jensen-Shannon distance net of the distance two samples of the reference show by
chance (:func:`~._stats.js_noise`), judged against :data:`~._stats.JS_BANDS` (>= 0.07).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from ._current import CategoricalCounts, NumericCounts, PresenceCounts
from ._stats import MIN_EXPECTED, chi_square, holm, jensen_shannon, js_band, js_noise, ks_from_counts, psi, psi_band

__all__ = ["compare_column", "data_findings", "feature_drift", "prediction_drift"]

#: A missing rate that moves by at least this much (absolute), significantly, is reported.
MISSING_CHANGE = 0.05
#: Shares of current values outside the training range, or in unseen categories, above this are reported.
NEW_VALUES_SHARE = 0.01
#: Categories shown in a figure; the rest are pooled.
SHOWN_CATEGORIES = 12


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _bin_labels(points: list[float]) -> list[str]:
    if not points:
        return ["all"]
    inner = ["(%s, %s]" % (_fmt(a), _fmt(b)) for a, b in zip(points, points[1:])]
    return [f"<= {_fmt(points[0])}", *inner, f"> {_fmt(points[-1])}"]


def compare_numeric(ref: dict[str, Any], cur: NumericCounts) -> dict[str, Any]:
    out: dict[str, Any] = {"test": "ks", "ref_range": [ref["min"], ref["max"]],
                           "cur_range": [float(cur.min), float(cur.max)] if cur.n else [None, None],
                           "exact_reference": ref["exact"]}
    if not ref["n"] or not cur.n:
        return {**out, "statistic": None, "p_value": None, "psi": None, "out_of_range": 0, "bins": None}
    cum = np.asarray(ref["cum"], dtype=np.int64)
    d, p = ks_from_counts(cum, ref["n"], cur.le, cur.lt, cur.n)
    edges = np.asarray(ref["edges"], dtype=int)
    ref_bins = np.diff(np.r_[0, cum[edges], ref["n"]])
    cur_bins = np.diff(np.r_[0, cur.le[edges], cur.n])
    points = [ref["points"][i] for i in edges]
    labels = _bin_labels(points)
    out_of_range = int(cur.lt[0] + (cur.n - cur.le[-1]))
    return {**out, "statistic": d, "p_value": p, "psi": psi(ref_bins, cur_bins), "out_of_range": out_of_range,
            "bins": {"labels": labels, "reference": _shares(ref_bins), "current": _shares(cur_bins)}}


def compare_categorical(ref: dict[str, Any], cur: CategoricalCounts) -> dict[str, Any]:
    categories = ref["categories"]
    ref_counts = np.r_[np.asarray(ref["counts"], dtype=float), ref["other"]]
    seen = cur.counts.reindex(categories, fill_value=0).to_numpy(dtype=float)
    cur_counts = np.r_[seen, cur.n - seen.sum()]
    new = cur.counts[~cur.counts.index.isin(categories)].sort_values(ascending=False)
    out: dict[str, Any] = {"test": "chi2", "unseen": [] if ref["other"] else [str(c) for c in new.index[:10]],
                           "unseen_rows": 0 if ref["other"] else int(new.sum())}
    if not ref["n"] or not cur.n:
        return {**out, "statistic": None, "p_value": None, "psi": None, "bins": None}
    # A reference cut to its MAX_CATEGORIES most frequent categories ranked them by its own counts, so
    # the rest ('other') is rarer there than in any fresh sample (baseball's 1,228 player ids: 11% of
    # the training rows, 22% of a no-drift batch): the test and the distance read the listed ones only.
    listed = slice(None, -1 if ref["other"] else None)
    r, c = ref_counts[listed], cur_counts[listed]
    stat, p, dof = chi_square(r, c, MIN_EXPECTED)
    distance = float(jensen_shannon(r, c)) if c.sum() else 0.0
    noise = js_noise(r, int(c.sum())) if c.sum() else 0.0
    net = float(np.sqrt(max(distance ** 2 - noise ** 2, 0.0)))
    order = np.argsort(-ref_counts[:-1], kind="stable")[:SHOWN_CATEGORIES]
    rest = np.setdiff1d(np.arange(len(ref_counts)), order)
    labels = [categories[i] for i in order] + (["other / unseen"] if len(rest) else [])
    pooled = lambda c: np.r_[c[order], c[rest].sum()] if len(rest) else c[order]  # noqa: E731
    return {**out, "statistic": stat, "p_value": p, "dof": dof, "psi": psi(ref_counts, cur_counts),
            "js": distance, "js_noise": noise, "js_net": net,
            "bins": {"labels": labels, "reference": _shares(pooled(ref_counts)),
                     "current": _shares(pooled(cur_counts))}}


def _missing(ref: dict[str, Any], cur) -> dict[str, Any]:
    n_ref, n_cur = ref["n"] + ref["n_missing"], cur.n + cur.n_missing
    r = ref["n_missing"] / n_ref if n_ref else 0.0
    c = cur.n_missing / n_cur if n_cur else 0.0
    pooled = (ref["n_missing"] + cur.n_missing) / max(n_ref + n_cur, 1)
    se = np.sqrt(pooled * (1 - pooled) * (1 / max(n_ref, 1) + 1 / max(n_cur, 1)))
    p = float(2 * stats.norm.sf(abs(c - r) / se)) if se > 0 else (1.0 if c == r else 0.0)
    return {"reference": r, "current": c, "change": c - r, "p_value": p}


def compare_column(ref: dict[str, Any], cur: NumericCounts | CategoricalCounts | PresenceCounts) -> dict[str, Any]:
    """One column's drift statistics (unadjusted), missing-rate change and new values."""
    # counts_for built ``cur`` from ``ref``'s kind: the isinstance checks only tell mypy so
    if ref["kind"] == "numeric" and isinstance(cur, NumericCounts):
        row = compare_numeric(ref, cur)
    elif ref["kind"] == "categorical" and isinstance(cur, CategoricalCounts):
        row = compare_categorical(ref, cur)
    else:
        row = {"test": None, "statistic": None, "p_value": None, "psi": None, "bins": None}
    for key in ("js", "js_noise", "js_net"):  # a categorical column's; None for the others
        row.setdefault(key, None)
    row["n_reference"], row["n_current"] = ref["n"], cur.n
    row["missing"] = _missing(ref, cur)
    row["n_invalid"] = getattr(cur, "n_invalid", 0)
    return row


def _flag(row: dict[str, Any], alpha: float) -> None:
    """``band``: the size of the shift (PSI's band, or for a category the net Jensen-Shannon distance's);
    ``drifted``: significant and at least moderate."""
    p_adj, value = row.get("p_adjusted"), row.get("psi")
    row["psi_band"] = None if value is None else psi_band(value)
    row["band"] = js_band(row["js_net"]) if row.get("js_net") is not None else row["psi_band"]
    row["drifted"] = bool(p_adj is not None and np.isfinite(p_adj) and p_adj < alpha
                          and row["band"] not in (None, "none"))


def feature_drift(reference: dict[str, dict[str, Any]], counts: dict[str, Any], alpha: float = 0.05) -> list[dict[str, Any]]:
    """Drift rows for every feature, with Holm-adjusted p-values and the drifted flag.

    Missing-rate changes are tested with a two-proportion z-test, Bonferroni-adjusted.
    """
    rows = []
    for name, ref in reference.items():
        rows.append({"name": name, "role": ref["role"], **compare_column(ref, counts[name])})
    adjusted = holm([np.nan if r["p_value"] is None else r["p_value"] for r in rows])
    for row, p_adj in zip(rows, adjusted):
        row["p_adjusted"] = None if np.isnan(p_adj) else float(p_adj)
        _flag(row, alpha)
        miss = row["missing"]
        miss["flagged"] = bool(abs(miss["change"]) >= MISSING_CHANGE and miss["p_value"] * len(rows) < alpha)
    return rows


def prediction_drift(reference: dict[str, Any], counts, alpha: float = 0.05) -> dict[str, Any]:
    """The same comparison for the model's output (one test, no correction)."""
    row = {"name": "prediction", "what": reference.get("what"), "source": reference.get("source"),
           **compare_column(reference, counts)}
    row["p_adjusted"] = row["p_value"]
    _flag(row, alpha)
    return row


def data_findings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Missing-rate changes, unseen categories, out-of-range values and type violations, as findings."""
    findings = []
    for r in rows:
        name, n = r["name"], max(r["n_current"], 1)
        miss = r["missing"]
        if miss["flagged"]:
            findings.append({"check": "missing_rate", "column": name, "severity": "warning",
                             "message": f"missing rate of '{name}' moved from {miss['reference']:.1%} to "
                                        f"{miss['current']:.1%}"})
        if r.get("unseen_rows", 0) / n > NEW_VALUES_SHARE:
            shown = ", ".join(repr(v) for v in r["unseen"][:5])
            findings.append({"check": "unseen_categories", "column": name, "severity": "warning",
                             "message": f"{r['unseen_rows'] / n:.1%} of '{name}' values are categories not "
                                        f"seen in training ({shown})"})
        if r.get("out_of_range", 0) / n > NEW_VALUES_SHARE:
            lo, hi = r["ref_range"]
            findings.append({"check": "out_of_range", "column": name, "severity": "warning",
                             "message": f"{r['out_of_range'] / n:.1%} of '{name}' values lie outside the "
                                        f"training range [{lo:.4g}, {hi:.4g}]"})
        if r["n_invalid"]:
            kind = ("date", "dates") if r.get("role") == "datetime" else ("numeric", "numbers")
            findings.append({"check": "schema", "column": name, "severity": "error",
                             "message": f"{r['n_invalid']} value(s) of {kind[0]} column '{name}' are not {kind[1]}; "
                                        "they were scored as missing"})
    return findings
