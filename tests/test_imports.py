"""The fixed import cost: starting mlsmith imports no export, serving or cluster library.

ONNX (skl2onnx, onnxmltools, onnxruntime), skops, the server (FastAPI, uvicorn), MLflow and Dask are
imported by the functions that use them; ``import mlsmith``, the CLI's start (``mlsmith --help``) and
what ``mlsmith run`` imports before its first stage must not pull them in. Measured figures and the
decision: benchmarks/RESULTS.md, "Install weight and fixed import cost".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: This checkout's package, whatever the interpreter has installed.
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}

#: Imported only where used: export and load (ONNX, skops), ``serve``, ``--mlflow``, ``--cluster``.
LAZY = ("skl2onnx", "onnxmltools", "onnxruntime", "onnx", "skops", "fastapi", "uvicorn", "starlette", "mlflow",
        "dask", "distributed")


def loaded_after(code: str) -> list[str]:
    """The LAZY packages in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         check=True, env=ENV)
    return [name for name in json.loads(out.stdout.splitlines()[-1]) if name in LAZY]


@pytest.mark.parametrize("code", [
    "import mlsmith",
    "import mlsmith.cli",
    # `mlsmith --help` parses and prints the commands: every command module is imported
    "from mlsmith.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass",
    # what `mlsmith run` has imported when its first stage starts
    "import mlsmith.cli, mlsmith.workflow, mlsmith.parallel, mlsmith.report",
])
def test_start_imports_no_export_serving_or_cluster_library(code):
    assert loaded_after(code) == []


def test_the_probe_sees_a_lazy_import():
    """The check itself works: the ONNX export and the bundle's writer do import their libraries."""
    loaded = loaded_after("import mlsmith.deploy._onnx_ops as o, mlsmith.deploy._bundle as b\n"
                          "o.register_converters()\nimport skops.io")
    assert {"skl2onnx", "onnxmltools", "onnx", "skops"} <= set(loaded)


@pytest.fixture
def without_xgboost(monkeypatch):
    """XGBoost as in an install without the `xgboost` or `gpu` extra: not found, not importable."""
    monkeypatch.setitem(sys.modules, "xgboost", None)


def test_without_xgboost_the_comparison_skips_it_and_says_how_to_install_it(without_xgboost):
    from sklearn.datasets import load_breast_cancer

    from mlsmith.data import infer_schema
    from mlsmith.exceptions import ProblemSpecError
    from mlsmith.recommender import recommend

    frame = load_breast_cancer(as_frame=True).frame
    rec = recommend(infer_schema(frame, "target"), len(frame), "binary_classification")
    assert "xgboost" not in rec.order and {"lightgbm", "hist_gradient_boosting"} <= set(rec.order)
    assert rec.skipped["xgboost"] == ("not installed: pip install 'mlsmith[xgboost]' (or any xgboost build "
                                      "you already use)")
    with pytest.raises(ProblemSpecError, match=r"'models' lists xgboost, which is not installed; "
                                               r"pip install 'mlsmith\[xgboost\]'"):
        recommend(infer_schema(frame, "target"), len(frame), "binary_classification", models=["linear", "xgboost"])


def test_without_xgboost_other_pipelines_still_export_to_onnx(without_xgboost):
    from sklearn.datasets import load_breast_cancer

    from mlsmith.data import infer_schema
    from mlsmith.deploy import export_onnx
    from mlsmith.pipeline import build_pipeline

    frame = load_breast_cancer(as_frame=True).frame
    schema = infer_schema(frame, "target")
    X, y = frame[schema.features()], frame["target"].to_numpy()
    pipe = build_pipeline("lightgbm", schema, "binary_classification", 0).fit(X[::2], y[::2])
    export = export_onnx(pipe, X[1::2], "binary_classification")
    assert export.converted, export.reason
    assert export.max_abs_diff < 1e-4 and export.n_rows_checked == len(X[1::2])


def test_every_public_name_resolves_to_the_module_the_lazy_table_names():
    import importlib

    import mlsmith

    assert mlsmith.__all__ == sorted(mlsmith._WHERE) and len(mlsmith.__all__) > 30
    for name, where in mlsmith._WHERE.items():
        module = importlib.import_module(f"mlsmith.{where}")
        assert getattr(mlsmith, name) is getattr(module, name), name
