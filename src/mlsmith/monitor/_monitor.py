"""``monitor``: current data (a file, or a window of the serving log) against a bundle's reference."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._bootstrap import bootstrap_se
from .._reading import source_name
from ..deploy import ModelBundle
from ..deploy._log import log_chunks
from ..evaluation import metric_on_resamples, scores_for
from ..exceptions import BundleError, DataError, MlsmithError
from ..target import TargetCodec
from ._current import CHUNK_ROWS, count_chunks, counts_for, file_chunks, parse_time
from ._drift import data_findings, feature_drift, prediction_drift
from ._reference import column_reference, load_reference, model_outputs, numeric_values, prediction_summary

__all__ = ["DriftReport", "data_drift", "monitor"]


@dataclass
class DriftReport:
    """What monitoring found: drift per feature, prediction drift, performance, findings, verdict.

    ``verdict["status"]`` is ``ok``, ``watch`` or ``retrain``; :attr:`exit_code` is 1 for
    ``retrain`` (the CLI's exit code), 0 otherwise.

    Parameters
    ----------
    bundle : str
        The bundle monitored.
    model : dict
        About the bundle's model: family, task, target, problem, seed, when it was made.
    source : dict
        Where the current rows came from: a file or the prediction log (with the role read).
    n_rows : int
        Current rows compared.
    alpha : float
        The significance level of the drift tests (Holm-corrected over the features).
    features : list of dict
        Per feature: the test, its statistic and corrected p-value, PSI, Jensen-Shannon distance,
        the binned shares behind the figure, and whether it drifted.
    prediction : dict
        The same for the model's predictions.
    performance : dict, optional
        The success metric then and now, with intervals, when the current rows have labels.
    schema : dict
        Columns missing from, or added to, the current rows.
    findings : list of dict
        Data issues in the current rows.
    verdict : dict
        ``status``, ``retrain``, the summary and its reasons.
    timings : dict
        Seconds per step.

    Examples
    --------
    >>> report = DriftReport("runs/x/model", {}, {"kind": "file", "path": "new.csv"}, 500, 0.05,
    ...                      [{"name": "age", "drifted": True}, {"name": "plan", "drifted": False}], {}, None, {},
    ...                      [], {"status": "retrain", "retrain": True})
    >>> report.drifted, report.exit_code
    (['age'], 1)
    """

    bundle: str
    model: dict[str, Any]
    source: dict[str, Any]
    n_rows: int
    alpha: float
    features: list[dict[str, Any]]
    prediction: dict[str, Any]
    performance: dict[str, Any] | None
    schema: dict[str, Any]
    findings: list[dict[str, Any]]
    verdict: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.verdict["retrain"] else 0

    @property
    def drifted(self) -> list[str]:
        """Names of the features flagged as drifted."""
        return [row["name"] for row in self.features if row["drifted"]]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def _repr_html_(self) -> str:
        from ..report._monitor import html

        return html(self.to_dict()).html


def _bundle_seed(reference: dict[str, Any], model: ModelBundle) -> int:
    """The seed of the current metric's bootstrap: the spec's seed the bundle was trained with, as its
    reference records it (or, in a reference written before it did, the bundle's metadata), the seed
    the reference's standard error was drawn with."""
    seed = reference.get("seed", model.metadata.get("seed"))
    if seed is None:
        raise BundleError(f"model bundle '{model.path}' records no seed (neither its reference nor its metadata); "
                          "re-create it with 'mlsmith run' to monitor it.")
    return int(seed)


def _performance(reference: dict[str, Any], model: ModelBundle, y: np.ndarray, pred: np.ndarray,
                 proba: np.ndarray | None, n_unlabelled: int, alpha: float, n_boot: int) -> dict[str, Any]:
    ref = reference["performance"]
    task, name = model.task, ref["metric"]
    n_classes = len(model.classes) or None
    score = metric_on_resamples(name, task, y, pred, proba, n_classes)
    current = float(score(np.arange(len(y))[None])[0])
    se = bootstrap_se(score, len(y), n_boot=n_boot, seed=_bundle_seed(reference, model))
    sign = 1.0 if ref["greater_is_better"] else -1.0
    change = current - ref["value"]
    z = stats.norm.ppf(1 - alpha / 2)
    se_change = float(np.hypot(se, ref["se"] or 0.0))
    lo, hi = change - z * se_change, change + z * se_change
    worse_bound = hi if sign > 0 else -lo  # the most favourable end of the interval, oriented
    threshold = ref.get("threshold")
    meets = None if threshold is None else bool(sign * (current - threshold) >= 0)
    test_metrics = model.metadata.get("test_metrics", {})
    current_all = scores_for(task, y, pred, proba, n_classes)
    return {
        "metric": name, "greater_is_better": ref["greater_is_better"], "reference": ref["value"],
        "reference_se": ref["se"], "n_reference": ref["n"], "current": current, "current_se": se,
        "change": change, "change_ci": [float(lo), float(hi)], "level": 1 - alpha,
        "decayed": bool(worse_bound < 0), "threshold": threshold, "meets_threshold": meets,
        "n_labelled": int(len(y)), "n_unlabelled": n_unlabelled,
        "metrics": {k: {"reference": test_metrics.get(k), "current": v} for k, v in current_all.items()},
    }


def _verdict(features, prediction, performance, findings) -> dict[str, Any]:
    reasons: list[str] = []
    strong = [r["name"] for r in features if r["drifted"] and r["band"] == "significant"]
    moderate = [r["name"] for r in features if r["drifted"] and r["band"] == "moderate"]
    drift_words = []
    if strong:
        drift_words.append(f"{len(strong)} feature(s) drifted strongly ({', '.join(strong[:5])})")
    if moderate:
        drift_words.append(f"{len(moderate)} feature(s) drifted moderately ({', '.join(moderate[:5])})")
    if prediction["drifted"]:
        size = (f"Jensen-Shannon distance {prediction['js']:.3f}, {prediction['js_net']:.3f} net of noise"
                if prediction.get("js_net") is not None else f"PSI {prediction['psi']:.3f}")
        drift_words.append(f"the predictions drifted ({size})")
    status = "ok"
    if performance is not None:
        level = f"{performance['level']:.0%}"
        lo, hi = performance["change_ci"]
        words = (f"{performance['metric']} {performance['current']:.4f} vs {performance['reference']:.4f} on the "
                 f"test split (change {performance['change']:+.4f}, {level} interval [{lo:+.4f}, {hi:+.4f}])")
        if performance["decayed"]:
            status = "retrain"
            reasons.append(f"performance decayed: {words}")
        else:
            reasons.append(f"performance holds: {words}")
            if drift_words:
                status = "watch"
                reasons.extend(drift_words)
    else:
        if strong or (prediction["drifted"] and prediction["band"] == "significant"):
            status = "retrain"
        elif drift_words:
            status = "watch"
        reasons.extend(drift_words)
    if any(f["severity"] != "info" for f in findings) and status == "ok":
        status = "watch"
    reasons.extend(f["message"] for f in findings if f["severity"] != "info")
    if not reasons:
        reasons.append("no drift flagged and no data issue found")
    summary = {"ok": "No action needed", "watch": "Watch: changes found, retraining not yet needed",
               "retrain": "Retraining recommended"}[status]
    return {"status": status, "retrain": status == "retrain", "summary": summary, "reasons": reasons}


def monitor(
    bundle: str | Path | ModelBundle,
    current: Any = None,
    *,
    labels: str | None = None,
    log: str | Path | None = None,
    since: str | float | None = None,
    until: str | float | None = None,
    role: str = "champion",
    alpha: float = 0.05,
    chunk_rows: int = CHUNK_ROWS,
    n_boot: int = 300,
) -> DriftReport:
    """Compare current data with the reference stored in a model bundle.

    Parameters
    ----------
    bundle
        A model bundle folder (the ``model`` folder of a run) or a loaded bundle.
    current
        A CSV or Parquet file of current rows (read in chunks), a folder or glob of Parquet
        files, or a table held in memory (pandas, Polars, pyarrow); or give ``log``.
    labels
        The column holding the true target, to measure performance decay.
    log
        The serving prediction log (SQLite); its ``inputs`` for ``role`` in ``[since, until)``.
    since, until
        Unix seconds, ISO dates/times (UTC by default) or ages such as ``7d``.
    alpha
        The false-alarm rate of the tests (family-wise over the features).
    chunk_rows
        Rows read at a time.
    n_boot
        Bootstrap resamples for the performance interval, drawn with the spec's seed the bundle was
        trained with (its reference records it).

    Returns
    -------
    DriftReport

    Examples
    --------
    >>> monitor("no/such/bundle", "current.csv")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """
    start = time.perf_counter()
    model = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    reference = load_reference(model.path)
    features = model.schema.features()
    numeric = model.schema.features("numeric")
    if (current is None) == (log is None):
        raise MlsmithError("give either a CURRENT data file or --log with a prediction log, not both or neither.")
    schema: dict[str, Any] = {"missing_columns": [], "extra_columns": []}
    if current is not None:
        columns, chunks = file_chunks(current, [*features, *([labels] if labels else [])], chunk_rows)
        name = source_name(current)
        missing = [c for c in features if c not in columns]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(f"'{name}' lacks {len(missing)} column(s) the model needs: {shown}; monitor data "
                            "with the training data's columns.")
        known = {c.name for c in model.schema.columns} | {model.schema.target, labels}
        schema["extra_columns"] = [c for c in columns if c not in known]
        source: dict[str, Any] = {"kind": "file", "path": name}
    else:
        assert log is not None  # exactly one of current and log, checked above
        t0, t1 = parse_time(since, "--since"), parse_time(until, "--until")
        n_log, chunks = log_chunks(log, t0, t1, role, chunk_rows)
        if n_log == 0:
            raise DataError(f"prediction log '{log}' has no '{role}' rows between {since or 'the start'} and "
                            f"{until or 'now'}; widen --since/--until.")
        source = {"kind": "log", "path": str(log), "since": t0, "until": t1, "role": role}
    if labels and current is not None and labels not in columns:
        raise DataError(f"labels column '{labels}' is not in '{name}'; pass the column holding the true target.")

    counts = {name: counts_for(reference["features"][name]) for name in reference["features"]}
    pred_counts = counts_for(reference["prediction"])
    kept: list[tuple[np.ndarray, np.ndarray | None, pd.Series]] = []
    n_rows = 0
    if source["kind"] == "log":
        chunks = (c.reindex(columns=[*features, *([labels] if labels and labels in c else [])]) for c in chunks)
    for chunk in count_chunks(chunks, counts):
        n_rows += len(chunk)
        X = chunk[features].copy()
        for name in numeric:  # non-numbers are reported as schema violations and scored as missing
            X[name] = numeric_values(X[name])[0]
        try:
            pred, proba = model_outputs(model.pipeline, X, model.task, model.threshold)
        except (ValueError, TypeError) as exc:
            raise DataError(f"the model could not score the current rows: {str(exc).splitlines()[0]}") from None
        pred_counts.add(prediction_summary(model.task, pred, proba, model.classes))
        if labels and labels in chunk:
            kept.append((pred, proba, chunk[labels]))
    timings = {"read_and_count": round(time.perf_counter() - start, 3)}

    rows = feature_drift(reference["features"], counts, alpha)
    prediction = prediction_drift(reference["prediction"], pred_counts, alpha)
    findings = data_findings(rows)
    if schema["extra_columns"]:
        findings.append({"check": "schema", "column": None, "severity": "info",
                         "message": f"{len(schema['extra_columns'])} column(s) unknown to the model were ignored: "
                                    f"{', '.join(schema['extra_columns'][:5])}"})
    performance = None
    if labels:
        performance = _labelled(reference, model, kept, labels, alpha, n_boot)
    timings["total"] = round(time.perf_counter() - start, 3)
    verdict = _verdict(rows, prediction, performance, findings)
    meta = model.metadata
    about = {"problem": meta.get("problem"), "task": model.task, "target": model.schema.target,
             "model": meta.get("model"), "seed": meta.get("seed"), "created": meta.get("created")}
    return DriftReport(str(model.path), about, source, n_rows, alpha, rows, prediction, performance, schema, findings,
                         verdict, timings)


def _labelled(reference, model: ModelBundle, kept, labels: str, alpha: float, n_boot: int) -> dict[str, Any] | None:
    if not kept:
        raise DataError(f"labels column '{labels}' was not found in the current rows; check --labels.")
    y_raw = pd.concat([k[2] for k in kept], ignore_index=True)
    pred = np.concatenate([k[0] for k in kept])
    proba = None if kept[0][1] is None else np.concatenate([k[1] for k in kept])
    has = y_raw.notna().to_numpy()
    if not has.any():
        raise DataError(f"labels column '{labels}' is empty in the current rows; pass rows whose outcome is known.")
    codec = TargetCodec(model.task, tuple(model.classes))
    try:
        y = codec.encode(y_raw[has])
    except ValueError as exc:
        raise DataError(f"labels column '{labels}': {exc}; the model knows the classes {model.classes}.") from None
    return _performance(reference, model, y, pred[has], None if proba is None else proba[has],
                        int((~has).sum()), alpha, n_boot)


def data_drift(reference: pd.DataFrame | dict[str, dict[str, Any]], current: pd.DataFrame | str | Path,
               roles: dict[str, str] | None = None, alpha: float = 0.05,
               chunk_rows: int = CHUNK_ROWS) -> list[dict[str, Any]]:
    """Feature drift between two tables, without a model: the statistics behind :func:`monitor`.

    Parameters
    ----------
    reference
        A reference table, or reference statistics (``reference.json``'s ``features``).
    current
        A current table, or a CSV/Parquet file read in chunks.
    roles
        Column -> numeric | categorical (default: numeric dtypes numeric, the rest categorical);
        needed only when ``reference`` is a table.
    alpha
        Family-wise false-alarm rate.
    chunk_rows
        Rows of ``current`` read at a time.

    Returns
    -------
    list of dict
        One row per column: test, statistic, p-value (raw and Holm-adjusted), PSI, for a categorical
        column its Jensen-Shannon distance (``js``, ``js_noise``, ``js_net``), the size ``band``, drifted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    >>> cur = pd.DataFrame({"x": rng.normal(1.0, size=2000), "c": rng.choice(["a", "b"], 2000)})
    >>> [(r["name"], r["drifted"]) for r in data_drift(ref, cur)]
    [('x', True), ('c', False)]
    """
    if isinstance(reference, pd.DataFrame):
        roles = roles or {c: "numeric" if pd.api.types.is_numeric_dtype(reference[c]) else "categorical"
                          for c in reference.columns}
        reference = {c: column_reference(reference[c], role) for c, role in roles.items()}
    counts = {name: counts_for(ref) for name, ref in reference.items()}
    chunks: Iterator[pd.DataFrame]
    if isinstance(current, pd.DataFrame):
        chunks = (current.iloc[i:i + chunk_rows] for i in range(0, len(current), chunk_rows))
    else:
        columns, chunks = file_chunks(current, list(reference), chunk_rows)
        missing = [c for c in reference if c not in columns]
        if missing:
            raise DataError(f"'{source_name(current)}' lacks column(s) {', '.join(missing[:5])} of the reference; pass a file "
                            "with the same columns.")
    for _ in count_chunks(chunks, counts):
        pass
    return feature_drift(reference, counts, alpha)
