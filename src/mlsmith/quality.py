"""Stage 2: the data quality report.

Every statistic is an SQL aggregate run by DuckDB over the table (a DataFrame, or a CSV / Parquet
file read out of core, read as `mlsmith run` reads it), so a million rows take seconds and a file
larger than memory still works.
"""

from __future__ import annotations

import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterator

import duckdb
import numpy as np
import pandas as pd  # noqa: F401 (the examples use it)

from ._findings import Finding, FindingsReport, finding
from ._table import Table, lit, open_table, q
from .exceptions import DataError

__all__ = ["QualityReport", "assess_quality"]

#: Strings that stand for a missing value although they are not null.
PLACEHOLDERS = ("", "na", "n/a", "nan", "null", "none", "?", "-", "missing", "unknown")
PLAUSIBLE_DATES = (date(1900, 1, 1), 1)  # earliest date, latest = today + this many years
NEAR_CONSTANT_SHARE = 0.99
IMBALANCE_RATIO = 0.2
TASKS = ("binary_classification", "multiclass_classification", "regression")
_SPELLING_MAX_LEVELS = 10_000


@dataclass
class QualityReport(FindingsReport):
    """Shape, missing values, duplicates, dtypes, numeric summary, cardinality, the target, findings.

    ``numeric_summary`` has pandas ``describe()`` keys over the finite values; ``findings`` lists
    each problem with the action it suggests. Made by :func:`assess_quality`.

    Parameters
    ----------
    n_rows, n_columns : int
        The table's shape.
    memory_mb : float
        Its size in memory (estimated for a file profiled out of core: ``memory_estimated``).
    missing : dict
        Per column with missing values: ``{"count", "pct"}``.
    n_duplicates : int
        Rows that repeat an earlier row exactly.
    duplicate_pct : float
        The same, as a percentage of the rows.
    dtypes : dict
        How many columns have each dtype.
    numeric_summary : dict
        Per numeric column, ``describe()``'s statistics over the finite values.
    cardinality : dict
        Per column, its distinct values and whether they are too many for a category.
    target : dict, optional
        The target's name, distribution and imbalance.
    findings : list of Finding
        Each problem found, with the action it suggests.
    source : str, default="DataFrame"
        What was profiled: a file's path or ``DataFrame``.
    memory_estimated : bool, default=False
        Whether ``memory_mb`` is an estimate.
    notes : list of str
        How the figures were computed, when it matters (sampling, out of core).

    Examples
    --------
    >>> r = assess_quality(pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "y"]}))
    >>> r.n_rows, r.n_duplicates, r.duplicate_pct
    (3, 1, 33.33)
    """

    n_rows: int
    n_columns: int
    memory_mb: float
    missing: dict[str, dict[str, float]]
    n_duplicates: int
    duplicate_pct: float
    dtypes: dict[str, int]
    numeric_summary: dict[str, dict[str, float]]
    cardinality: dict[str, dict[str, Any]]
    target: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    source: str = "DataFrame"
    memory_estimated: bool = False
    notes: list[str] = field(default_factory=list)
    _section = "quality"

    @property
    def warnings(self) -> list[str]:
        """The messages of the warning- and error-level findings."""
        return [f.message for f in self.findings if f.severity != "info"]



@contextmanager
def as_table(data: Any) -> Iterator[Table]:
    """Open ``data`` for the duration of a block (a Table passed in is left open)."""
    if isinstance(data, Table):
        yield data
        return
    table = open_table(data)
    try:
        yield table
    finally:
        table.close()


def assess_quality(data: Any, target: str | None = None,
                   task: str | None = None) -> QualityReport:
    """Compute the data quality report of a table.

    Parameters
    ----------
    data : pandas.DataFrame, polars.DataFrame, pyarrow.Table, str or pathlib.Path
        A pandas or Polars DataFrame or a pyarrow Table, or the path of a CSV / Parquet / Excel file,
        a folder of Parquet files or a glob (``data/*.parquet``); files are profiled out of core.
    target : str, optional
        The target column, if any (distribution and imbalance).
    task : {"binary_classification", "multiclass_classification", "regression"}, optional
        binary_classification, multiclass_classification or regression; inferred from the target
        when None, by the rule a run uses (:func:`mlsmith.problem.infer_task`). A regression target
        has no classes, so no imbalance finding.

    Returns
    -------
    QualityReport
        The table's shape, missing values, duplicates, dtypes, summaries and findings.

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1.0, None, 2.0], "y": [0, 1, 0]})
    >>> r = assess_quality(df, target="y")
    >>> r.missing["a"], r.n_duplicates
    ({'count': 1, 'pct': 33.33}, 0)
    """
    with as_table(data) as table:
        if target is not None and target not in table.types:
            raise DataError(f"target '{target}' is not a column of the data; columns: "
                            f"{', '.join(list(table.types)[:12])}.")
        if task is not None and task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}; got '{task}'.")
        stats = column_stats(table)
        return _report(table, stats, target, task)


