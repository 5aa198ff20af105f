"""The import graph of ``src/mlsmith``, read from the source: no cycle, and no stage imports a later one.

Every ``from ... import`` counts, inside functions too (a function-level import that dodges a cycle
is still a cycle), except those under ``if TYPE_CHECKING:`` (annotations only). Importing a
submodule also runs its package's ``__init__``, so that edge counts as well.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mlsmith"

#: The order data flows in: spec -> split -> stages -> bundle -> monitoring. A module may import its
#: own rank or lower. Modules not listed (``_columns``, ``_reading``, ``_findings``, ``_bootstrap``,
#: ``metrics``, ``catalog``, ``preprocess``, ``parallel`` and the modules it runs on: ``_budget``,
#: ``_memory``, ``_cluster``, ``_workers``; ``runs``, ...) are shared by every stage and
#: rank 0: they import no stage. ``report`` renders results and is left out (results' notebook
#: display imports it; it imports results' data only).
RANK = {
    "problem": 1, "data": 1, "split": 1, "_table": 1, "_dask": 1, "draft": 1,
    "quality": 2,
    "eda": 3,
    "features": 4, "pipeline": 4,
    "recommender": 5, "selection": 5, "ablation": 5,
    "tuning": 6, "guards": 6,
    "evaluation": 7,
    "deploy": 8,
    "monitor": 9,
    "workflow": 10, "retraining": 10,
    "tracking": 11,
    "cli": 12, "__main__": 12,
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the mlsmith modules it imports (see the module docstring for what counts)."""
    modules = {_module(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for n in ast.walk(node)}
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]  # packages run their __init__
                graph[name] |= {t for t in chain if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def _rank(module: str) -> int:
    return RANK.get(module.split(".")[1], 0) if "." in module else 0


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_no_module_imports_a_later_stage():
    later = [f"{m} ({_rank(m)}) imports {t} ({_rank(t)})" for m, targets in import_graph().items() for t in targets
             if _rank(t) > _rank(m) and not {m.split(".")[1], t.split(".")[1]} & {"report"}]
    assert later == []


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected


def test_the_graph_sees_function_level_imports_and_package_inits():
    graph = import_graph()
    assert "mlsmith.evaluation" in graph["mlsmith.workflow"]  # a module-level import of a package
    assert "mlsmith._latency" in graph["mlsmith.parallel"]  # imported inside a function, for import cost
    assert "mlsmith.deploy" in graph["mlsmith.monitor._reference"]  # deploy._bundle runs deploy/__init__


#: The workflow's names for the stages' results (``guards`` collects findings across stages by design).
STAGE_RESULTS = {"quality", "eda", "plan", "feature_result", "leaderboard", "tuning", "evaluation"}
#: Methods that change a list, a dict or a result in place.
MUTATORS = {"append", "extend", "update", "pop", "insert", "clear", "setdefault", "invalidate"}


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def test_the_workflow_mutates_no_stage_result():
    """Each stage's result is built once, by the stage (issue 20): the workflow passes results along and
    builds what it reports with ``dataclasses.replace``, never by assigning into a result."""
    found = []
    for node in ast.walk(ast.parse((SRC / "workflow.py").read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        targets = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        found += [ast.unparse(t) for t in targets
                  if isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in STAGE_RESULTS]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            if _root(node.func.value) in STAGE_RESULTS:
                found.append(ast.unparse(node.func))
    assert found == []
