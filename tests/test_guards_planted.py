"""The planted-mistake benchmark's fast subset: every kind and every control on four small real tables.

``benchmarks/guards/`` plants each mistake of issue 23 into real tables and runs mlsmith's data
guards after mlsmith's own split, as ``mlsmith run`` does. Here four tables the test suite ships
(scikit-learn's breast cancer, binary; palmerpenguins, multiclass with NA; ISLP's Default, binary
with 3 % positives; ISLP's Auto, regression with a repeated name column) carry every planted kind,
each of which must be caught by a warning or an error of its check, and the clean, date and id
controls, on which no guard may raise a warning or worse.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"mlsmith_bench_{name}", ROOT / "benchmarks" / "guards" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


plant = _load("plant")
bench = _load("run")

TABLES = {
    "breast_cancer": (lambda: load_breast_cancer(as_frame=True).frame.rename(columns={"target": "malignant"}),
                      "malignant", "binary_classification"),
    "penguins": (lambda: pd.read_csv(DATA / "penguins.csv"), "species", "multiclass_classification"),
    "Default": (lambda: pd.read_csv(DATA / "Default.csv"), "default", "binary_classification"),
    "auto": (lambda: pd.read_csv(DATA / "auto.csv"), "mpg", "regression"),
}


@pytest.fixture(scope="module", params=sorted(TABLES))
def table(request):
    load, target, task = TABLES[request.param]
    return request.param, load(), target, task


@pytest.mark.parametrize("kind", plant.KINDS)
def test_every_planted_kind_is_caught_by_its_check(table, kind):
    name, df, target, task = table
    findings = bench.guard_findings(plant.plant(kind, df, target, task), target, task)
    alarms = [(f["check"], f["severity"]) for f in findings if f["severity"] != "info"]
    assert bench.caught(kind, findings), f"{kind} on {name} not caught by {bench.EXPECTED[kind]}: {alarms}"


@pytest.mark.parametrize("kind", plant.CONTROLS)
def test_controls_raise_no_warning(table, kind):
    name, df, target, task = table
    findings = bench.guard_findings(plant.plant(kind, df, target, task), target, task)
    assert [f["message"] for f in findings if f["severity"] != "info"] == []