def _pct(count: float, total: int) -> float:
    return round(float(count) / total * 100, 2) if total else 0.0


def column_stats(table: Table) -> dict[str, dict[str, Any]]:
    """Per-column aggregates: counts, distinct values, moments, quantiles, text and date checks.

    Cached on the table, so stages 2 and 3 share one set of scans. Distinct values are first counted
    approximately (HyperLogLog); the exact count follows for every column where it decides something
    (up to 200,000 values, or a possible id). Float columns with more values keep the estimate and are
    marked ``n_unique_approx``. Filters are CASE expressions, which keep DuckDB on its fast path.
    """
    if "column_stats" in table.cache:
        return table.cache["column_stats"]
    stats: dict[str, dict[str, Any]] = {c: {"kind": k} for c, k in table.kinds.items()}
    placeholders = ", ".join(lit(p) for p in PLACEHOLDERS)
    lo, years = PLAUSIBLE_DATES
    distinct, moments, text = [], [], []
    # Exact quartiles hold every value in memory (DuckDB cannot spill them); beyond a quarter of the
    # memory limit the t-digest estimate (constant memory) is used and the stats say so.
    n_numeric = sum(k == "numeric" for k in table.kinds.values())
    approx_quartiles = table.n_rows * n_numeric * 16 > table.memory_limit_bytes / 4
    quantile = "approx_quantile" if approx_quartiles else "quantile_cont"
    for c, kind in table.kinds.items():
        col = q(c)
        distinct.append((c, "n_unique", f"approx_count_distinct({col})"))
        if kind == "numeric":
            x = f"CAST({col} AS DOUBLE)"
            fx = f"(CASE WHEN isfinite({x}) THEN {x} END)"
            distinct.append((c, "n_missing", f"sum(CASE WHEN {col} IS NULL OR isnan({x}) THEN 1 ELSE 0 END)"))
            moments += [(c, "n_inf", f"sum(CASE WHEN isinf({x}) THEN 1 ELSE 0 END)"), (c, "count", f"count({fx})")]
            moments += [(c, key, f"{fn}({fx})") for key, fn in (
                ("mean", "avg"), ("std", "stddev_samp"), ("min", "min"), ("max", "max"), ("skew", "skewness"),
                ("kurtosis", "kurtosis"))]
            moments.append((c, "quartiles", f"{quantile}({fx}, [0.25, 0.5, 0.75])"))
            continue
        distinct.append((c, "n_missing", f"sum(CASE WHEN {col} IS NULL THEN 1 ELSE 0 END)"))
        if kind in ("string", "datetime"):
            ts = f"TRY_CAST({col} AS TIMESTAMP)"
            bad = f"{ts} < CAST({lit(str(lo))} AS TIMESTAMP) OR {ts} > current_date + INTERVAL {years} YEAR"
            text += [(c, "date_min", f"min({ts})"), (c, "date_max", f"max({ts})"), (c, "n_date_text", f"count({ts})"),
                     (c, "n_bad_dates", f"sum(CASE WHEN {bad} THEN 1 ELSE 0 END)")]
        if kind == "string":
            text += [(c, "mean_length", f"avg(length({col}))"),
                     (c, "n_numeric_text", f"count(TRY_CAST(trim({col}) AS DOUBLE))"),
                     (c, "n_placeholder", f"sum(CASE WHEN lower(trim({col})) IN ({placeholders}) THEN 1 ELSE 0 END)"),
                     (c, "n_padded", f"sum(CASE WHEN {col} <> trim({col}) THEN 1 ELSE 0 END)")]
    exprs = distinct + moments + text
    try:
        row = table.one("SELECT " + ", ".join(e for _, _, e in exprs) + " FROM t") if exprs else ()
    except duckdb.OutOfRangeException:  # a cube of values near 1e300 overflows DuckDB's skewness
        exprs = [(c, key, _moment_or_null(table, e) if key in ("skew", "kurtosis") else e) for c, key, e in exprs]
        row = table.one("SELECT " + ", ".join(e for _, _, e in exprs) + " FROM t")
    for (c, key, _), value in zip(exprs, row):
        stats[c][key] = 0 if value is None and key.startswith("n_") else value
    exact = [c for c, s in stats.items() if s["n_unique"] <= 200_000 or not table.is_float(c)]
    if exact:
        counts = table.one("SELECT " + ", ".join(f"count(DISTINCT {q(c)})" for c in exact) + " FROM t")
        for c, value in zip(exact, counts):
            stats[c]["n_unique"] = int(value)
    for c, s in stats.items():
        s["n_non_null"] = table.n_rows - s["n_missing"]
        s["n_unique_approx"] = c not in exact
        if s["kind"] == "numeric":
            s["quartiles_approx"] = approx_quartiles
        _value_counts(table, c, s)
    table.cache["column_stats"] = stats
    return stats


