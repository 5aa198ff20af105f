"""Feature-target association, feature-feature correlation and VIF, missingness patterns, leakage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from .._columns import finite_float
from .._findings import Finding, finding, name_list
from .._table import Table, finite, lit, q, sql_labels

__all__ = ["Target", "collinearity", "correlation_ratio", "cramers_v", "missingness", "target_association", "vif"]

COLLINEAR_R = 0.9
VIF_LIMIT = 10.0
LEAK_STRENGTH = 0.98
TOP_LEVELS = 15


@dataclass
class Target:
    """How SQL reads the target: ``label`` (text, for grouping), ``y`` (a number: the value, or 1 for the
    positive class) and the task."""

    name: str
    task: str
    positive: str | None = None

    @property
    def label(self) -> str:
        return f"CAST({q(self.name)} AS VARCHAR)"

    @property
    def y(self) -> str:
        if self.task == "regression":
            return f"CAST({q(self.name)} AS DOUBLE)"
        return f"CAST({self.label} = {lit(self.positive)} AS DOUBLE)" if self.positive is not None else "NULL"


def missing_expr(table: Table, c: str) -> str:
    """SQL that is true where ``c`` is missing (NULL, or NaN in a float column)."""
    if table.kinds[c] == "numeric":
        return f"({q(c)} IS NULL OR isnan(CAST({q(c)} AS DOUBLE)))"
    return f"({q(c)} IS NULL)"


def num_expr(c: str) -> str:
    """A numeric column as a double, with ±inf and NaN as NULL."""
    return f"(CASE WHEN isfinite(CAST({q(c)} AS DOUBLE)) THEN CAST({q(c)} AS DOUBLE) END)"


def cramers_v(contingency: np.ndarray) -> float:
    """Cramér's V of a contingency table (no bias correction), in [0, 1].

    Examples
    --------
    >>> cramers_v(np.array([[10, 0], [0, 10]]))
    1.0
    """
    contingency = contingency[contingency.sum(axis=1) > 0][:, contingency.sum(axis=0) > 0]
    if min(contingency.shape) < 2:
        return 0.0
    chi2 = sps.chi2_contingency(contingency, correction=False)[0]
    return float(np.sqrt(chi2 / contingency.sum() / (min(contingency.shape) - 1)))


def mutual_information(contingency: np.ndarray) -> float:
    """Mutual information (nats) between the row and column variables of a contingency table."""
    p = contingency / contingency.sum()
    outer = p.sum(axis=1, keepdims=True) @ p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log(p[nz] / outer[nz])).sum())


def correlation_ratio(counts: np.ndarray, means: np.ndarray, total_var: float) -> float:
    """η: the square root of the share of a numeric variable's variance explained by a grouping.

    ``counts`` and ``means`` are per group; ``total_var`` is the population variance over all groups.
    """
    n = counts.sum()
    if n == 0 or not total_var:
        return 0.0
    grand = (counts * means).sum() / n
    return float(np.sqrt(min(((counts * (means - grand) ** 2).sum() / (n * total_var)), 1.0)))


def eta_from_groups(groups: np.ndarray) -> float:
    """η from per-group (count, mean, population variance) rows: total variance = within + between."""
    if not len(groups):
        return 0.0
    counts, means, within = groups[:, 0], groups[:, 1], groups[:, 2]
    n = counts.sum()
    if not n:
        return 0.0
    grand = (counts * means).sum() / n
    total = ((counts * within).sum() + (counts * (means - grand) ** 2).sum()) / n
    return correlation_ratio(counts, means, total)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of a score for 0/1 labels, from the Mann-Whitney rank sum (ties count one half)."""
    ranks = sps.rankdata(score)
    n1 = y.sum()
    n0 = len(y) - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def target_association(table: Table, target: Target, numeric: list[str], categorical: list[str], sample,
                       pearson: list[float | None], by_class: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """One row per feature: the measures that fit its type and the target's, and ``strength`` in [0, 1].

    ``pearson`` holds each numeric feature's correlation with the target's ``y`` (from
    :func:`collinearity`); ``by_class`` its per-class moments (from ``distributions``). Categorical rows
    keep their per-level counts and target means (``levels``) for the figures.
    """
    rows: list[dict[str, Any]] = []
    y_sample = sample[target.name]
    labels = sql_labels(y_sample)
    if target.task == "multiclass_classification":
        pearson = [None] * len(numeric)
    for c, r in zip(numeric, pearson):
        row: dict[str, Any] = {"feature": c, "kind": "numeric", "pearson": r}
        x = np.asarray(sample[c], dtype=float) if sample[c].dtype.kind in "fiub" else finite(sample[c])
        yv: np.ndarray | None
        if target.task == "regression":
            yv = np.asarray(y_sample, dtype=float)
        else:
            yv = (labels == target.positive).to_numpy(dtype=float) if target.positive else None
        if yv is not None:
            ok = np.isfinite(x) & np.isfinite(yv)
            varies = ok.sum() > 2 and np.ptp(x[ok]) > 0 and np.ptp(yv[ok]) > 0
            rho = sps.spearmanr(x[ok], yv[ok])[0] if varies else np.nan
            row["spearman"] = None if np.isnan(rho) else float(rho)
        if target.task == "regression":
            row["measure"] = "pearson/spearman"
            row["strength"] = max(abs(r or 0.0), abs(row.get("spearman") or 0.0))
        else:
            row["measure"] = "correlation ratio"
            row["eta"] = eta_from_groups(by_class.get(c, np.zeros((0, 3))))
            row["strength"] = row["eta"]
            if target.task == "binary_classification" and yv is not None:
                ok = np.isfinite(x) & np.isfinite(yv)
                if 0 < yv[ok].sum() < ok.sum():
                    row["auc"] = roc_auc(yv[ok], x[ok])
        rows.append(row)
    for c in categorical:
        row = {"feature": c, "kind": "categorical"}
        if target.task == "regression":
            y = target.y
            per_level = table.all(f"SELECT CAST({q(c)} AS VARCHAR), count({y}), avg({y}), var_pop({y}) FROM t "
                                  f"WHERE {q(c)} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1")
            groups = np.array([[n, m or 0.0, v or 0.0] for _, n, m, v in per_level], dtype=float).reshape(-1, 3)
            row.update(measure="correlation ratio", eta=eta_from_groups(groups), n_levels=len(per_level),
                       levels=[[lv, int(n), m] for lv, n, m, _ in per_level[:TOP_LEVELS]])
            row["strength"] = row["eta"]
        else:
            pairs = table.all(f"SELECT CAST({q(c)} AS VARCHAR), {target.label}, count(*) FROM t "
                              f"WHERE {q(c)} IS NOT NULL AND {q(target.name)} IS NOT NULL GROUP BY 1, 2")
            levels = sorted({a for a, _, _ in pairs})
            classes = sorted({b for _, b, _ in pairs})
            ct = np.zeros((len(levels), len(classes)))
            li, ci = {v: i for i, v in enumerate(levels)}, {v: i for i, v in enumerate(classes)}
            for a, b, n in pairs:
                ct[li[a], ci[b]] = n
            order = np.argsort(-ct.sum(axis=1), kind="stable")[:TOP_LEVELS]
            pos = ci.get(target.positive) if target.positive is not None else None
            row["levels"] = [[levels[i], int(ct[i].sum()), None if pos is None else float(ct[i, pos] / ct[i].sum())]
                             for i in order]
            row.update(measure="cramers_v", cramers_v=cramers_v(ct) if ct.size else 0.0,
                       mutual_info=mutual_information(ct) if ct.size else 0.0,
                       purity=float(ct.max(axis=1).sum() / ct.sum()) if ct.size else 0.0,
                       majority=float(ct.sum(axis=0).max() / ct.sum()) if ct.size else 0.0, n_levels=len(levels))
            row["strength"] = row["cramers_v"]
        rows.append(row)
    return sorted(rows, key=lambda r: -(r["strength"] or 0.0))


def leakage(rows: list[dict[str, Any]], n_rows: int) -> list[Finding]:
    """Single features that predict the target almost perfectly."""
    out = []
    for r in rows:
        c, why = r["feature"], None
        if "auc" in r and max(r["auc"], 1 - r["auc"]) >= 0.99:
            why = f"alone it separates the classes with ROC AUC {max(r['auc'], 1 - r['auc']):.3f}"
        elif r.get("purity", 0) >= 0.99 and r["majority"] < 0.95 and r["n_levels"] < 0.5 * n_rows:
            why = f"its categories alone predict {r['purity']:.1%} of the labels (majority class: {r['majority']:.1%})"
        elif r["strength"] is not None and r["strength"] >= LEAK_STRENGTH:
            why = f"its association with the target is {r['strength']:.3f} ({r['measure']})"
        if why:
            out.append(finding("leakage_suspect", "error", f"'{c}' may leak the target: {why}",
                               "remove it unless you are sure it is known at prediction time (it may be recorded "
                               "after, or derived from, the outcome)", c, {"strength": r["strength"]}))
    return out


def vif(corr: np.ndarray) -> np.ndarray:
    """Variance inflation factors from a correlation matrix: 1 / (1 - R²) of each column on the others.

    The matrix should come from one set of rows (complete cases), so that it is positive
    semidefinite; a matrix that is not is first projected onto a nearby one with a unit diagonal
    (eigenvalues raised to a floor of 1e-6 of the largest, so that the repair itself invents no exact
    dependency). So a factor is never below 1; a column that the others rebuild exactly (R² within
    1e-10 of 1) gets ``inf``.

    Examples
    --------
    >>> vif(np.array([[1.0, 0.5], [0.5, 1.0]])).round(3).tolist()
    [1.333, 1.333]
    >>> bool(vif(np.array([[1.0, 0.9, 0.9], [0.9, 1.0, 0.1], [0.9, 0.1, 1.0]])).min() >= 1)  # not PSD as given
    True
    """
    corr = _nearest_correlation(np.nan_to_num(np.asarray(corr, dtype=float)))
    k = len(corr)
    out = np.ones(k)
    for j in range(k):
        others = np.arange(k) != j
        r = corr[others, j]
        r2 = float(r @ np.linalg.pinv(corr[np.ix_(others, others)], rcond=1e-10, hermitian=True) @ r)
        out[j] = np.inf if r2 > 1 - 1e-10 else 1.0 / (1.0 - max(r2, 0.0))
    return out


def _nearest_correlation(corr: np.ndarray) -> np.ndarray:
    """The matrix itself when positive semidefinite; else eigenvalues raised to a floor, diagonal rescaled to 1."""
    corr = (corr + corr.T) / 2
    values, vectors = np.linalg.eigh(corr)
    if values.min() >= -1e-12 * max(values.max(), 1.0):
        return corr
    fixed = (vectors * np.clip(values, 1e-6 * values.max(), None)) @ vectors.T
    d = np.sqrt(np.clip(np.diag(fixed), 1e-300, None))
    return fixed / np.outer(d, d)


def exact_collinear_sets(corr: np.ndarray, columns: list[str]) -> dict[str, list[str]]:
    """For each column in an exact linear dependency, the other columns of that dependency.

    Read from the null space of the correlation matrix (eigenvalues below 1e-10 of the largest).
    """
    values, vectors = np.linalg.eigh(_nearest_correlation(np.nan_to_num(corr)))
    null = vectors[:, values < 1e-10 * max(values.max(), 1.0)]
    projector = null @ null.T
    return {c: [o for i, o in enumerate(columns) if i != j and abs(projector[j, i]) > 1e-6]
            for j, c in enumerate(columns) if projector[j, j] > 1e-6}


def pairwise_corr(table: Table, exprs: list[str], chunk_rows: int = 250_000,
                  complete: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Pearson correlations of SQL expressions over all rows, each pair on the rows where both are finite.

    The rows stream from DuckDB in chunks; each chunk adds its sums (of x, x², xy and the pair counts)
    as matrix products, so memory stays at one chunk and the result is exact. The same scan gives
    the correlations of the first ``complete`` expressions on the rows where all of them are finite
    (a positive semidefinite matrix, which VIF needs) and the number of those rows.
    """
    k = len(exprs)
    n = np.zeros((k, k))
    sx, sxx, sxy = np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k))
    cc_n, cc_s, cc_ss = 0, np.zeros(complete), np.zeros((complete, complete))
    reader = table.con.sql("SELECT " + ", ".join(exprs) + " FROM t").to_arrow_reader(chunk_rows)
    for batch in reader:
        # the float rule of the models (magnitudes past float32's are missing), and no overflow in x'x
        x = finite_float(np.column_stack([np.asarray(col.to_numpy(zero_copy_only=False), dtype=float)
                                          for col in batch.columns]))
        m = np.isfinite(x).astype(float)
        x0 = np.where(m > 0, x, 0.0)
        n += m.T @ m
        sx += x0.T @ m          # sx[i, j]: sum of x_i over rows where x_j is present too
        sxx += (x0 * x0).T @ m
        sxy += x0.T @ x0
        if complete:
            rows = x[m[:, :complete].all(axis=1), :complete]
            cc_n, cc_s, cc_ss = cc_n + len(rows), cc_s + rows.sum(axis=0), cc_ss + rows.T @ rows
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        var_i, var_j = sxx - sx * sx / n, (sxx - sx * sx / n).T
        r = cov / np.sqrt(var_i * var_j)
        cc_cov = cc_ss - np.outer(cc_s, cc_s) / cc_n if cc_n else np.full((complete, complete), np.nan)
        cc = cc_cov / np.sqrt(np.outer(np.diag(cc_cov), np.diag(cc_cov)))
    r[(n < 2) | ~np.isfinite(r)] = np.nan
    np.fill_diagonal(r, 1.0)
    cc[~np.isfinite(cc)] = 0.0 if cc_n >= 2 else np.nan
    np.fill_diagonal(cc, 1.0)
    return np.clip(r, -1.0, 1.0), np.clip(cc, -1.0, 1.0), cc_n


def collinearity(table: Table, columns: list[str], y: str | None = None) -> tuple[dict[str, Any], list[Finding]]:
    """Pearson correlation matrix (pairwise complete, exact), pairs with |r| > 0.9, and VIF.

    VIF comes from the correlations on the complete cases (the rows where every column is present),
    when there are enough of them (more than twice the columns); otherwise from the pairwise matrix
    made positive semidefinite. Columns in an exact linear dependency are named as such.
    With ``y`` (an SQL expression), the correlations of each column with it are returned as
    ``target_r`` from the same scan.
    """
    k = len(columns)
    exprs = [num_expr(c) for c in columns] + ([y] if y is not None else [])
    full, complete, n_complete = pairwise_corr(table, exprs, complete=k) if exprs else (np.eye(0), np.eye(0), 0)
    matrix = full[:k, :k]
    target_r = [None if np.isnan(v) else float(v) for v in full[:k, k]] if y is not None else []
    findings = []
    for i in range(k):
        for j in range(i + 1, k):
            if abs(matrix[i, j]) > COLLINEAR_R:
                findings.append(finding(
                    "collinear_pair", "warning", f"'{columns[i]}' and '{columns[j]}' are collinear (r = {matrix[i, j]:.3f})",
                    "drop one of them or combine them (ratio, difference, mean); linear models need this, trees "
                    "mostly do not", columns[i], {"other": columns[j], "r": float(matrix[i, j])}))
    basis = "complete cases" if n_complete > 2 * k else "pairwise, made positive semidefinite"
    vif_matrix = complete if n_complete > 2 * k else matrix
    factors = vif(vif_matrix) if k >= 2 else np.ones(k)
    exact = exact_collinear_sets(vif_matrix, columns) if k >= 2 and np.isinf(factors).any() else {}
    for c, v in zip(columns, factors):
        if c in exact:
            partners = exact[c]
            findings.append(finding(
                "exact_collinearity", "warning", f"'{c}' is exactly collinear with {name_list(partners)}: a linear "
                "combination of them rebuilds it (variance inflation factor infinite)",
                "drop one column of the set (e.g. one dummy of a full set, or a total next to its parts); a linear "
                "model cannot separate their effects", c, {"vif": float("inf"), "with": partners, "basis": basis}))
        elif v > VIF_LIMIT:
            findings.append(finding("high_vif", "warning", f"'{c}' has a variance inflation factor of "
                                    f"{'inf' if np.isinf(v) else f'{v:.1f}'} (> {VIF_LIMIT:g})",
                                    "other features explain it almost fully: drop or combine it for linear models "
                                    "(or regularise)", c, {"vif": float(v), "basis": basis}))
    return {"columns": columns, "matrix": matrix.tolist(), "vif": dict(zip(columns, factors.tolist())),
            "vif_basis": basis, "vif_rows": int(n_complete), "target_r": target_r}, findings


def missingness(table: Table, columns: list[str], target: Target | None) -> tuple[dict[str, Any], list[Finding]]:
    """Which columns go missing together, and whether missingness is associated with the target.

    One scan groups the rows by their missingness pattern (a bit per column) and the target; the
    co-occurrence correlations and the per-column tests are computed from those pattern counts.
    """
    columns = columns[:62]
    k = len(columns)
    findings: list[Finding] = []
    if not k:
        return {"columns": [], "cooccurrence": [], "vs_target": {}}, findings
    key = " | ".join(f"(CAST({missing_expr(table, c)} AS BIGINT) << {i})" for i, c in enumerate(columns))
    if target is None:
        group, aggs = "NULL", "count(*), NULL, NULL, NULL"
    elif target.task == "regression":
        group, aggs = "NULL", f"count(*), count({target.y}), sum({target.y}), sum({target.y} * {target.y})"
    else:
        group, aggs = target.label, "count(*), NULL, NULL, NULL"
    rows = table.all(f"SELECT {key} AS k, {group} AS g, {aggs} FROM t GROUP BY 1, 2")
    bits = np.array([[(r[0] >> i) & 1 for i in range(k)] for r in rows], dtype=float).reshape(len(rows), k)
    w = np.array([r[2] for r in rows], dtype=float)
    n = w.sum()
    n_i = bits.T @ w
    n_ij = (bits * w[:, None]).T @ bits
    denom = np.sqrt(np.outer(n_i * (n - n_i), n_i * (n - n_i)))
    with np.errstate(invalid="ignore", divide="ignore"):
        matrix = np.where(denom > 0, (n * n_ij - np.outer(n_i, n_i)) / denom, 0.0)
    np.fill_diagonal(matrix, 1.0)
    for i in range(k):
        for j in range(i + 1, k):
            if matrix[i, j] >= 0.5:
                findings.append(finding(
                    "missing_together", "info", f"'{columns[i]}' and '{columns[j]}' tend to be missing together "
                    f"(indicator correlation {matrix[i, j]:.2f})", "look for the shared cause (a source that was not "
                    "joined); impute them consistently and consider one shared missing-indicator", columns[i],
                    {"other": columns[j], "r": float(matrix[i, j])}))
    by_target: dict[str, dict[str, Any]] = {}
    if target is not None:
        by_target = _missing_vs_target(columns, rows, bits, target)
        for c, d in by_target.items():
            if d["p_value"] < 0.001 and d["effect"] >= 0.05:
                findings.append(finding(
                    "missing_not_at_random", "warning", f"missingness of '{c}' is associated with the target "
                    f"({d['effect_name']} {d['effect']:.3f}, p = {d['p_value']:.2g}): a hint of MAR/MNAR",
                    "impute and add a missing-indicator (SimpleImputer(add_indicator=True)); do not drop these "
                    "rows, which would bias the sample", c, d))
        at_random = {c: d["effect"] for c, d in by_target.items() if not (d["p_value"] < 0.001 and d["effect"] >= 0.05)}
        if at_random:
            findings.append(finding(
                "missing_at_random", "info", f"missingness of {len(at_random)} column(s) shows no clear association "
                f"with the target: {name_list(at_random)}", "simple imputation (median / most frequent) inside the pipeline is "
                "reasonable", None, {"effect": at_random}))
    pct = {c: float(100 * m / n) for c, m in zip(columns, n_i)} if n else {}
    return {"columns": columns, "pct": pct, "cooccurrence": matrix.tolist(), "vs_target": by_target}, findings


def _missing_vs_target(columns: list[str], rows: list[tuple], bits: np.ndarray, target: Target) -> dict[str, dict]:
    out = {}
    if target.task == "regression":
        cnt, sy, syy = (np.array([r[i] or 0 for r in rows], dtype=float) for i in (3, 4, 5))
        n = cnt.sum()
        var = syy.sum() / n - (sy.sum() / n) ** 2 if n else 0.0
        for i, c in enumerate(columns):
            m = bits[:, i] == 1
            n1, n0 = cnt[m].sum(), cnt[~m].sum()
            if not n1 or not n0 or var <= 0:
                out[c] = {"effect_name": "point-biserial |r|", "effect": 0.0, "p_value": 1.0}
                continue
            mean1, mean0 = sy[m].sum() / n1, sy[~m].sum() / n0
            r = (mean1 - mean0) * np.sqrt(n1 * n0) / n / np.sqrt(var)
            t = r * np.sqrt((n - 2) / max(1 - r * r, 1e-12))
            out[c] = {"effect_name": "point-biserial |r|", "effect": float(abs(r)),
                      "p_value": float(2 * sps.t.sf(abs(t), n - 2)), "target_mean_missing": float(mean1),
                      "target_mean_present": float(mean0)}
        return out
    labels = sorted({r[1] for r in rows if r[1] is not None})
    if len(labels) < 2:
        return out
    li = {v: i for i, v in enumerate(labels)}
    miss = np.zeros((len(columns), len(labels)))
    totals = np.zeros(len(labels))
    for r, b in zip(rows, bits):
        if r[1] is not None:
            totals[li[r[1]]] += r[2]
            miss[:, li[r[1]]] += b * r[2]
    for i, c in enumerate(columns):
        ct = np.vstack([miss[i], totals - miss[i]])
        p = float(sps.chi2_contingency(ct, correction=False)[1]) if (ct.sum(axis=1) > 0).all() else 1.0
        out[c] = {"effect_name": "Cramér's V", "effect": cramers_v(ct), "p_value": p,
                  "missing_rate_by_class": {lab: float(m / t) for lab, m, t in zip(labels, miss[i], totals)}}
    return out
