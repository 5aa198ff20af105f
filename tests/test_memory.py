"""Memory on one machine (issue 19): the table read once without a second copy, compact frames for the
worker processes, predictions in bounded blocks; the values are those of the plain read and fit."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

import mlsmith
import mlsmith.workflow
from mlsmith import _memory, parallel
from mlsmith._bootstrap import BLOCK_CELLS, bootstrap_se
from mlsmith._memory import FIT_PEAK_FACTOR, fit_bytes, workers_for_memory
from mlsmith.data import compact_categories, infer_schema, read_table
from mlsmith.evaluation import _core, metric_on_resamples
from mlsmith.metrics import scorer
from mlsmith.parallel import fit_folds, fit_many
from mlsmith.pipeline import build_pipeline

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def default_table() -> pd.DataFrame:
    """ISLP's Default (10,000 card holders: two text columns, two amounts), five times over: 50,000 rows."""
    table = pd.read_csv(DATA / "Default.csv")
    return pd.concat([table] * 5, ignore_index=True)


def _run_default_linear(tmp_path: Path, n_jobs: int) -> mlsmith.RunResult:
    """A run on ISLP's Default (8,000 training rows), the linear family only, no tuning."""
    (tmp_path / "problem.yaml").write_text(
        f"target: default\npositive_class: 'Yes'\nmodels: [linear]\ntuning: {{method: none, learning_curve: false}}\n"
        f"data: {{path: {DATA / 'Default.csv'}}}\n")
    return mlsmith.run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=n_jobs)


def test_parquet_is_read_with_its_values_and_no_consolidated_copy(tmp_path, default_table):
    # pyarrow's default conversion gathers same-typed columns into one 2-D block (a second copy of
    # them while converting); read_table gives each column its own block, with the same values.
    path = tmp_path / "default.parquet"
    default_table.assign(balance_x2=default_table["balance"] * 2).to_parquet(path, index=False)
    frame = read_table(path)
    pd.testing.assert_frame_equal(frame, pd.read_parquet(path))
    assert [len(block.mgr_locs) for block in frame._mgr.blocks] == [1] * frame.shape[1]


def test_reading_parquet_gives_arrows_pool_back(tmp_path, default_table):
    # Arrow's pool keeps the pages of a freed table: after read_table they go back to the system.
    path = tmp_path / "default.parquet"
    wide = pd.concat({f"{c}_{i}": default_table[c] for i in range(12) for c in ("balance", "income")}, axis=1)
    pd.concat([wide] * 4, ignore_index=True).to_parquet(path, index=False)  # 200,000 x 24 floats: 37 MB
    code = ("import psutil, pyarrow.parquet as pq; from mlsmith.data import read_table; p = psutil.Process(); "
            f"pq.read_table({str(path)!r}); before = p.memory_info().rss; frame = read_table({str(path)!r}); "
            "print((p.memory_info().rss - before) / frame.memory_usage(deep=True).sum())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Resident growth over the frame's size: 1.55 when the Arrow table's pages stayed with the pool.
    assert float(done.stdout) < 1.0


def test_workers_get_text_categoricals_as_categories_with_the_same_values(default_table):
    X = default_table.drop(columns="default").assign(note=[f"n{i}" for i in range(len(default_table))])  # a level a row
    compact = compact_categories(X, ["student", "note", "balance"])
    assert compact.dtypes.astype(str).to_dict() == {"student": "category", "balance": "float64", "income": "float64",
                                                    "note": "str"}
    assert compact["student"].astype(object).tolist() == X["student"].astype(object).tolist()
    assert np.shares_memory(compact["balance"].to_numpy(), X["balance"].to_numpy())  # numbers are not copied
    student = pickle.dumps(X[["student"]], protocol=5)
    assert len(pickle.dumps(compact[["student"]], protocol=5)) < len(student) / 4


def test_a_pipeline_fit_on_categories_predicts_what_it_does_on_text():
    titanic = pd.read_csv(DATA / "titanic.csv")
    schema = infer_schema(titanic, "survived")
    X, y = titanic[schema.features()], (titanic["survived"] == "yes").to_numpy(dtype=int)
    compact = compact_categories(X, schema.features("categorical"))
    assert set(compact.dtypes.astype(str)) == {"category"}
    for family in ("linear", "hist_gradient_boosting"):
        on_text = build_pipeline(family, schema, "binary_classification", 0).fit(X, y).predict_proba(X)
        on_categories = build_pipeline(family, schema, "binary_classification", 0).fit(compact, y).predict_proba(X)
        np.testing.assert_array_equal(on_categories, on_text)


def test_predictions_in_blocks_are_the_whole_tables(monkeypatch, default_table):
    schema = infer_schema(default_table, "default")
    X, y = default_table[schema.features()], (default_table["default"] == "Yes").to_numpy(dtype=int)
    model = build_pipeline("linear", schema, "binary_classification", 0).fit(X, y)
    whole = _core.model_outputs(model, X, "binary_classification", 0.3)
    monkeypatch.setattr(_core, "PREDICT_ROWS", 7_000)  # 50,000 rows in 8 blocks, the last one short
    blocks = _core.model_outputs(model, X, "binary_classification", 0.3)
    np.testing.assert_array_equal(blocks[0], whole[0])
    np.testing.assert_allclose(blocks[1], whole[1], rtol=0, atol=1e-15)


class _Seen(Exception):
    pass


def test_the_run_hands_the_fits_a_compact_frame(monkeypatch, tmp_path):
    # The frame stages 5-7 fit on (and pickle to every CV worker): text categoricals as categories.
    seen = {}

    def stop(problem, setup, *args, **kwargs):
        seen["dtypes"] = setup.X.dtypes.astype(str).to_dict()
        raise _Seen

    monkeypatch.setattr(mlsmith.workflow, "_select_and_tune", stop)
    (tmp_path / "problem.yaml").write_text(
        f"target: default\npositive_class: 'Yes'\nmodels: [linear]\ndata: {{path: {DATA / 'Default.csv'}}}\n")
    with pytest.raises(_Seen):
        mlsmith.run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=1)
    assert seen["dtypes"] == {"student": "category", "balance": "float64", "income": "float64"}