def _moment_or_null(table: Table, expression: str) -> str:
    """The moment's expression when it computes on its own, else NULL (reported as not computable)."""
    try:
        table.one(f"SELECT {expression} FROM t")
    except duckdb.OutOfRangeException:
        return "CAST(NULL AS DOUBLE)"
    return expression


def _value_counts(table: Table, c: str, s: dict[str, Any]) -> None:
    """Top values of the columns where they matter: few levels, text, or possibly near-constant."""
    nu, nn = s["n_unique"], s["n_non_null"]
    near_constant_possible = nu <= (1 - NEAR_CONSTANT_SHARE) * nn + 1
    full = nu <= 50 or (s["kind"] == "string" and nu <= _SPELLING_MAX_LEVELS)
    if nu == 0 or not (full or near_constant_possible):
        return
    limit = "" if full else "LIMIT 10"
    rows = table.all(f"SELECT {q(c)} AS v, count(*) AS n FROM t WHERE {q(c)} IS NOT NULL "
                     f"GROUP BY 1 ORDER BY 2 DESC, 1 {limit}")
    s["top"] = [(v, int(n)) for v, n in rows[:10]]
    s["top_share"] = rows[0][1] / nn if nn else 0.0
    if full:
        s["levels"] = rows


def _report(table: Table, stats: dict[str, dict[str, Any]], target: str | None, task: str | None) -> QualityReport:
    n = table.n_rows
    findings: list[Finding] = []
    missing = {c: {"count": int(s["n_missing"]), "pct": _pct(s["n_missing"], n)}
               for c, s in stats.items() if s["n_missing"] > 0}
    # Distinct 64-bit row hashes: one column to deduplicate instead of all (a collision among a
    # million rows has a probability of about 3e-8).
    everything = ", ".join(q(c) for c in table.types)
    n_distinct_rows = table.one(f"SELECT count(DISTINCT hash({everything})) FROM t")[0] if n else 0
    n_dup = int(n - n_distinct_rows)
    if n_dup:
        findings.append(finding(
            "duplicate_rows", "warning", f"{n_dup} duplicate rows ({_pct(n_dup, n)}%)",
            "drop exact duplicates (or confirm they are genuine repeats); copies that land on both sides of "
            "a split inflate the test score", None, {"count": n_dup}))
    if table.frame is not None:
        frame = table.frame
        dtypes = {str(k): int(v) for k, v in frame.dtypes.astype(str).value_counts().items()}
        memory_mb, estimated = float(frame.memory_usage(deep=True).sum() / 2**20), False
    else:
        dtypes = {str(k): int(v) for k, v in Counter(table.types.values()).most_common()}
        memory_mb, estimated = _estimate_mb(stats, n), True
    summary, cardinality = {}, {}
    for c, s in stats.items():
        if s["kind"] == "numeric":
            quart = s["quartiles"] or [None] * 3
            summary[c] = {"count": float(s["count"]), "mean": s["mean"], "std": s["std"], "min": s["min"],
                          "25%": quart[0], "50%": quart[1], "75%": quart[2], "max": s["max"]}
        else:
            entry: dict[str, Any] = {"n_unique": int(s["n_unique"])}
            if s["n_unique_approx"]:
                entry["n_unique_approx"] = True
            if s["n_unique"] <= 10 and "top" in s:
                entry["values"] = {str(v): k for v, k in s["top"]}
            elif "top" in s and s["n_unique"] <= 0.5 * s["n_non_null"]:  # an id's "top values" would be rows
                entry["top"] = {str(v): k for v, k in s["top"]}
            cardinality[c] = entry
        if c != target:
            findings.extend(_column_findings(table, c, s, n))
    target_info = _target(stats[target], target, task, findings) if target else None
    return QualityReport(n, len(stats), round(memory_mb, 3), missing, n_dup, _pct(n_dup, n), dtypes, summary,
                         cardinality, target_info, findings, table.source, estimated, approximations(stats))


