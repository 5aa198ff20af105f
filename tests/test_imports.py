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
    loaded = loaded_after("import mlsmith.deploy._onnx as o, mlsmith.deploy._bundle as b\n"
                          "o._register_converters()\nimport skops.io")
    assert {"skl2onnx", "onnxmltools", "onnx", "skops"} <= set(loaded)
