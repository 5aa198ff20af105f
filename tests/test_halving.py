"""Successive halving over rows in the model comparison (issue 19): on a large table every family is
first compared on a sample, and only the best go on to more rows."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

from mlsmith import CVSetup
from mlsmith.data import infer_schema
from mlsmith.selection import _rung_sizes, compare_models
from mlsmith.split import sample_rows

FAMILIES = ["linear", "decision_tree", "naive_bayes", "knn", "random_forest"]
CV = StratifiedKFold(3, shuffle=True, random_state=0)


def setup(X, y) -> CVSetup:
    return CVSetup(X=X, y=y, schema=infer_schema(X.assign(y=y), "y"), task="binary_classification",
                   metric="roc_auc", cv=CV, seed=42, n_jobs=1)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.uniform(size=n)})
    y = (X["a"] + 0.5 * X["b"] ** 2 + rng.normal(scale=0.5, size=n) > 0.5).astype(int).to_numpy()
    return X, y


def test_the_rungs_grow_by_four_and_end_on_every_row():
    assert _rung_sizes(262_346, 20_000) == [20_000, 80_000, 262_346]
    assert _rung_sizes(80_000, 20_000) == [80_000] and _rung_sizes(500, 20_000) == [500]


def test_only_the_best_third_of_the_families_reaches_every_row(table):
    X, y = table
    board = compare_models(setup(X, y), models=FAMILIES, first_rung_rows=180)
    rungs = board.budget["rungs"]
    assert [r["rows"] for r in rungs] == [180, 720, 2880, 3000]
    assert len(rungs[0]["kept"]) == 2 and set(rungs[1]["families"]) == {*rungs[0]["kept"], "dummy"}
    rows = {r.model: r for r in board.rows}
    assert set(FAMILIES) | {"dummy"} == set(rows)
    assert board.best.rows == 3000 and board.best.model in rungs[-2]["kept"]
    dropped = [r for r in board.rows if r.rows < 3000]
    assert dropped and all(r.status == "stopped early" and f"behind at {r.rows:,} rows" in r.note for r in dropped)
    assert all(r.rows == 3000 for r in board.rows[:3])  # the families on every row rank first
    assert rows["dummy"].rows == 3000


def test_a_rung_of_time_ordered_rows_is_the_most_recent_and_of_groups_whole_groups(table):
    X, y = table
    assert sample_rows(3000, 500, y, "binary_classification", TimeSeriesSplit(3), None, 0).tolist() == \
        list(range(2500, 3000))
    groups = np.repeat(np.arange(300), 10)
    picked = sample_rows(3000, 500, y, "binary_classification", KFold(3), groups, 0)
    assert 500 <= len(picked) <= 510 and pd.Series(groups[picked]).value_counts().eq(10).all()
    stratified = sample_rows(3000, 500, y, "binary_classification", KFold(3), None, 0)
    assert len(stratified) == 500 and abs(y[stratified].mean() - y.mean()) < 0.01
    assert np.all(np.diff(stratified) > 0)


def test_a_table_below_two_rungs_is_compared_on_every_row_as_before(table):
    X, y = table
    once = compare_models(setup(X, y), models=["linear", "decision_tree"])
    assert "rungs" not in once.budget and {r.rows for r in once.rows} == {3000}
    again = compare_models(setup(X, y), models=["linear", "decision_tree"], first_rung_rows=1000)
    assert [(r.model, r.cv_mean) for r in again.rows] == [(r.model, r.cv_mean) for r in once.rows]


def test_a_family_the_recommender_caps_at_a_rungs_size_stops_there_and_says_why(table, monkeypatch):
    from mlsmith import recommender

    monkeypatch.setattr(recommender, "LARGE_N", 500)  # k-NN scans every row per prediction: left out above it
    X, y = table
    board = compare_models(setup(X, y), models=["knn", "linear"], first_rung_rows=180)
    knn = next(r for r in board.rows if r.model == "knn")
    assert (knn.status, knn.rows) == ("capped", 180) and knn.cv_mean is not None
    assert knn.note.startswith("not fitted on more than 180 rows: 720 training rows > 500")
    assert board.best.model == "linear" and board.best.rows == 3000


def test_a_run_on_a_large_table_searches_on_a_sample_and_fits_the_choice_on_every_row(tmp_path, monkeypatch):
    import json

    import mlsmith
    from mlsmith import selection

    from conftest import write_problem

    monkeypatch.setattr(selection, "FIRST_RUNG_ROWS", 300)  # 3,000 rows count as large: rungs 300, 1,200, all
    rng = np.random.default_rng(3)
    n = 3750
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = np.where(frame["a"] + rng.normal(scale=0.7, size=n) > 0, "yes", "no")
    spec = write_problem(tmp_path, frame, target="y", positive_class="yes", split={"cv_folds": 3},
                         models=["linear", "decision_tree", "naive_bayes"],
                         tuning={"method": "random", "n_trials": 2, "learning_curve": True})
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    saved = json.loads((result.run_dir / "results.json").read_text())
    n_train = saved["split"]["n_train"]
    assert [r["rows"] for r in saved["leaderboard_meta"]["budget"]["rungs"]] == [300, 1200, n_train]
    assert saved["tuning"]["rows"] == 1200 and result.tuning.learning_curve.train_sizes[-1] < 1200
    used = saved["rows_used"]
    assert used["selection"] == [300, 1200, n_train] and used["tuning"] == used["features"] == 1200
    assert used["evaluation"] == {"train": n_train, "test": saved["split"]["n_test"]} and used["quality"] == n_train
    assert set(used) >= set(saved["timings_s"]) - {"report"}
    assert any("on a sample of 1,200 of the" in note for note in saved["features"]["notes"])
    assert result.bundle["model"] == result.leaderboard.best.model and result.leaderboard.best.rows == n_train
    page = (result.run_dir / "report.html").read_text()
    assert "Successive halving over rows: 300 rows" in page and "a sample of 1,200 of the" in page


def test_a_budget_spent_on_the_last_rung_judges_the_families_on_the_rows_they_finished(table, monkeypatch):
    # The fits on every row run out of time (as on a 10M-row table): the families promoted to that rung
    # are judged on the largest sample they finished, never the dummy that alone finished every row.
    from mlsmith import selection
    from mlsmith._budget import BudgetExceeded

    X, y = table
    real = selection.fit_folds

    def slow_on_every_row(pipeline, X_, *args, **kwargs):
        if len(X_) == len(X) and kwargs.get("deadline") is not None:
            raise BudgetExceeded(0)
        return real(pipeline, X_, *args, **kwargs)

    monkeypatch.setattr(selection, "fit_folds", slow_on_every_row)
    board = compare_models(setup(X, y), models=FAMILIES, first_rung_rows=180, time_budget_s=600)
    rungs = board.budget["rungs"]
    assert board.best.model != "dummy" and board.best.model in rungs[-2]["kept"]
    assert board.best.rows == 2880 and board.best.status == "ok"
    assert "the comparison's time budget ran out on the 3,000-row rung" in board.best.note
    assert [r.model for r in board.rows].count(board.best.model) == 1
    # Recognised by the row's field, not its wording: every family promoted to the last rung, and only those,
    # with the dummy, which past the first rung the budget bounds like the others.
    assert {r.model for r in board.rows if r.stopped_by == "comparison budget"} == {*rungs[-2]["kept"], "dummy"}
    assert board.best.to_dict()["stopped_by"] == "comparison budget"
    assert "stopped_by" in board.to_frame().columns


def test_the_family_chosen_is_listed_first_when_only_the_dummy_finished_every_row(table, monkeypatch):
    # The 10M-row run: the dummy (fast) finished the last rung, linear ran out of time on it and was chosen
    # on the rung it finished; the leaderboard listed the dummy first, so "best" read differently by row order.
    from sklearn.dummy import DummyClassifier

    from mlsmith import selection
    from mlsmith._budget import BudgetExceeded

    X, y = table
    real = selection.fit_folds

    def slow_on_every_row_but_the_dummy(pipeline, X_, *args, **kwargs):
        if len(X_) == len(X) and not isinstance(pipeline[-1], DummyClassifier):
            raise BudgetExceeded(0)
        return real(pipeline, X_, *args, **kwargs)

    monkeypatch.setattr(selection, "fit_folds", slow_on_every_row_but_the_dummy)
    board = compare_models(setup(X, y), models=FAMILIES, first_rung_rows=180, time_budget_s=600)
    dummy = next(r for r in board.rows if r.model == "dummy")
    assert dummy.rows == len(X) and board.best.model != "dummy"
    assert board.rows[0] is board.best and board.to_frame()["model"].iloc[0] == board.best.model


def test_the_budget_stop_is_read_from_the_row_and_the_board_not_from_their_wording():
    from mlsmith.selection import Leaderboard, LeaderboardRow, _out_of_time

    worded = LeaderboardRow("linear", "Linear", None, None, None, 0.0, 0.0, status="over budget",
                            note="stopped at the comparison time budget of 5 s (1/3 folds done)")
    marked = LeaderboardRow("knn", "k-NN", None, None, None, 0.0, 0.0, status="over budget", note="",
                            stopped_by="comparison budget")
    own = LeaderboardRow("svm", "SVM", None, None, None, 0.0, 0.0, status="over budget", stopped_by="family budget")
    board = Leaderboard("roc_auc", True, "KFold(n_splits=3)", [worded, marked, own],
                        skipped={"random_forest": "the comparison's time budget of 5 s was spent before it started",
                                 "lightgbm": "not installed"}, budget={"not_started": ["random_forest"]})
    assert [name for name in ("linear", "knn", "svm", "random_forest", "lightgbm") if _out_of_time(board, name)] == \
        ["knn", "random_forest"]
