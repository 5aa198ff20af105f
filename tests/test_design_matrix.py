"""The design matrix on a large table (issue 19): float32 past ``FLOAT32_ROWS`` rows, stacked once, and
fitted by the linear model without a float64 copy; float64 as before below it."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlsmith import preprocess
from mlsmith.data import compact_categories, infer_schema
from mlsmith.pipeline import build_pipeline

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def default_xy() -> tuple[pd.DataFrame, np.ndarray]:
    """ISLP's Default (10,000 card holders: two text columns, two amounts), as a run hands it to the fits."""
    table = pd.read_csv(DATA / "Default.csv")
    schema = infer_schema(table, "default")
    X = compact_categories(table[schema.features()], schema.features("categorical"))
    return X, (table["default"] == "Yes").to_numpy().astype(int), schema


def test_large_fit_is_float32_without_a_float64_copy(default_xy, monkeypatch):
    X, y, schema = default_xy
    small = build_pipeline("linear", schema, "binary_classification", seed=0).fit(X, y)
    monkeypatch.setattr(preprocess, "FLOAT32_ROWS", 5_000)  # Default's 10,000 rows count as a large table
    large = build_pipeline("linear", schema, "binary_classification", seed=0).fit(X, y)

    assert not small[0].float32_ and small[0].transform(X).dtype == np.float64
    assert large[0].float32_
    design = large[0].transform(X)
    assert design.dtype == np.float32 and design.flags.c_contiguous
    # the logistic regression fitted the float32 matrix as given (its coefficients are float32), not a
    # float64 copy of it; its scores are those of the float64 fit to 4 decimals
    assert large[-1].coef_.dtype == np.float32 and small[-1].coef_.dtype == np.float64
    auc_small, auc_large = (roc_auc_score(y, p.predict_proba(X)[:, 1]) for p in (small, large))
    assert auc_large == pytest.approx(auc_small, abs=1e-4) and auc_small > 0.9
    np.testing.assert_allclose(large.predict_proba(X), small.predict_proba(X), atol=1e-3)
    # the choice is the fit's: a pickled model transforms new rows as it was fitted, whatever their number
    again = pickle.loads(pickle.dumps(large))
    assert again[0].transform(X.iloc[:10]).dtype == np.float32


def test_blocks_of_any_dtype_stack_into_float32(monkeypatch):
    """The blocks are written into one float32 matrix, whatever their own dtypes (float64, int64)."""
    from sklearn.preprocessing import FunctionTransformer

    monkeypatch.setattr(preprocess, "FLOAT32_ROWS", 2)
    X = pd.DataFrame({"a": np.arange(6.0) / 4, "b": np.arange(6, dtype=np.int64)})
    as_array = FunctionTransformer(pd.DataFrame.to_numpy)
    prep = preprocess.DesignMatrix([("a", as_array, ["a"]), ("b", as_array, ["b"])])
    out = prep.fit_transform(X)
    assert out.dtype == np.float32 and out.tolist() == [[i / 4, float(i)] for i in range(6)]


def _results(tmp_path: Path, name: str) -> dict:
    """A run on ISLP's Default (8,000 training rows), the linear family only, no tuning: its results.json."""
    import json

    import mlsmith

    folder = tmp_path / name
    folder.mkdir()
    (folder / "problem.yaml").write_text(
        "target: default\npositive_class: 'Yes'\nmodels: [linear]\ntuning: {method: none, learning_curve: false}\n"
        f"data: {{path: {DATA / 'Default.csv'}}}\n")
    result = mlsmith.run(folder / "problem.yaml", runs_dir=folder / "runs", n_jobs=1)
    return json.loads((result.run_dir / "results.json").read_text())


@pytest.mark.slow
def test_training_rows_held_with_text_as_categories_give_the_same_run(tmp_path, monkeypatch):
    """Past MEMORY_CHECK_ROWS the run holds its training rows (and pickles them to the guards' worker)
    with their text as categories; quality (dtypes and bytes included), EDA, guards, scores, threshold and
    fingerprint are the same."""
    import mlsmith.workflow
    from mlsmith.data import compact_categories as compact

    plain = _results(tmp_path, "plain")
    compacted: list[pd.DataFrame] = []

    def recording(frame, columns):
        out = compact(frame, columns)
        compacted.append(out)
        return out

    monkeypatch.setattr(mlsmith.workflow, "MEMORY_CHECK_ROWS", 1_000)
    monkeypatch.setattr(mlsmith.workflow, "compact_categories", recording)
    large = _results(tmp_path, "large")
    assert "default" in compacted[0].columns and str(compacted[0]["student"].dtype) == "category"
    # the quality report describes the table as read, not as held: 'student' is text, as `mlsmith quality` says
    assert large["quality"]["dtypes"] == {"float64": 2, "str": 2}
    assert large["quality"]["memory_mb"] == plain["quality"]["memory_mb"]
    for key in ("quality", "eda", "guards", "leaderboard", "evaluation", "schema", "split"):
        assert _strip(large[key]) == _strip(plain[key]), key
    assert large["bundle"]["data_fingerprint"] == plain["bundle"]["data_fingerprint"]


def _strip(value):
    """A results.json section without its timings."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if not any(t in k for t in ("time", "seconds", "_s", "latency", "wall"))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
