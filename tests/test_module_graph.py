"""benchmarks/module_graph.py: the import graph's figures, from the rules tests/test_architecture.py checks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("mlsmith_module_graph", ROOT / "benchmarks" / "module_graph.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_function_level_imports_are_found_and_told_apart():
    found = _script().function_level_imports(ROOT / "src" / "mlsmith")
    ours = {(file, text) for file, _, text, mine in found if mine}
    theirs = {(file, text) for file, _, text, mine in found if not mine}
    assert ("mlsmith/report/_figures.py", "from matplotlib.figure import Figure") in theirs  # inside figure()
    assert ("mlsmith/report/_html.py", "from ..runs import to_jsonable") in ours
    # an import under `if TYPE_CHECKING:` is for annotations only: not counted
    assert not any(file == "mlsmith/report/_figures.py" and line < 20 for file, line, _, _ in found)


def test_the_figures_of_this_checkout(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["module_graph.py", "--root", str(ROOT)])
    _script().main()
    out = capsys.readouterr().out.splitlines()
    files = list((ROOT / "src" / "mlsmith").rglob("*.py"))
    assert out[1].startswith(f"modules: {len(files)} ")
    assert out[3:5] == ["cycles: 0", "back-edges (a module importing a later stage): 0"]
    long = sum(len(f.read_text().splitlines()) > 400 for f in files)
    assert f"modules over 400 lines: {long}" in out
