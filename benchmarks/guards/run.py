"""The planted-mistake benchmark: mlsmith's guards against deepchecks and cleanlab on the same rows.

For each table of :data:`TABLES` (real tables of the corpus, ``benchmarks/corpus.py``) and each
planted kind and control of :mod:`plant`, the script

1. plants the mistake (:func:`plant.plant`, the table cut to 2,000 rows);
2. splits it with mlsmith's own split (``split_train_test``: random, stratified for classes; no
   group or time column is declared, as a careless user would not) and runs mlsmith's data guards
   on it (:func:`mlsmith.guards.check_data`, what ``mlsmith run`` runs after the split);
3. writes the same training and test rows to Parquet, for ``--tools`` to run deepchecks 0.19.1 and
   cleanlab's Datalab on them in their own virtual environment (:mod:`others`).

A kind is detected when a warning- or error-level finding of the right check fires
(:data:`EXPECTED`); on a control, any warning- or error-level guard finding is a false alarm.

Usage::

    PYTHONPATH=src python benchmarks/guards/run.py --work /tmp/guards/bench [--only a,b] [--jsonl F]
    /tmp/guards/dcvenv/bin/python benchmarks/guards/others.py /tmp/guards/bench  # deepchecks, cleanlab
    PYTHONPATH=src python benchmarks/guards/run.py --work /tmp/guards/bench --report  # the matrix
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mlsmith.exceptions import MlsmithError  # noqa: E402

from corpus import TABLES as CORPUS  # noqa: E402
from plant import CONTROLS, KINDS, plant  # noqa: E402

#: The corpus tables the benchmark plants into: binary, multiclass and regression, none shipping a leak.
TABLES = ("sk_breast_cancer", "islp_Default", "islp_OJ", "islp_College", "sm_anes96", "r_Pima_tr", "islp_BrainCancer",
          "r_survey",
          "sk_wine", "sk_iris", "penguins", "sm_modechoice", "vega_cars", "r_Cars93",
          "sk_diabetes", "islp_Carseats", "islp_Auto", "islp_Credit", "islp_Boston", "r_Salaries", "wd_crime1",
          "sm_fair", "wd_401k")
#: Held out: corpus tables no guard was tuned on (chosen after the detectors were written; none ships a
#: leak), run with ``--held-out`` and reported apart, so that the rates above are not fitted to TABLES.
HELD_OUT = ("sk_digits", "islp_Caravan", "r_titanic", "r_biopsy", "sm_randhie", "vega_seattle_weather",
            "vega_barley", "sm_star98", "islp_Hitters", "r_airquality", "sm_grunfeld", "r_Arthritis")
#: The check whose warning or error counts as catching each planted kind.
EXPECTED = {"copy97": "target_leakage", "nonlinear": "target_leakage", "difference": "target_leakage",
            "text_label": "target_leakage", "twice": "contamination", "near_copies": "contamination",
            "entity": "contamination", "date_trend": "time_order"}


def guard_findings(df: pd.DataFrame, target: str, task: str, seed: int = 0,
                   write_to: Path | None = None) -> list[dict]:
    """mlsmith's data guards on ``df`` after mlsmith's own split, as ``mlsmith run`` makes it."""
    from mlsmith.data import infer_schema
    from mlsmith.guards import check_data
    from mlsmith.problem import Problem
    from mlsmith.split import split_train_test
    from mlsmith.target import TargetCodec

    problem = Problem(target=target, type=task, data={"path": "planted.csv"}, seed=seed,
                      models=["linear"]).resolve(df[target])
    train, held_out, info = split_train_test(df, problem)
    schema = infer_schema(train, target, [], [], {})
    y = TargetCodec.fit(train[target], task, problem.positive_class).encode(train[target])
    if write_to is not None:
        write_to.mkdir(parents=True, exist_ok=True)
        train.to_parquet(write_to / "train.parquet")
        test = held_out.features_for_guards(list(df.columns.drop(target)))
        test[target] = df.loc[test.index, target]  # for the other tools only; mlsmith's guards never see it
        test.to_parquet(write_to / "test.parquet")
        (write_to / "meta.json").write_text(json.dumps({"target": target, "task": task}))
    report = check_data(problem, schema, train, y, held_out, info.strategy)
    return report.to_dict()


def _cases(only: set[str] | None, names: tuple[str, ...] = TABLES):
    tables = {t.name: t for t in CORPUS}
    for name in names:
        if only and name not in only:
            continue
        yield tables[name]


def run(work: Path, jsonl: Path, only: set[str] | None, kinds: tuple[str, ...],
        names: tuple[str, ...] = TABLES) -> None:
    for table in _cases(only, names):
        raw = table.load() if table.shipped is None else pd.read_csv(table.shipped())
        raw = raw.loc[:, ~raw.columns.duplicated()]
        for kind in kinds:
            df = plant(kind, raw, table.target, table.task)
            started = time.perf_counter()
            try:
                findings = guard_findings(df, table.target, table.task, write_to=work / table.name / kind)
            except MlsmithError as exc:  # a refusal (one line, exit 2 in the CLI) is recorded, not a detection
                print(f"{table.name:22s} {kind:13s} refused: {exc}", flush=True)
                continue
            record = {"table": table.name, "task": table.task, "kind": kind, "n_rows": len(df),
                      "seconds": round(time.perf_counter() - started, 2),
                      "findings": [{k: f[k] for k in ("check", "severity", "message")} for f in findings]}
            with jsonl.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            alarms = [f"{f['check']}:{f['severity']}" for f in findings if f["severity"] != "info"]
            print(f"{table.name:22s} {kind:13s} {record['seconds']:6.1f}s {alarms}", flush=True)


def caught(kind: str, findings: list[dict]) -> bool:
    """A planted kind is caught by a warning or error of its check; a control is clean without any."""
    alarms = [f for f in findings if f["severity"] != "info"]
    if kind in EXPECTED:
        return any(f["check"] == EXPECTED[kind] for f in alarms)
    return bool(alarms)


def report(work: Path, jsonl: Path) -> str:
    """The markdown matrix: per kind, mlsmith / deepchecks / cleanlab detections (controls: false alarms)."""
    records = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    others = {}
    path = work / "others.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            others[(r["table"], r["kind"])] = r
    lines = ["| kind | mlsmith | deepchecks | cleanlab |", "|---|---|---|---|"]
    for kind in (*KINDS, *CONTROLS):
        rows = [r for r in records if r["kind"] == kind]
        if not rows:
            continue
        n = len(rows)
        ours = sum(caught(kind, r["findings"]) for r in rows)
        theirs = [others.get((r["table"], kind)) for r in rows]
        dc = sum(bool(o and o["deepchecks"].get(kind if kind in EXPECTED else "any")) for o in theirs)
        cl_rows = [o for o in theirs if o and o.get("cleanlab") is not None]
        cl = sum(bool(o["cleanlab"].get(kind if kind in EXPECTED else "any")) for o in cl_rows)
        label = kind if kind in EXPECTED else f"{kind} (false alarms)"
        lines.append(f"| {label} | {ours}/{n} | {dc}/{sum(o is not None for o in theirs)} | "
                     f"{cl}/{len(cl_rows)} |")
    lines += ["", "mlsmith's misses and its warnings or errors on the controls:", ""]
    for r in records:
        alarms = [f for f in r["findings"] if f["severity"] != "info"]
        if (r["kind"] in EXPECTED) != caught(r["kind"], r["findings"]):
            said = "; ".join(f"{f['check']} ({f['severity']}): {f['message'][:160]}" for f in alarms) or "nothing"
            lines.append(f"- {r['table']} / {r['kind']}: {said}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/guards/bench"))
    parser.add_argument("--jsonl", type=Path, default=None)
    parser.add_argument("--only", default=None)
    parser.add_argument("--kinds", default=None)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--held-out", action="store_true", help="plant into HELD_OUT instead of TABLES")
    args = parser.parse_args(argv)
    jsonl = args.jsonl or args.work / "mlsmith.jsonl"
    if args.report:
        print(report(args.work, jsonl))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    kinds = tuple(args.kinds.split(",")) if args.kinds else (*KINDS, *CONTROLS)
    run(args.work, jsonl, set(args.only.split(",")) if args.only else None, kinds, HELD_OUT if args.held_out else TABLES)


if __name__ == "__main__":
    main()
