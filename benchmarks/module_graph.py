"""The import graph of ``src/mlsmith`` in figures: modules, import edges, cycles, back-edges against the
stage layering, function-level imports, and modules over 400 lines.

The graph and the layering are those ``tests/test_architecture.py`` checks (loaded from the checkout
given, so another checkout is measured by its own rules): every import counts, inside functions too,
except under ``if TYPE_CHECKING:``; importing a submodule counts its package's ``__init__``.

    python benchmarks/module_graph.py                 # this checkout
    python benchmarks/module_graph.py --root /work/main
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
#: The size past which a module no longer reads in one sitting (STYLE.md: a few hundred lines).
LONG = 400


def architecture(root: Path) -> ModuleType:
    """``tests/test_architecture.py`` of the checkout at ``root``: its ``import_graph``, ``cycles`` and
    ``RANK`` read that checkout's ``src/mlsmith``."""
    spec = importlib.util.spec_from_file_location("mlsmith_architecture", root / "tests" / "test_architecture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def function_level_imports(src: Path) -> list[tuple[str, int, str, bool]]:
    """Every import inside a function body: (file, line, what, whether it imports mlsmith), outside
    ``if TYPE_CHECKING:``."""
    found = []
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        inside = {id(n) for f in functions for statement in f.body for n in ast.walk(statement)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) in inside and id(node) not in typing_only:
                ours = (isinstance(node, ast.ImportFrom) and node.level > 0) or any(
                    alias.name.split(".")[0] == "mlsmith" for alias in node.names) or (
                    isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlsmith")
                found.append((str(path.relative_to(src.parent)), node.lineno, ast.unparse(node), ours))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--list", action="store_true", help="also list every function-level import of mlsmith")
    args = parser.parse_args()
    arch = architecture(args.root)
    src = args.root / "src" / "mlsmith"
    graph = arch.import_graph()
    modules = sorted(arch._module(p) for p in src.rglob("*.py"))
    edges = sorted((m, t) for m, targets in graph.items() for t in targets)
    loops = arch.cycles(graph)
    back = sorted(f"{m} ({arch._rank(m)}) -> {t} ({arch._rank(t)})" for m, t in edges
                  if arch._rank(t) > arch._rank(m) and not {m.split(".")[1], t.split(".")[1]} & {"report"})
    inner = function_level_imports(src)
    ours = [i for i in inner if i[3]]
    long = sorted(((len(p.read_text().splitlines()), str(p.relative_to(src.parent))) for p in src.rglob("*.py")),
                  reverse=True)
    long = [(n, name) for n, name in long if n > LONG]

    print(f"checkout: {args.root}")
    print(f"modules: {len(modules)} ({sum(1 for m in modules if m.count('.') == 1)} top-level, "
          f"{len({m.split('.')[1] for m in modules if m.count('.') > 1})} packages)")
    print(f"import edges: {len(edges)}")
    print(f"cycles: {len(loops)}" + "".join(f"\n  {len(c)} modules: {', '.join(c)}" for c in loops))
    print(f"back-edges (a module importing a later stage): {len(back)}" + "".join(f"\n  {b}" for b in back))
    print(f"function-level imports: {len(inner)} ({len(ours)} of mlsmith modules, "
          f"{len(inner) - len(ours)} of other libraries)")
    per_module = Counter(file for file, _, _, mine in inner if mine)
    if per_module:
        print("  of mlsmith, by module: " + ", ".join(f"{f} {n}" for f, n in per_module.most_common()))
    if args.list:
        for file, line, text, _ in ours:
            print(f"    {file}:{line}: {text}")
    print(f"modules over {LONG} lines: {len(long)}" + "".join(f"\n  {n:5d} {name}" for n, name in long))


if __name__ == "__main__":
    main()
