from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlsmith.datasets import make_churn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="session")
def churn_small() -> pd.DataFrame:
    """A small churn table (the demo's generator, 800 rows)."""
    return make_churn(n_rows=800, seed=3)


def write_problem(folder: Path, frame: pd.DataFrame, **spec) -> Path:
    """Write data.csv and a problem.yaml built from ``spec`` into ``folder``; return the yaml path."""
    import yaml

    frame.to_csv(folder / "data.csv", index=False)
    spec.setdefault("data", {})
    spec["data"] = {"path": "data.csv", **spec["data"]}
    path = folder / "problem.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_cli(*args) -> int:
    """The exit code of ``mlsmith ARGS`` run in this process (``main`` exits only on failure)."""
    from mlsmith.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
        raise SystemExit(0)
    return exit_info.value.code


def cli(capsys, *args) -> tuple[int, str, str]:
    """:func:`run_cli` with what it printed: (exit code, stdout, stderr)."""
    code = run_cli(*args)
    out = capsys.readouterr()
    return code, out.out, out.err