def approximations(stats: dict[str, dict[str, Any]]) -> list[str]:
    """What the statistics estimate rather than count, in words for the report."""
    notes = []
    approx_unique = [c for c, s in stats.items() if s["n_unique_approx"]]
    if approx_unique:
        notes.append(f"distinct counts of {len(approx_unique)} float column(s) with over 200,000 values are "
                     f"HyperLogLog estimates (about ±2%): {', '.join(approx_unique[:8])}")
    if any(s.get("quartiles_approx") for s in stats.values()):
        notes.append("quartiles (and the IQR fences) are t-digest estimates: exact quantiles of this table would "
                     "not fit in a quarter of the memory limit")
    return notes


def _estimate_mb(stats: dict[str, dict[str, Any]], n: int) -> float:
    """In-memory size of a file's data as pandas would hold it (8 bytes a value; text ~50 + length)."""
    total = 0.0
    for s in stats.values():
        total += n * (50 + (s.get("mean_length") or 0) if s["kind"] == "string" else 8)
    return total / 2**20


def _column_findings(table: Table, c: str, s: dict[str, Any], n: int) -> list[Finding]:
    out: list[Finding] = []
    nu, nn, kind = s["n_unique"], s["n_non_null"], s["kind"]
    if nn and nn / n < 0.5:
        out.append(finding("mostly_missing", "warning", f"'{c}' is {_pct(n - nn, n)}% missing",
                           "drop the column, or keep a missing-indicator if missingness carries signal", c,
                           {"missing_pct": _pct(n - nn, n)}))
    if nu <= 1:
        what = "entirely missing" if nu == 0 else f"constant ({s['top'][0][0]!r})"
        out.append(finding("constant", "warning", f"'{c}' is {what}", "drop it: it carries no information", c,
                           {"n_unique": nu}))
        return out
    if s.get("top_share", 0) >= NEAR_CONSTANT_SHARE:
        value, count = s["top"][0]
        out.append(finding("near_constant", "warning",
                           f"'{c}' is near-constant: {value!r} in {_pct(count, nn)}% of non-missing rows",
                           "drop it, or keep it only as a rare-event flag; it will not survive most CV folds", c,
                           {"top_value": value, "top_share": round(count / nn, 4)}))
    if nu == nn and nn > 20 and (kind == "string" or (kind == "numeric" and not table.is_float(c))):
        out.append(finding("id_like", "warning", f"'{c}' has a distinct value in every row (id-like)",
                           "list it in data.id_columns (or drop it): a model can only memorise it", c,
                           {"n_unique": nu}))
    if s.get("n_inf"):
        out.append(finding("infinite_values", "error", f"'{c}' has {s['n_inf']} infinite values",
                           "replace ±inf with NaN (then impute) or clip; most models reject them", c,
                           {"count": int(s["n_inf"])}))
    if kind == "string":
        out.extend(_text_findings(table, c, s, n))
    if s.get("n_bad_dates") and (kind == "datetime" or s.get("n_date_text", 0) >= 0.95 * nn):
        lo, years = PLAUSIBLE_DATES
        out.append(finding("implausible_dates", "warning",
                           f"'{c}' has {s['n_bad_dates']} dates before {lo} or more than {years} year(s) ahead "
                           f"(range {s['date_min']} to {s['date_max']})",
                           "treat them as missing (they are often sentinels such as 1900-01-01 or 9999-12-31)", c,
                           {"count": int(s["n_bad_dates"]), "min": str(s["date_min"]), "max": str(s["date_max"])}))
    return out


def _object_types(table: Table, c: str) -> dict[str, int]:
    """Python types of an object column's values, when the table is a DataFrame: all of them, counted
    by type (one pass in pandas), so that the quality report draws no random sample and needs no seed."""
    if table.frame is None or table.frame[c].dtype != object:
        return {}
    names: Counter[str] = Counter()
    for kind, count in table.frame[c].dropna().map(type).value_counts(sort=False).items():
        number = issubclass(kind, (int, float, np.number)) and not issubclass(kind, bool)
        names["number" if number else "text" if issubclass(kind, str) else kind.__name__] += int(count)
    return dict(names)


