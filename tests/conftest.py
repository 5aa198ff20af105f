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
