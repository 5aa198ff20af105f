"""Stage 3: exploratory data analysis -> EDAReport (statistics exact over all rows, figures from a sample)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._findings import Finding, FindingsReport, by_severity, finding, name_list
from .._table import SAMPLE_ROWS, Table, lit, q, sql_labels
from ..exceptions import DataError
from ..quality import approximations, as_table, column_stats
from ._associations import Target, collinearity, leakage, missingness, target_association
from ._distributions import distributions
from ._temporal import temporal

__all__ = ["EDAReport", "explore"]

TASKS = ("binary_classification", "multiclass_classification", "regression")
MAX_LEVELS = 1000
WEAK = 0.02


@dataclass
class EDAReport(FindingsReport):
    """Distributions, missingness patterns, associations, collinearity, class balance, leakage suspects
    and temporal patterns, each finding with the action it suggests.

    Statistics are computed over all rows; ``figures`` and the sample-based measures (Spearman, ROC AUC,
    modes) use ``sample_rows`` random rows. ``figures`` holds the numbers behind every plot. Made by
    :func:`explore`.

    Parameters
    ----------
    n_rows : int
        Rows explored.
    sample_rows : int
        Rows drawn for the figures and the sample-based measures.
    task : str
        The task the target gives (given or inferred).
    target : str
        The target column.
    positive_class : str, optional
        The class the binary statistics follow.
    class_balance : dict, optional
        Rows per class (classification).
    distributions : dict
        Per numeric column: moments, skewness, kurtosis, IQR fences, outliers, modes.
    missingness : dict
        The columns with missing values, their co-occurrence and their relation to the target.
    associations : list of dict
        Each feature's association with the target (the measures its kind allows), strongest first.
    correlation : dict
        Correlations between features and their variance inflation factors.
    temporal : dict, optional
        The target over time, its trend and seasonality, when there is a date column.
    figures : dict
        The numbers behind every plot.
    findings : list of Finding
        Each problem found, with the action it suggests.
    source : str, default="DataFrame"
        What was explored: a file's path or ``DataFrame``.
    notes : list of str
        How the figures were computed, when it matters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> r = explore(load_iris(as_frame=True).frame, target="target", seed=0)
    >>> r.task, r.n_rows, sorted(r.class_balance["counts"].values())
    ('multiclass_classification', 150, [50, 50, 50])
    """

    n_rows: int
    sample_rows: int
    task: str
    target: str
    positive_class: str | None
    class_balance: dict[str, Any] | None
    distributions: dict[str, dict[str, Any]]
    missingness: dict[str, Any]
    associations: list[dict[str, Any]]
    correlation: dict[str, Any]
    temporal: dict[str, Any] | None
    figures: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    source: str = "DataFrame"
    notes: list[str] = field(default_factory=list)
    _section = "eda"



def _infer_task(stats: dict[str, Any]) -> str:
    if stats["kind"] == "numeric" and stats["n_unique"] > 20:
        return "regression"
    return "binary_classification" if stats["n_unique"] == 2 else "multiclass_classification"


def explore(
    data: Any,
    target: str,
    *,
    task: str | None = None,
    positive_class: Any = None,
    time_column: str | None = None,
    exclude: list[str] | tuple[str, ...] = (),
    sample_rows: int = SAMPLE_ROWS,
    seed: int,
) -> EDAReport:
    """Explore a table against its target: the EDA checklist, with an action for each finding.

    Parameters
    ----------
    data : pandas.DataFrame, polars.DataFrame, pyarrow.Table, str or pathlib.Path
        A pandas or Polars DataFrame or a pyarrow Table, or the path of a CSV / Parquet file, a folder
        of Parquet files or a glob (``data/*.parquet``); files are profiled out of core.
    target : str
        The target column.
    task : {"binary_classification", "multiclass_classification", "regression"}, optional
        binary_classification, multiclass_classification or regression (inferred when None).
    positive_class : str, int, float or bool, optional
        The class whose rate the binary statistics follow (default: 1/true, else the minority).
    time_column : str, optional
        The column for temporal patterns (default: the first date column, if any).
    exclude : list of str, default=()
        Columns to leave out (ids).
    sample_rows : int, default=50000
        Rows drawn for figures and sample-based measures.
    seed : int
        Seeds the draw of the sample.

    Returns
    -------
    EDAReport
        The statistics, the numbers behind every figure, and the findings with their actions.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> r = explore(load_diabetes(as_frame=True).frame, target="target", seed=0)
    >>> r.task, r.sample_rows, r.associations[0]["measure"]
    ('regression', 442, 'pearson/spearman')
    """
    with as_table(data) as table:
        if target not in table.types:
            raise DataError(f"target '{target}' is not a column of the data; columns: "
                            f"{', '.join(list(table.types)[:12])}.")
        if task is not None and task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}; got '{task}'.")
        if time_column is not None and time_column not in table.types:
            raise DataError(f"time column '{time_column}' is not a column of the data.")
        stats = column_stats(table)
        if stats[target]["n_non_null"] < 2:
            raise DataError(f"target '{target}' has {stats[target]['n_non_null']} non-missing values in "
                            f"{table.n_rows} rows; exploring it needs at least 2 labelled rows.")
        report = _explore(table, stats, target, task or _infer_task(stats[target]), positive_class, time_column,
                          set(exclude), sample_rows, seed)
        report.notes = approximations(stats)
        return report


def _explore(table: Table, stats, target_name, task, positive, time_column, exclude, sample_rows, seed) -> EDAReport:
    findings: list[Finding] = []
    class_counts: dict[str, int] = {}  # a classification target's counts by label
    if task != "regression":
        rows = table.all(f"SELECT CAST({q(target_name)} AS VARCHAR), count(*) FROM t "
                         f"WHERE {q(target_name)} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1")
        class_counts = {str(k): int(v) for k, v in rows}
        if task == "binary_classification" and len(class_counts) != 2:
            n = len(class_counts)
            raise DataError(f"task is binary_classification but target '{target_name}' has {n} "
                            f"class{'es' if n != 1 else ''}; pass task='multiclass_classification' or check the "
                            "target column.")
        if positive is not None:
            positive = str(positive).lower() if isinstance(positive, bool) else str(positive)
        elif task == "binary_classification":
            known = [p for p in ("1", "true", "1.0", "yes") if p in class_counts]
            positive = known[0] if known else min(class_counts, key=class_counts.__getitem__)
    target = Target(target_name, task, positive)
    sample = table.sample(sample_rows, seed=seed)
    sample = sample[sample[target_name].notna()].reset_index(drop=True)

    def usable(c: str) -> bool:
        s = stats[c]
        id_like = s["n_unique"] == s["n_non_null"] > 20 and not (s["kind"] == "numeric" and table.is_float(c))
        return c != target_name and c not in exclude and s["n_unique"] > 1 and not id_like

    dates = [c for c, s in stats.items() if c != target_name and (s["kind"] == "datetime" or (
        s["kind"] == "string" and s["n_non_null"] and s.get("n_date_text", 0) >= 0.95 * s["n_non_null"]))]
    numeric = [c for c in table.columns("numeric") if usable(c)]
    categorical = [c for c, k in table.kinds.items() if k in ("string", "boolean") and usable(c)
                   and c not in dates and stats[c]["n_unique"] <= MAX_LEVELS]

    group = target.label if task != "regression" else None
    dist, by_class, more = distributions(table, stats, numeric, sample, group)
    findings += more
    missing_cols = [c for c in [*numeric, *categorical, *dates] if stats[c]["n_missing"] > 0]
    miss, more = missingness(table, missing_cols, target)
    findings += more
    y_expr = target.y if task != "multiclass_classification" else None
    corr, more = collinearity(table, numeric[:40], y_expr)
    findings += more
    pearson = corr["target_r"] + [None] * (len(numeric) - len(corr["target_r"]))
    assoc = target_association(table, target, numeric, categorical, sample, pearson, by_class)
    findings += leakage(assoc, table.n_rows)
    weak = {r["feature"]: r["strength"] for r in assoc if (r["strength"] or 0.0) < WEAK}
    if weak:
        findings.append(finding("no_association", "info", f"{len(weak)} feature(s) show almost no association with "
                                f"the target (strength < {WEAK}): {name_list(weak)}", "candidates to drop; check "
                                "interactions (a tree model's importance) before you do", None, {"strength": weak}))
    balance = None
    if class_counts:
        ratio = min(class_counts.values()) / max(class_counts.values()) if len(class_counts) > 1 else 1.0
        balance = {"counts": class_counts, "minority_majority_ratio": ratio}
        if ratio < 0.2:
            findings.append(finding("class_imbalance", "warning", f"classes are imbalanced (minority/majority "
                                    f"{ratio:.2f})", "stratify the split and CV folds, use class weights "
                                    "(class_weight='balanced'), tune the decision threshold on out-of-fold "
                                    "predictions, and judge by recall/precision/average precision", target_name,
                                    balance))
        else:
            findings.append(finding("class_balance", "info", f"classes are reasonably balanced (minority/majority "
                                    f"{ratio:.2f})", "stratify the split and CV folds anyway", target_name, balance))
    temporal_data = None
    time_column = time_column or (dates[0] if dates else None)
    if time_column:
        y_name = {"regression": f"mean {target_name}"}.get(task, f"rate of {target_name} = {positive}")
        y_expr = target.y
        if task == "multiclass_classification":
            rarest = min(class_counts, key=class_counts.__getitem__)
            y_expr, y_name = f"CAST({target.label} = {lit(rarest)} AS DOUBLE)", f"rate of {target_name} = {rarest}"
        span = (stats[time_column].get("date_min"), stats[time_column].get("date_max"))
        temporal_data, more = temporal(table, time_column, y_expr, y_name, span)
        findings += more
    figures = _figure_data(table, sample, target, stats, dist, assoc, class_counts)
    return EDAReport(table.n_rows, len(sample), task, target_name, positive, balance, dist, miss, assoc, corr,
                     temporal_data, figures, by_severity(findings), table.source)


def _figure_data(table: Table, sample: pd.DataFrame, target: Target, stats, dist, assoc, class_counts) -> dict[str, Any]:
    """The numbers behind every plot: target distribution and one panel per feature (from the sample,
    except category counts, which are exact)."""
    labels = sql_labels(sample[target.name])
    y = None
    if target.task == "regression":
        y = pd.to_numeric(sample[target.name], errors="coerce").to_numpy(dtype=float)
        counts, edges = np.histogram(y[np.isfinite(y)], bins=40)
        target_fig = {"kind": "histogram", "edges": edges.tolist(), "counts": counts.tolist()}
    else:
        target_fig = {"kind": "classes", "counts": class_counts}
        if target.positive is not None:
            y = (labels == target.positive).to_numpy(dtype=float)
    classes = list(class_counts)[:6] if class_counts else []
    features: dict[str, Any] = {}
    for r in assoc:
        c = r["feature"]
        if r["kind"] == "numeric":
            x = pd.to_numeric(sample[c], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            if not ok.any():
                continue
            lo, hi = np.quantile(x[ok], [0.005, 0.995])
            edges = np.linspace(lo, hi, 31) if hi > lo else np.array([lo - 0.5, lo + 0.5])
            entry: dict[str, Any] = {"kind": "numeric", "edges": edges.tolist(), "clipped_to_percentiles": [0.5, 99.5]}
            if target.task == "regression":
                entry["counts"] = {"all": np.histogram(x[ok], bins=edges)[0].tolist()}
            else:
                entry["counts"] = {k: np.histogram(x[ok & (labels == k).to_numpy()], bins=edges)[0].tolist()
                                   for k in classes}
            if y is not None:
                idx = np.clip(np.digitize(x, edges[1:-1]), 0, len(edges) - 2)
                sums = np.bincount(idx[ok], weights=y[ok], minlength=len(edges) - 1)
                ns = np.bincount(idx[ok], minlength=len(edges) - 1)
                entry["target_mean"] = [float(s / n) if n >= 5 else None for s, n in zip(sums, ns)]
            features[c] = entry
        else:
            features[c] = {"kind": "categorical", "levels": [lv for lv, _, _ in r["levels"]],
                           "counts": [n for _, n, _ in r["levels"]], "target_mean": [m for _, _, m in r["levels"]],
                           "n_levels": int(stats[c]["n_unique"])}
    top = assoc[0]["feature"] if assoc else None
    scatter = None
    if top and features.get(top, {}).get("kind") == "numeric" and target.task == "regression" and y is not None:
        x = pd.to_numeric(sample[top], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x) & np.isfinite(y)
        h, xe, ye = np.histogram2d(x[ok], y[ok], bins=40, range=[np.quantile(x[ok], [0.005, 0.995]),
                                                                  np.quantile(y[ok], [0.005, 0.995])])
        scatter = {"x": top, "counts": h.astype(int).tolist(), "x_edges": xe.tolist(), "y_edges": ye.tolist()}
    y_label = ("mean " + target.name if target.task == "regression"
               else f"rate of {target.name} = {target.positive}" if target.positive is not None else None)
    return {"target": target_fig, "features": features, "top_feature": top, "top_scatter": scatter,
            "target_mean_label": y_label, "classes_shown": classes}