def _text_findings(table: Table, c: str, s: dict[str, Any], n: int) -> list[Finding]:
    out: list[Finding] = []
    nn, nu = s["n_non_null"], s["n_unique"]
    types = _object_types(table, c)
    placeholders = s["n_placeholder"]
    real = max(nn - placeholders, 1)
    numeric_share = s["n_numeric_text"] / real
    if len(types) > 1:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(types.items(), key=lambda kv: -kv[1]))
        out.append(finding("mixed_types", "warning", f"'{c}' mixes Python types ({mix})",
                           "convert the column to one type (pd.to_numeric(errors='coerce') or astype(str))", c,
                           {"types": types}))
    elif numeric_share >= 0.98:
        out.append(finding("numbers_as_strings", "warning",
                           f"'{c}' holds numbers stored as text ({numeric_share:.1%} parse as numbers)",
                           "convert with pd.to_numeric (or declare it categorical if the numbers are codes)", c,
                           {"numeric_share": round(numeric_share, 4)}))
    elif 0.02 <= numeric_share < 0.98:
        out.append(finding("mixed_types", "warning",
                           f"'{c}' mixes numbers ({numeric_share:.1%}) and text ({1 - numeric_share:.1%})",
                           "split it into a number and a flag, or clean the text entries", c,
                           {"numeric_share": round(numeric_share, 4)}))
    if s["n_date_text"] >= 0.95 * real and numeric_share < 0.98:
        out.append(finding("dates_as_strings", "info", f"'{c}' holds dates stored as text",
                           "parse it with pd.to_datetime and derive date features (the features stage does this)",
                           c, {"min": str(s["date_min"]), "max": str(s["date_max"])}))
    if placeholders:
        out.append(finding("disguised_missing", "warning",
                           f"'{c}' has {placeholders} placeholder values ('', 'NA', 'null', '?', ...) that are "
                           "not recognised as missing", "convert them to NaN (na_values= when reading)", c,
                           {"count": int(placeholders)}))
    variants = _spelling_variants(s.get("levels", []))
    if variants:
        shown = "; ".join(" / ".join(repr(v) for v in group) for group in variants[:3])
        out.append(finding("inconsistent_spelling", "warning",
                           f"'{c}' has {len(variants)} categories spelled in several ways (case or whitespace): {shown}",
                           "normalise with .str.strip().str.lower() before encoding", c,
                           {"groups": variants[:20]}))
    elif s["n_padded"]:
        out.append(finding("padded_whitespace", "info", f"'{c}' has {s['n_padded']} values with leading or "
                           "trailing spaces", "strip them with .str.strip()", c, {"count": int(s["n_padded"])}))
    if nu > 50 and nu < nn and numeric_share < 0.98 and s["n_date_text"] < 0.95 * real:
        out.append(finding("high_cardinality", "info", f"'{c}' has {nu} categories",
                           "group rare levels, or use target / frequency encoding instead of one-hot", c,
                           {"n_unique": nu}))
    return out


def _spelling_variants(levels: list[tuple[str, int]]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for value, _count in levels:
        groups.setdefault(re.sub(r"\s+", " ", str(value).strip().lower()), []).append(str(value))
    return [sorted(g) for g in groups.values() if len(g) > 1]


def _target_task(s: dict[str, Any]) -> str:
    """The task a target's column statistics imply, by the rule of :func:`mlsmith.problem.infer_task`:
    two values are binary; text or booleans are classes; integers with at most 20 values, each value
    in 5% of the rows on average, are classes; other numbers are a regression target."""
    if s["n_unique"] == 2:
        return "binary_classification"
    if s["kind"] != "numeric":
        return "multiclass_classification"
    levels = s.get("levels")
    if s["n_unique"] > 20 or not levels:
        return "regression"
    is_integer = all(float(v).is_integer() for v, _ in levels)
    return "multiclass_classification" if is_integer and s["n_unique"] <= max(2, 0.05 * s["n_non_null"]) \
        else "regression"


def _target(s: dict[str, Any], name: str, task: str | None, findings: list[Finding]) -> dict[str, Any]:
    task = task or _target_task(s)
    info: dict[str, Any] = {"name": name, "task": task, "n_missing": int(s["n_missing"])}
    if s["n_missing"]:
        findings.append(finding("target_missing", "warning", f"target '{name}' is missing in {s['n_missing']} rows",
                                "drop those rows (a run does this before the split)", name,
                                {"count": int(s["n_missing"])}))
    if task == "regression" or "top" not in s or s["n_unique"] > 50:
        return info
    nn = s["n_non_null"] or 1
    info["distribution"] = {str(v): k / nn for v, k in s.get("levels") or s["top"]}
    counts = [k for _v, k in (s.get("levels") or s["top"])]
    if len(counts) >= 2:
        ratio = min(counts) / max(counts)
        info["minority_majority_ratio"] = ratio
        if ratio < IMBALANCE_RATIO:
            findings.append(finding(
                "imbalance", "warning",
                f"target '{name}' is imbalanced: minority/majority = {ratio:.2f} (< {IMBALANCE_RATIO})",
                "stratify the split and CV, use class weights, and tune the decision threshold; judge by "
                "recall / precision / average precision rather than accuracy", name, {"ratio": round(ratio, 4)}))
    return info