def test_bootstrap_blocks_are_bounded_by_the_test_rows(monkeypatch):
    # bootstrap_se draws 20,000 rows a resample from 50,000: the AUC's draw counts are resamples x
    # 50,000, which must stay within BLOCK_CELLS (300 resamples at once held 15 million cells).
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50_000)
    proba = np.clip(y * 0.3 + rng.random(50_000) * 0.7, 0, 1)
    auc = metric_on_resamples("roc_auc", "binary_classification", y, (proba >= 0.5).astype(int), proba)
    cells = []

    def counted(idx):
        cells.append(idx.shape[0] * len(y))
        return auc(idx)

    se = bootstrap_se(counted, len(y), seed=0)
    assert max(cells) <= BLOCK_CELLS and sum(cells) == 300 * len(y)
    assert 0.001 < se < 0.004  # the AUC's spread on 50,000 rows: about sqrt(AUC (1 - AUC) / n) in scale


def test_the_bundle_is_checked_on_a_bounded_sample_of_test_rows(monkeypatch, tmp_path):
    seen = {}
    write_bundle = mlsmith.workflow.write_bundle

    def spy(path, model, schema, metadata, reference, X_test, *args, **kwargs):
        seen["rows"] = len(X_test)
        return write_bundle(path, model, schema, metadata, reference, X_test, *args, **kwargs)

    monkeypatch.setattr(mlsmith.workflow, "write_bundle", spy)
    monkeypatch.setattr(mlsmith.workflow, "CHECK_ROWS", 1_000)
    result = _run_default_linear(tmp_path, n_jobs=1)
    onnx = result.bundle["onnx"]
    assert (seen["rows"], result.split.n_test, onnx["converted"], onnx["n_rows_checked"]) == (1_000, 2_000, True, 1_000)


def test_workers_for_memory_keeps_the_fits_within_a_share_of_what_is_available():
    assert [workers_for_memory(2, fit_bytes=gb * 2**30, available=16 * 2**30) for gb in (2, 5, 9)] == [2, 1, 1]
    assert workers_for_memory(1, fit_bytes=1.0, available=16 * 2**30) == 1


def test_the_evaluation_fits_one_at_a_time_when_two_would_not_fit(monkeypatch, tmp_path):
    # 8,000 training rows, past a threshold lowered for the test, with 1 MB "available": one fit at a time.
    jobs = []
    out_of_fold = mlsmith.workflow.out_of_fold

    def spy(pipeline, setup, *, fit_also=()):
        jobs.append(setup.n_jobs)
        return out_of_fold(pipeline, setup, fit_also=fit_also)

    monkeypatch.setattr(mlsmith.workflow, "out_of_fold", spy)
    monkeypatch.setattr(mlsmith.workflow, "MEMORY_CHECK_ROWS", 1_000)  # the evaluation's; the folds' stay
    monkeypatch.setattr(mlsmith.workflow, "available_memory", lambda: 2**20)
    result = _run_default_linear(tmp_path, n_jobs=2)
    assert jobs == [1]
    assert [n for n in result.notes if n.startswith("evaluation:")] == [
        "evaluation: 1 fit(s) at a time on all 8,000 training rows (about 0.0 GB each; 50% of the 0.0 GB available "
        "is allowed)"]


def test_a_fits_memory_is_estimated_from_its_preprocessings_width(default_table):
    schema = infer_schema(default_table, "default")
    X, y = default_table[schema.features()], (default_table["default"] == "Yes").to_numpy(dtype=int)
    pipeline = build_pipeline("hist_gradient_boosting", schema, "binary_classification", 0)
    width = pipeline[:-1].fit(X, y).transform(X).shape[1]  # on every row, not the sample of 2,000
    row_bytes = X.memory_usage(index=False).sum() / len(X)
    expected = len(X) * (FIT_PEAK_FACTOR * 8 * width + row_bytes)
    assert fit_bytes(pipeline, X, y) == pytest.approx(expected, rel=1e-12)


