"""A time budget that holds for the whole run (issue 19): each stage starts only when its estimated
cost fits in what is left, the evaluation's cost is reserved up front and its cross-validation
shrinks to fit, and results.json says per stage what was allotted and what it cost."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

import mlsmith
from mlsmith import CVSetup, selection
from mlsmith._budget import BudgetExceeded
from mlsmith.data import infer_schema
from mlsmith.selection import compare_models

from conftest import write_problem

#: The seconds a logistic regression's fit takes a training row more in the whole-run test (see there).
PER_ROW_S = 0.004


def _slowed(fit):
    """``fit`` taking :data:`PER_ROW_S` seconds a training row more: a family whose cost follows its rows,
    as a real one does on a large table, in a test that stays small."""

    def slow_fit(self, X, y, sample_weight=None):
        time.sleep(PER_ROW_S * len(X))
        return fit(self, X, y, sample_weight=sample_weight)

    return slow_fit


def _table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["y"] = np.where(frame["a"] + rng.normal(scale=0.7, size=n) > 0, "yes", "no")
    return frame


def _setup(n: int = 3000) -> CVSetup:
    """A comparison's rows: ``n`` of two columns, one carrying the binary target's signal."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (X["a"] + rng.normal(scale=0.5, size=n) > 0).astype(int).to_numpy()
    return CVSetup(X=X, y=y, schema=infer_schema(X.assign(y=y), "y"), task="binary_classification",
                   metric="roc_auc", cv=StratifiedKFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)


