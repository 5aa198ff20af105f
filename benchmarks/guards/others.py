"""deepchecks 0.19.1 and cleanlab's Datalab on the rows the benchmark wrote (run in their own venv).

deepchecks imports only with numpy 1.26, pandas 2.2 and scikit-learn 1.5, so this script runs in its
own virtual environment over the ``train.parquet`` / ``test.parquet`` files that ``run.py`` wrote
(the same rows mlsmith's guards saw)::

    python3 -m venv /tmp/guards/dcvenv
    /tmp/guards/dcvenv/bin/pip install deepchecks==0.19.1 'numpy<2' 'pandas<2.3' 'scikit-learn<1.6' \\
        pyarrow cleanlab
    /tmp/guards/dcvenv/bin/python benchmarks/guards/others.py /tmp/guards/bench

A kind counts as caught by deepchecks when a default condition of one of its checks for that kind
(:data:`DEEPCHECKS`) fails; on a control, any failure of those checks is a false alarm. cleanlab's
Datalab is run for the kinds it looks for (near duplicates and non-iid rows, on train and test
together): caught when it flags at least 1 % of the rows.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pandas as pd

#: The deepchecks checks that answer each planted kind.
DEEPCHECKS = {
    "copy97": ("FeatureLabelCorrelation",),
    "nonlinear": ("FeatureLabelCorrelation",),
    "difference": ("FeatureLabelCorrelation",),
    "text_label": ("FeatureLabelCorrelation",),
    "twice": ("DataDuplicates", "TrainTestSamplesMix"),
    "near_copies": ("DataDuplicates", "TrainTestSamplesMix"),
    "entity": ("TrainTestSamplesMix", "IdentifierLabelCorrelation", "IndexTrainTestLeakage"),
    "date_trend": ("DateTrainTestLeakageOverlap", "DateTrainTestLeakageDuplicates", "FeatureLabelCorrelation"),
}
TRAIN_TEST = ("TrainTestSamplesMix", "DateTrainTestLeakageOverlap",
              "DateTrainTestLeakageDuplicates", "IndexTrainTestLeakage")
CLEANLAB = {"twice": "near_duplicate", "near_copies": "near_duplicate", "entity": "near_duplicate",
            "date_trend": "non_iid"}


def deepchecks_failures(train: pd.DataFrame, test: pd.DataFrame, target: str, task: str) -> set[str]:
    """The names of the checks (of :data:`DEEPCHECKS`) whose default conditions fail on these rows."""
    from deepchecks.tabular import Dataset

    label_type = "regression" if task == "regression" else ("binary" if task.startswith("binary") else "multiclass")
    date = "recorded_on" if "recorded_on" in train.columns else None
    index = "entity" if "entity" in train.columns else ("record_id" if "record_id" in train.columns else None)
    cat = [c for c in train.columns if c not in (target, date, index) and not pd.api.types.is_numeric_dtype(train[c])]

    def dataset(frame: pd.DataFrame) -> Dataset:
        frame = frame.copy()
        if date:
            frame[date] = pd.to_datetime(frame[date])
        return Dataset(frame, label=target, cat_features=cat, label_type=label_type, datetime_name=date,
                       index_name=index)

    tr, te = dataset(train), dataset(test)
    from deepchecks.tabular.suites import data_integrity, train_test_validation

    # the suites' own instances carry deepchecks' default conditions
    suite_checks = {type(c).__name__: c for s in (data_integrity(), train_test_validation())
                    for c in s.checks.values()}
    failed = set()
    for name in sorted({n for v in DEEPCHECKS.values() for n in v}):
        check = suite_checks[name]
        try:
            result = check.run(tr, te) if name in TRAIN_TEST else check.run(tr)
        except Exception:  # noqa: BLE001 - a check that cannot run on these rows (no date, no index) says nothing
            continue
        if not result.passed_conditions():
            failed.add(name)
    return failed


def cleanlab_issues(train: pd.DataFrame, test: pd.DataFrame, target: str) -> dict[str, float]:
    """Datalab's share of rows with each issue type, on train and test together (numbers, categories coded)."""
    from cleanlab import Datalab

    both = pd.concat([train, test], ignore_index=True)
    X = both.drop(columns=[target]).copy()
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]):
            X[c] = pd.factorize(X[c].astype(str))[0]
    X = X.astype(float).fillna(X.astype(float).median()).fillna(0.0)
    X = (X - X.mean()) / X.std().replace(0, 1)
    lab = Datalab(data=pd.DataFrame({"y": both[target].astype(str)}), label_name="y", verbosity=0)
    lab.find_issues(features=X.to_numpy(), issue_types={"near_duplicate": {}, "non_iid": {}})
    issues = lab.get_issues()
    out = {}
    for kind in ("near_duplicate", "non_iid"):
        column = f"is_{kind}_issue"
        out[kind] = float(issues[column].mean()) if column in issues else 0.0
    return out


def main(work: Path) -> None:
    warnings.filterwarnings("ignore")
    records = [json.loads(line) for line in (work / "mlsmith.jsonl").read_text().splitlines() if line.strip()]
    out = work / "others.jsonl"
    done = set()
    if out.exists():
        done = {(r["table"], r["kind"]) for r in map(json.loads, out.read_text().splitlines())}
    for record in records:
        key = (record["table"], record["kind"])
        if key in done:
            continue
        where = work / record["table"] / record["kind"]
        meta = json.loads((where / "meta.json").read_text())
        train, test = pd.read_parquet(where / "train.parquet"), pd.read_parquet(where / "test.parquet")
        failed = deepchecks_failures(train, test, meta["target"], meta["task"])
        kinds = {k: bool(failed & set(v)) for k, v in DEEPCHECKS.items()}
        kinds["any"] = bool(failed)
        try:
            shares = cleanlab_issues(train, test, meta["target"])
            cl = {k: shares[v] >= 0.01 for k, v in CLEANLAB.items()}
            cl["any"] = any(s >= 0.01 for s in shares.values())
        except Exception as exc:  # noqa: BLE001 - recorded, the benchmark goes on
            shares, cl = {"error": str(exc)[:200]}, None
        row = {"table": record["table"], "kind": record["kind"], "deepchecks_failed": sorted(failed),
               "deepchecks": kinds, "cleanlab_shares": shares, "cleanlab": cl}
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(record["table"], record["kind"], sorted(failed), shares, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