def test_cross_validation_fits_one_at_a_time_when_two_would_not_fit(monkeypatch, default_table):
    # The comparison's and the searches' folds (fit_folds, fit_many) past MEMORY_CHECK_ROWS rows: the
    # same scores on one worker as on two when "available" memory holds one fit and not two.
    schema = infer_schema(default_table, "default")
    X, y = default_table[schema.features()], (default_table["default"] == "Yes").to_numpy(dtype=int)
    pipeline = build_pipeline("linear", schema, "binary_classification", 0)
    folds = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, y))
    scorers = {"roc_auc": scorer("roc_auc", "binary_classification")}
    workers = []
    real = parallel.Parallel

    def counted(*args, n_jobs=None, **kwargs):
        workers.append(n_jobs)
        return real(*args, n_jobs=n_jobs, **kwargs)

    monkeypatch.setattr(parallel, "Parallel", counted)
    monkeypatch.setattr(_memory, "MEMORY_CHECK_ROWS", 10_000)
    two = fit_folds(pipeline, X, y, folds, scorers, n_jobs=2, seed=0)
    monkeypatch.setattr(_memory, "available_memory", lambda: 1.5 * fit_bytes(pipeline, X, y))
    one = fit_folds(pipeline, X, y, folds, scorers, n_jobs=2, seed=0)
    [many] = fit_many([pipeline], X, y, folds, scorers, n_jobs=2, seed=0)
    assert workers == [2, 1, 1]
    assert [r.test_scores for r in one] == [r.test_scores for r in two] == [r.test_scores for r in many]


def test_the_evaluations_cross_validation_runs_on_a_sample_and_the_model_on_every_row(monkeypatch, tmp_path):
    # 8,000 training rows, past a threshold lowered for the test: the folds (threshold, CV scores) see
    # a class-stratified 2,000, the bundle's model all 8,000; results.json says so.
    seen = {}
    out_of_fold = mlsmith.workflow.out_of_fold

    def spy(pipeline, setup, *, fit_also=()):
        folds, fitted = out_of_fold(pipeline, setup, fit_also=fit_also)
        seen.update(cv_rows=len(setup.X), cv_positives=int(setup.y.sum()), fit_rows=[len(X) for X, _ in fit_also],
                    oof_rows=sum(len(f.test_index) for f in folds), final=fitted[-1])
        return folds, fitted

    monkeypatch.setattr(mlsmith.workflow, "out_of_fold", spy)
    monkeypatch.setattr(mlsmith.workflow, "EVALUATION_CV_ROWS", 2_000)
    result = _run_default_linear(tmp_path, n_jobs=1)
    train_positives = round(8_000 * 333 / 10_000)  # Default: 333 of 10,000 default; the split is stratified
    assert (seen["cv_rows"], seen["oof_rows"], seen["fit_rows"]) == (2_000, 2_000, [8_000])
    assert abs(seen["cv_positives"] - train_positives / 4) <= 1  # stratified: a quarter of the positives
    # The bundle's model is the one fitted on every training row: its imputer's medians are those of the 8,000.
    train = mlsmith.workflow.split_train_test(pd.read_csv(DATA / "Default.csv"), result.problem)[0]
    medians = seen["final"].named_steps["prep"].named_transformers_["num"].named_steps["simpleimputer"].statistics_
    assert medians.tolist() == train[["balance", "income"]].median().tolist()
    assert result.rows_used["evaluation"] == {"train": 8_000, "test": 2_000, "cv": 2_000}
    assert [n for n in result.notes if "out-of-fold" in n] == [
        "evaluation: the cross-validated scores and the decision threshold come from the out-of-fold predictions "
        "of a sample of 2,000 of the 8,000 training rows (stratified by class); the model is fitted on every "
        "training row"]
    assert result.to_dict()["rows_used"]["evaluation"]["cv"] == 2_000


def test_the_evaluations_cross_validation_keeps_every_row_up_to_the_threshold_and_the_latest_past_it():
    from sklearn.model_selection import TimeSeriesSplit

    from mlsmith._experiment import CVSetup

    df = pd.read_csv(DATA / "Default.csv")
    X, y = df[["balance", "income"]], (df["default"] == "Yes").to_numpy().astype(int)
    setup = CVSetup(X=X, y=y, schema=infer_schema(df, "default"), task="binary_classification", metric="roc_auc",
                    cv=TimeSeriesSplit(5), seed=0, n_jobs=1)
    assert mlsmith.workflow._evaluation_cv(setup) is setup  # 10,000 rows: below EVALUATION_CV_ROWS, untouched
    small = mlsmith.workflow.EVALUATION_CV_ROWS
    try:
        mlsmith.workflow.EVALUATION_CV_ROWS = 3_000
        recent = mlsmith.workflow._evaluation_cv(setup)
    finally:
        mlsmith.workflow.EVALUATION_CV_ROWS = small
    assert recent.X.index.tolist() == list(range(7_000, 10_000)) and recent.y.tolist() == y[7_000:].tolist()