class _Clock:
    """A clock for the comparison: a fold's fit advances it by a cost per row, so that the budget's
    decisions follow from the rows alone, whatever the machine's load."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def _rows_clock(monkeypatch, per_row: float) -> tuple[_Clock, list[int]]:
    """The comparison on a :class:`_Clock` that each cross-validation advances by ``per_row`` seconds a
    row, stopped past its deadline; and the list of the rows each one was given."""
    clock, sizes = _Clock(), []
    real = selection.fit_folds

    def timed(pipeline, X, y, folds, scorers, *, deadline=None, **kwargs):
        sizes.append(len(X))
        clock.now += per_row * len(X)
        if deadline is not None and clock.now > deadline:
            raise BudgetExceeded(0)
        return real(pipeline, X, y, folds, scorers, **kwargs)

    monkeypatch.setattr(selection, "fit_folds", timed)
    monkeypatch.setattr(selection, "time", clock)
    return clock, sizes


def test_a_rung_is_not_started_for_a_family_whose_estimate_exceeds_what_is_left(monkeypatch):
    # 10 ms a row: every family takes 1.8 s on the 180-row rung, so 1.8 x 4^1.25 x 1.5 = 15.3 s is expected
    # on the 720-row rung. Of the 24 s budget, 16.8 s are left there: the first promoted family starts
    # (and takes 7.2 s), then 9.6 s are left and the second one and the dummy are not started. Before, both started and the budget
    # stopped them unfinished (the dummy ran unbounded on every rung: 134 s on 800,000 rows).
    clock, sizes = _rows_clock(monkeypatch, per_row=0.01)
    setup = _setup()
    board = compare_models(setup, models=["linear", "decision_tree", "naive_bayes"], first_rung_rows=180,
                           time_budget_s=24.0)
    rungs = board.budget["rungs"]
    assert sizes == [180] * 4 + [720]  # nothing started that could not finish
    assert clock.now <= 24.0
    promoted = rungs[0]["kept"]
    assert rungs[1]["families"] == [promoted[0]] and board.budget["not_started"][:2] == [promoted[1], "dummy"]
    assert len(rungs) == 3 and rungs[2]["families"] == []  # nothing fitted past the 720-row rung: no time left
    second = next(r for r in board.rows if r.model == promoted[1])
    assert (second.rows, second.stopped_by, second.status) == (180, "comparison budget", "ok")
    assert "not started: about 15 s expected on 720 rows, 10 s of the comparison's time budget left" in second.note
    dummy = next(r for r in board.rows if r.model == "dummy")
    assert dummy.rows == 180 and dummy.cv_mean is not None


def test_a_family_timed_on_two_rungs_is_expected_to_grow_as_it_did(monkeypatch):
    # 10 ms a row, as linear as the fits timed alone (benchmarks/cost_growth.py): 1.8 s on 180 rows, 7.2 s on
    # 720, so 7.2 x 4 x 1.5 = 43.2 s expected on 2,880 rows, where rows^1.25 gave 61.1 s. Of the 80 s budget
    # 51.2 s are left there: the leading family now starts and reaches 2,880 rows; before, nothing did, and
    # the families were judged on 720 rows with a minute of the comparison unused.
    clock, sizes = _rows_clock(monkeypatch, per_row=0.01)
    board = compare_models(_setup(), models=["linear", "decision_tree", "naive_bayes"], first_rung_rows=180,
                           time_budget_s=80.0)
    assert sizes == [180] * 4 + [720] * 3 + [2880]
    assert board.best.rows == 2880 and clock.now <= 80.0
    assert [r["rows"] for r in board.budget["rungs"]] == [180, 720, 2880, 3000]


@pytest.mark.parametrize("first_rung_rows", [180, None])  # successive halving, or one rung of every row
def test_on_the_first_rung_a_family_is_stopped_at_its_share_of_the_comparisons_budget(monkeypatch, first_rung_rows):
    # Naive Bayes stands for the kernel SVM of the 1M-row benchmark, which took 95-127 s of a 190 s first
    # rung: here it costs 0.5 s a row, 90 s on the 180-row rung, 1,500 s on 3,000 rows. Of the 90 s
    # budget each of the three families gets 30 s on the first rung (the dummy, next to free, is not
    # bounded). Before, it ran until the comparison's budget was spent: nothing went on to more rows and
    # the dummy was not started.
    clock, costs = _Clock(), {"GaussianNB": 0.5}
    real = selection.fit_folds

    def timed(pipeline, X, y, folds, scorers, *, deadline=None, **kwargs):
        cost = costs.get(type(pipeline[-1]).__name__, 0.002) * len(X)
        if deadline is not None and clock.now + cost > deadline:
            clock.now = max(clock.now, deadline)  # the work still running at the deadline is stopped there
            raise BudgetExceeded(0)
        clock.now += cost
        return real(pipeline, X, y, folds, scorers, **kwargs)

    monkeypatch.setattr(selection, "fit_folds", timed)
    monkeypatch.setattr(selection, "time", clock)
    setup = _setup()
    board = compare_models(setup, models=["linear", "decision_tree", "naive_bayes"], first_rung_rows=first_rung_rows,
                           time_budget_s=90.0)
    rows = {r.model: r for r in board.rows}
    first = 180 if first_rung_rows else 3000
    assert board.budget["family_share_s"] == 30.0
    slow = rows["naive_bayes"]
    assert (slow.status, slow.stopped_by, slow.rows, slow.cv_mean) == ("over budget", "family share", first, None)
    assert slow.wall_time_s == 30.0
    assert slow.note == (f"stopped after 30.0 s, its share of the comparison's 90 s time budget (1/3: one share "
                         f"for each family but the dummy compared on these {first:,} rows; 0/3 folds done)")
    assert all(rows[name].stopped_by is None and rows[name].cv_mean is not None
               for name in ("linear", "decision_tree", "dummy"))
    assert board.best.rows == 3000 and "not_started" not in board.budget
    if first_rung_rows:
        assert [r["rows"] for r in board.budget["rungs"]] == [180, 720, 2880, 3000]
        assert board.budget["rungs"][0]["kept"] == [r.model for r in board.rows[:2]]
    assert clock.now < 90.0


def test_later_rungs_and_a_comparison_without_budget_give_no_family_a_share(monkeypatch):
    # The share bounds the first rung only: the families promoted past it are the ones worth more rows,
    # bounded by the estimate of each one's cost there (see the test above it).
    setup = _setup()
    shares: list = []
    real = selection._family_share
    monkeypatch.setattr(selection, "_family_share", lambda *args: shares.append(args) or real(*args))
    board = compare_models(setup, models=["linear", "naive_bayes"], first_rung_rows=180, time_budget_s=600.0)
    assert [args[1] for args in shares] == [2] and board.budget["family_share_s"] == 300.0
    unbudgeted = compare_models(setup, models=["linear", "naive_bayes"], first_rung_rows=180)
    assert "family_share_s" not in unbudgeted.budget and all(r.stopped_by is None for r in unbudgeted.rows)


@pytest.mark.slow
def test_a_run_holds_its_budget_when_the_evaluation_alone_would_overrun_it(tmp_path, monkeypatch):
    # Rungs of 300, 1,200 and every row (3,000) and a family that fits at 4 ms a row: its cross-validation
    # on every row costs 24 s and its final fit 12 s. Before, the evaluation was not bounded: it
    # cross-validated on every row after a comparison that had spent its share, and the run took about
    # 60 s of a 40 s budget. Now its cost is reserved and its cross-validation shrinks to fit.
    from mlsmith import _budget

    monkeypatch.setattr(selection, "FIRST_RUNG_ROWS", 300)
    monkeypatch.setattr(_budget, "EVALUATION_MIN_CV_ROWS", 300)
    monkeypatch.setattr(_budget, "EVALUATION_MIN_FIT_ROWS", 300)
    monkeypatch.setattr(LogisticRegression, "fit", _slowed(LogisticRegression.fit))  # n_jobs=1: every fit is here
    spec = write_problem(tmp_path, _table(3750, 3), target="y", positive_class="yes", split={"cv_folds": 3},
                         models=["linear"], features="none", constraints={"time_budget_s": 40},
                         tuning={"method": "none", "learning_curve": False})
    began = time.perf_counter()
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    took = time.perf_counter() - began
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert result.bundle["model"] == "linear"
    assert sum(saved["timings_s"].values()) <= 40 * 1.1 + 3 and took <= 40 * 1.1 + 5
    budget = saved["budget"]
    assert budget["seconds"] == 40 and set(budget["stages"]) >= set(saved["timings_s"])
    evaluation = budget["stages"]["evaluation"]
    assert evaluation["allotted_s"] < 40 and evaluation["estimate_s"] > 0
    assert evaluation["spent_s"] == pytest.approx(saved["timings_s"]["evaluation"], abs=0.1)
    assert budget["stages"]["selection"]["allotted_s"] < 20
    used, n_train = saved["rows_used"]["evaluation"], saved["split"]["n_train"]
    assert used["cv"] == 300 and 300 <= used["fit"] < n_train  # the CV at its floor was not enough
    assert f"time budget: evaluation: cross-validated on 300 rows instead of {n_train:,} and the model fitted on " \
           f"{used['fit']:,} of the {n_train:,} training rows, not all of them, to fit the " in " ".join(saved["notes"])
    assert result.bundle and json.loads((result.run_dir / "model" / "metadata.json").read_text())["n_train"] == \
        used["fit"]


def test_the_comparison_counts_its_families_and_says_each_ones_score_and_seconds():
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    setup = CVSetup(X=X, y=y, schema=infer_schema(frame, "target"), task="binary_classification", metric="roc_auc",
                    cv=StratifiedKFold(3, shuffle=True, random_state=0), seed=0, n_jobs=1)
    for budget in (None, 600.0):  # every fold queued at once, or family by family under a budget
        said: list = []
        compare_models(setup, models=["linear", "naive_bayes"], time_budget_s=budget, progress=said.append)
        assert all(step.total == 3 for step in said)  # two families and the dummy
        done = [step for step in said if " (3 folds, " in step]
        assert [step.done for step in done] == [1, 2, 3]
        assert done[0].startswith("Logistic / Ridge regression: roc_auc 0.99")


@pytest.mark.slow
def test_off_a_terminal_the_run_prints_a_line_per_stage_and_per_family_with_their_seconds(tmp_path, capsys):
    # Before, a log or CI got each stage's and family's name as it started, and no seconds or scores.
    import re

    from sklearn.datasets import load_breast_cancer

    from conftest import cli

    spec = write_problem(tmp_path, load_breast_cancer(as_frame=True).frame, target="target",
                         models=["linear", "naive_bayes"], features="none", constraints={"time_budget_s": 600},
                         tuning={"method": "none", "learning_curve": False})
    code, out, err = cli(capsys, "run", spec, "--runs-dir", tmp_path / "runs", "--jobs", "1")
    assert code == 0, err
    lines = out.splitlines()
    family = r"\[ *[0-9.]+s\] 5/7 model comparison: Logistic / Ridge regression: roc_auc 0\.99\d\d ± 0\.0\d{3} " \
             r"\(5 folds, [0-9.]+ s\)$"
    assert sum(bool(re.match(family, line)) for line in lines) == 1
    assert sum(" 5/7 model comparison: Naive Bayes (Gaussian): roc_auc " in line for line in lines) == 1
    for stage in ("quality", "eda", "guards", "selection", "evaluation", "bundle"):
        stage_line = rf"\[ *[0-9.]+s\] {stage} took [0-9.]+ s \(\d+ s of the 600 s time budget left\)$"
        assert sum(bool(re.match(stage_line, line)) for line in lines) == 1, stage


@pytest.mark.slow
def test_tunings_deadline_leaves_out_the_defaults_cross_validation_it_waited_for(tmp_path, monkeypatch):
    # On a sample (rungs of 300 and 1,200 rows below the 3,000 training rows) tuning first scores the
    # defaults on the search's rows, here 30 s on a clock that only this and the search move. Its deadline
    # must be what is left after that: the search (which runs to its deadline here) then ends where the
    # evaluation's reserve begins, and the run within its budget. Set before that cross-validation (as
    # before ae8ae2c), it ran 30 s into the reserve: the evaluation started with no time left, the run
    # ended 30 s past its 100 s.
    from mlsmith import _budget, workflow

    clock, defaults_s, deadlines = _Clock(), 30.0, []
    real_cv_score, real_tune = workflow.cv_score, workflow.tune

    def slow_cv_score(pipeline, setup):
        clock.now += defaults_s
        return real_cv_score(pipeline, setup)

    def tune_to_deadline(*args, timeout_s=None, **kwargs):
        deadlines.append(timeout_s)
        out = real_tune(*args, timeout_s=timeout_s, **kwargs)
        clock.now += timeout_s
        return out

    for module in (_budget, workflow):
        monkeypatch.setattr(module, "time", clock)
    monkeypatch.setattr(workflow, "cv_score", slow_cv_score)
    monkeypatch.setattr(workflow, "tune", tune_to_deadline)
    monkeypatch.setattr(selection, "FIRST_RUNG_ROWS", 300)
    spec = write_problem(tmp_path, _table(3750, 3), target="y", positive_class="yes", split={"cv_folds": 3},
                         models=["linear"], features="none", constraints={"time_budget_s": 100},
                         tuning={"method": "random", "n_trials": 2, "learning_curve": False})
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved["rows_used"]["tuning"] == 1200 and len(deadlines) == 1
    stages = saved["budget"]["stages"]
    # Every other stage took no time on this clock: the defaults' CV and the search are the tuning stage.
    assert stages["tuning"]["spent_s"] == pytest.approx(defaults_s + deadlines[0], abs=0.1)
    assert stages["tuning"]["allotted_s"] == pytest.approx(deadlines[0], abs=0.1)
    evaluation = stages["evaluation"]
    assert evaluation["allotted_s"] >= evaluation["estimate_s"] - 0.1  # its reserve was left whole
    assert deadlines[0] == pytest.approx(100 - defaults_s - evaluation["estimate_s"], abs=0.2)
    assert saved["budget"]["spent_s"] <= 100.0


def test_the_evaluations_cost_is_rebased_on_a_fit_on_more_rows_before_it_is_carried_far():
    # The comparison timed the family's folds on 100 of 2,000 rows (0.5 s, as a small rung's fixed costs
    # make it): carried as rows^1.25 to every row that is 21 s. One fit on 500 rows (8 x 100, at most a
    # quarter of the rows) is timed instead, and the cost grows from there.
    from mlsmith._budget import EvaluationCost, RunBudget
    from mlsmith.pipeline import build_pipeline
    from mlsmith.workflow import _calibrated

    setup = _setup(2000)
    costs = EvaluationCost(fit_s=0.5, fit_rows=100, predict_s=0.01, predict_rows=100, n_folds=3, train_share=2 / 3,
                           n_train=2000, n_test=500, refit=False, n_predicted=3000, workers=1, fixed_s=0.0)
    pipeline = build_pipeline("linear", setup.schema, setup.task, 0)
    budget = RunBudget(600.0)
    rebased, rows = _calibrated(costs, pipeline, setup, budget)
    assert rows == 500 and rebased.fit_rows == 500 and 0 < rebased.fit_s < 0.5 and rebased.growth >= 1.0
    assert rebased.seconds(2000) < costs.seconds(2000)
    assert budget.stages["cost_calibration"] == {"allotted_s": 60.0, "estimate_s": round(0.5 * 5 ** 1.25 * 1.5, 1)}
    # No budget, a table the folds were timed on most of, or no time for the fit: nothing is fitted.
    assert _calibrated(costs, pipeline, setup, RunBudget(None)) == (costs, 0)
    assert _calibrated(replace(costs, fit_rows=1600), pipeline, setup, RunBudget(600.0)) == (replace(costs, fit_rows=1600), 0)
    assert _calibrated(costs, pipeline, setup, RunBudget(5.0)) == (costs, 0)  # 2.4 s on 200 rows, 0.5 s allowed
    # Less time: the fit is made on fewer rows (250, halved from 500: 2.4 s expected, 3 s allowed).
    budget = RunBudget(30.0)
    rebased, rows = _calibrated(costs, pipeline, setup, budget)
    assert rows == 250 and rebased.fit_rows == 250 and budget.stages["cost_calibration"]["allotted_s"] == 3.0
