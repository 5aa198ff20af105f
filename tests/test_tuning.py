import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.model_selection import KFold, ParameterSampler, StratifiedKFold, cross_val_score, learning_curve

from mlsmith import CVSetup
from mlsmith._cluster import compute_backend
from mlsmith.data import infer_schema
from mlsmith.exceptions import ProblemSpecError
from mlsmith.pipeline import build_pipeline
from mlsmith.tuning import LearningCurve, _search, grid_points, learning_curves, parse_space, tune
from mlsmith.tuning._curves import diagnose

CV = StratifiedKFold(3, shuffle=True, random_state=0)


def setup(X, y, schema, seed: int, n_jobs: int = 1, cv=CV) -> CVSetup:
    return CVSetup(X=X, y=y, schema=schema, task="binary_classification", metric="roc_auc", cv=cv, seed=seed,
                   n_jobs=n_jobs)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=200, n_features=6, n_informative=3, random_state=2)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(6)]).assign(y=y)
    schema = infer_schema(df, "y")
    return df[schema.features()], y, schema


def _tune(data, family="decision_tree", seed=3, n_jobs=1, **kw):
    X, y, schema = data
    pipe = build_pipeline(family, schema, "binary_classification", 0)
    kw = {"n_trials": 4, "method": "bayes", **kw}
    return tune(pipe, family, setup(X, y, schema, seed, n_jobs), default_score=0.5, **kw)


def test_a_budget_in_trials_is_deterministic(data):
    _, first = _tune(data)
    _, again = _tune(data)
    _, other = _tune(data, seed=4)
    assert first.trials == again.trials and first.best_params == again.best_params
    assert [t["params"] for t in first.trials] != [t["params"] for t in other.trials]
    assert first.trials_done + first.trials_pruned == 4
    assert first.seed == 3 and first.method == "bayes"


def test_random_search_tries_sklearn_candidates_and_scores_them_like_sklearn(data):
    X, y, schema = data
    chosen, res = _tune(data, method="random", n_trials=4, space={"max_depth": randint(2, 8)})
    expected = list(ParameterSampler({"max_depth": randint(2, 8)}, n_iter=4, random_state=3))
    assert [t["params"] for t in res.trials] == expected
    for trial in res.trials:
        pipe = build_pipeline("decision_tree", schema, "binary_classification", 0).set_params(
            model__max_depth=trial["params"]["max_depth"])
        assert trial["score"] == pytest.approx(cross_val_score(pipe, X, y, cv=CV, scoring="roc_auc").mean())
    assert res.best_score == max(t["score"] for t in res.trials)
    assert res.gain == pytest.approx(res.best_score - 0.5)
    assert res.kept == "tuned" and chosen.get_params()["model__max_depth"] == res.best_params["max_depth"]


def test_tuning_that_does_not_beat_the_defaults_keeps_them(data):
    chosen, res = _tune(data, method="grid", n_trials=2, space={"max_depth": [1, 2]})
    _, res_high = _tune(data, method="grid", n_trials=2, space={"max_depth": [1, 2]})
    assert res.trials == res_high.trials and [t["params"]["max_depth"] for t in res.trials] == [1, 2]
    X, y, schema = data
    pipe = build_pipeline("decision_tree", schema, "binary_classification", 0)
    _, kept = tune(pipe, "decision_tree", setup(X, y, schema, 42), default_score=1.0, method="grid", n_trials=2,
                   space={"max_depth": [1, 2]})
    assert kept.kept == "default: tuning did not beat it" and kept.gain < 0


def test_a_budget_in_seconds_records_what_it_allowed(data):
    _, res = _tune(data, method="random", n_trials=None, timeout_s=1e-9)
    assert res.trials_done == 0
    assert res.budget_note.startswith("1e-09 s allowed 0 trials (0 pruned)")
    assert res.budget_note.endswith("Set 'tuning: {n_trials: 0}' to repeat exactly this work.")
    assert res.kept == "default: no trial completed"


def test_a_budget_in_seconds_starts_no_trial_it_could_not_finish(data, monkeypatch):
    # Each trial takes a little over 1 s; 2.5 s allow two, and a third, started at about 2.2 s, would
    # be stopped at 2.5 s (its work lost, and the workers with it): it is not started.
    # A trial's cost is a fixed 1 s, whatever the machine's load: the first fit is real (inside its
    # second), the later ones return its outcome.
    real, first = _search.fit_folds, []

    def slow_fit_folds(*args, **kwargs):
        began = time.perf_counter()
        if not first:
            first.append(real(*args, **kwargs))
        time.sleep(max(0.0, 1.0 - (time.perf_counter() - began)))
        return first[0]

    monkeypatch.setattr(_search, "fit_folds", slow_fit_folds)
    start = time.perf_counter()
    _, res = _tune(data, method="random", n_trials=None, timeout_s=2.5)
    assert time.perf_counter() - start < 2.5
    assert res.trials_done == 2 and res.trials_pruned == 0
    assert re.search(r"no trial started in the last 0\.\d s, less than a trial's mean 1\.\d s", res.budget_note)


@pytest.fixture(scope="module")
def cancer():
    df = load_breast_cancer(as_frame=True).frame
    schema = infer_schema(df, "target")
    return df[schema.features()], df["target"].to_numpy(), schema


def _tune_cancer(cancer, monkeypatch, batches: bool, cheap_fold_s: float = _search.CHEAP_FOLD_S, seed=1, n_jobs=2,
                 **kw):
    """Tune a decision tree on breast cancer, in batches or one trial at a time in rounds (as before batches)."""
    monkeypatch.setattr(_search, "_BATCHES", batches)
    monkeypatch.setattr(_search, "CHEAP_FOLD_S", cheap_fold_s)
    X, y, schema = cancer
    pipe = build_pipeline("decision_tree", schema, "binary_classification", 0)
    kw = {"n_trials": 20, "method": "bayes", **kw}
    return tune(pipe, "decision_tree", setup(X, y, schema, seed, n_jobs, StratifiedKFold(5, shuffle=True, random_state=0)),
                default_score=0.5, **kw)


@pytest.mark.parametrize("method, cheap_fold_s", [
    ("bayes", float("inf")),  # folds taken as cheap: TPE's start-up in one batch, then whole trials
    ("bayes", 0.0),  # folds taken as expensive: unprunable start-up trials in a batch, then rounds
    ("random", _search.CHEAP_FOLD_S),
    ("grid", _search.CHEAP_FOLD_S),
])
def test_batched_trials_find_exactly_what_one_at_a_time_found(cancer, monkeypatch, method, cheap_fold_s):
    batched_pipe, batched = _tune_cancer(cancer, monkeypatch, True, cheap_fold_s, method=method)
    single_pipe, single = _tune_cancer(cancer, monkeypatch, False, method=method)
    assert batched.to_dict() == single.to_dict()  # params, scores, states, winner, counts
    assert batched_pipe.get_params()["model__max_depth"] == single_pipe.get_params()["model__max_depth"]
    assert len(batched.trials) == batched.trials_done + batched.trials_pruned
    if method == "bayes":  # past TPE's 6 start-up trials, with trials pruned at different folds
        assert len(batched.trials) == 20 and batched.trials_pruned >= 5
        assert "complete" in [t["state"] for t in batched.trials[6:]]


def test_failed_trials_are_recorded_and_extend_tpe_start_up_alike_in_batches(cancer, monkeypatch):
    # A negative min_samples_leaf cannot fit. Failed trials do not count towards TPE's start-up,
    # so the batches must go on asking random trials until 6 have completed or been pruned.
    space = {"max_depth": randint(2, 16), "min_samples_leaf": [-1, 1, 5, 20, 50]}
    _, batched = _tune_cancer(cancer, monkeypatch, True, float("inf"), space=space)
    # In this process: on workers, each failed fit_folds restarts them (seconds each).
    _, single = _tune_cancer(cancer, monkeypatch, False, space=space, n_jobs=1)
    assert batched.to_dict() == single.to_dict()
    states = [t["state"] for t in batched.trials]
    assert states[:6].count("failed: InvalidParameterError") >= 2 and batched.trials_pruned >= 1
    assert all(t["params"]["min_samples_leaf"] == -1 for t in batched.trials if t["state"].startswith("failed"))


@pytest.mark.parametrize("method, n_trials, batched_calls", [
    ("random", 15, 1),  # every trial in one dispatch
    ("grid", 15, 1),
    ("bayes", 12, 1 + 8),  # TPE's 4 start-up trials in one dispatch, then one per trial
])
def test_batches_cut_the_joblib_dispatches(data, monkeypatch, method, n_trials, batched_calls):
    import joblib

    from mlsmith import parallel

    calls = []

    class Counted(joblib.Parallel):  # the fits' dispatches (not the pipelines' own, in process)
        def __call__(self, jobs):
            calls.append(1)
            return super().__call__(jobs)

    monkeypatch.setattr(parallel, "Parallel", Counted)
    monkeypatch.setattr(_search, "CHEAP_FOLD_S", float("inf"))
    _, batched = _tune(data, method=method, n_trials=n_trials)
    n_batched = len(calls)
    monkeypatch.setattr(_search, "_BATCHES", False)
    _, single = _tune(data, method=method, n_trials=n_trials)
    assert batched.trials == single.trials
    assert n_batched == batched_calls
    # One at a time on one worker, every fold fitted was a dispatch of its own.
    folds = [int(t["state"].split()[2]) if t["state"].startswith("pruned") else 3 for t in single.trials]
    assert len(calls) - n_batched == sum(folds) > 3 * batched_calls


def test_fit_many_stops_each_pipeline_where_after_fold_says():
    from sklearn.dummy import DummyRegressor

    from mlsmith.metrics import scorer
    from mlsmith.parallel import fit_many

    class FailsOnFold3(DummyRegressor):
        def fit(self, X, y):
            if X["x"].iloc[-1] == 14.0:  # the training rows of fold 3 of KFold(4), the only fold without 19
                raise ValueError("fold 3")
            return super().fit(X, y)

    X = pd.DataFrame({"x": np.arange(20.0)})
    y = X["x"].to_numpy()
    folds = list(KFold(4).split(X))
    scorers = {"r2": scorer("r2", "regression")}
    seen = []
    out = fit_many([FailsOnFold3(), FailsOnFold3(), DummyRegressor()], X, y, folds, scorers, n_jobs=1,
                   after_fold=lambda fold, res: seen.append(fold) or len(seen) == 2, seed=0)
    stopped, failed, last = list(out)
    assert len(stopped) == 2  # stopped after fold 1: fold 3's exception is dropped with it
    assert isinstance(failed, ValueError)  # reached fold 3
    assert len(last) == 4 and seen == [0, 1, 0, 1, 2, 0, 1, 2, 3]
    assert isinstance(next(fit_many([FailsOnFold3()], X, y, folds, scorers, n_jobs=1, seed=0)), ValueError)


def test_search_spaces_from_yaml():
    space = parse_space("lightgbm", {"num_leaves": {"int": [8, 64]}, "learning_rate": {"float": [0.01, 0.3], "log": True},
                                     "boosting_type": ["gbdt", "dart"]})
    assert space["num_leaves"].support() == (8, 64)
    assert space["boosting_type"] == ["gbdt", "dart"]
    assert len(grid_points(space, 20)) == 3 * 3 * 2  # two ranges at 3 levels, two choices
    assert len(grid_points(space, 5)) == 5
    with pytest.raises(ProblemSpecError, match=r"tuning.spaces.lightgbm.num_leaves must be a list of choices or a range"):
        parse_space("lightgbm", {"num_leaves": {"int": [64, 8]}})
    with pytest.raises(ProblemSpecError, match=r"a log scale needs a float range with low > 0"):
        parse_space("linear", {"C": {"float": [0, 1], "log": True}})


def test_learning_curves_equal_sklearn(data):
    X, y, schema = data
    pipe = build_pipeline("linear", schema, "binary_classification", 0)
    folds = list(CV.split(X, y))
    lc = learning_curves(pipe, setup(X, y, schema, 4), reference=0.5, n_sizes=3)
    sizes, train, val = learning_curve(pipe, X, y, cv=folds, scoring="roc_auc", train_sizes=np.linspace(0.2, 1, 3),
                                       shuffle=True, random_state=4)
    assert lc.train_sizes == sizes.tolist()
    assert lc.val_mean == pytest.approx(val.mean(axis=1).tolist(), abs=1e-6)
    assert lc.train_mean == pytest.approx(train.mean(axis=1).tolist(), abs=1e-6)
    assert lc.diagnosis in ("good fit", "overfitting", "underfitting", "validation plateaus early")


@pytest.mark.parametrize("train, val, diagnosis", [
    ([1.0, 1.0, 1.0], [0.70, 0.75, 0.80], "overfitting"),  # train high, val low, large gap
    ([0.60, 0.62, 0.62], [0.58, 0.60, 0.61], "underfitting"),  # both low (skill 0.24 / 0.22)
    ([0.82, 0.82, 0.82], [0.78, 0.79, 0.79], "validation plateaus early"),  # skill 0.64 / 0.58, flat
    ([0.97, 0.96, 0.96], [0.92, 0.93, 0.94], "good fit"),  # both high, small gap
])
def test_diagnosis_follows_the_classic_table(train, val, diagnosis):
    curve = LearningCurve("roc_auc", True, [50, 100, 150], train, [0] * 3, val, [0] * 3, 0.5, "", "", "")
    assert diagnose(curve)[0] == diagnosis


def test_dask_cluster_gives_the_local_result(data):
    X, y, schema = data
    _, local = _tune(data, family="linear", n_trials=3, space={"C": loguniform(1e-2, 10)})
    with compute_backend("local") as where:
        assert where.startswith("dask (local")
        _, dask = _tune(data, family="linear", n_trials=3, space={"C": loguniform(1e-2, 10)}, n_jobs=-1)
    assert dask.trials == local.trials and dask.best_params == local.best_params


def test_bad_cluster_address_is_a_user_error():
    from mlsmith.exceptions import MlsmithError

    with pytest.raises(MlsmithError, match="--cluster must be 'local', 'local:N' or a scheduler address like tcp://host:8786; got 'nowhere'"):
        with compute_backend("nowhere"):
            pass


def test_run_records_tuning_curves_recommendation_and_versions(tmp_path, data):
    import json

    import yaml

    from mlsmith.cli import main
    from mlsmith.workflow import run

    X, y, _ = data
    X.assign(y=y).to_csv(tmp_path / "d.csv", index=False)
    spec = {"target": "y", "data": {"path": "d.csv"}, "success_metric": "roc_auc", "models": ["linear"],
            "split": {"cv_folds": 3}, "constraints": {"family_time_budget_s": 600},
            "tuning": {"method": "random", "n_trials": 2, "spaces": {"linear": {"C": {"float": [0.1, 10], "log": True}}}}}
    (tmp_path / "problem.yaml").write_text(yaml.safe_dump(spec))
    result = run(tmp_path / "problem.yaml", runs_dir=tmp_path / "runs", n_jobs=1)
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved["tuning"]["space"] == {"C": "float in [0.1, 10], log scale"} and "rounds" not in saved["tuning"]
    assert len(saved["tuning"]["trials"]) == 2 and saved["tuning"]["method"] == "random"
    assert saved["tuning"]["learning_curve"]["diagnosis"] in ("good fit", "overfitting", "underfitting",
                                                            "validation plateaus early")
    assert saved["leaderboard_meta"]["recommendation"]["order"] == ["linear", "dummy"]
    assert saved["environment"]["versions"]["optuna"] and saved["environment"]["compute"].startswith("local")
    page = (result.run_dir / "report.html").read_text()
    assert "Which algorithm to try first" in page and "Learning curves" in page and "data:image/png;base64" in page

    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(tmp_path / "problem.yaml"), "--runs-dir", str(tmp_path / "runs"), "--cluster", "nowhere"])
    assert exit_info.value.code == 2


@pytest.fixture(scope="module")
def bikes():
    """ISLP's Bikeshare hours of 2011 (a sample of 3,000), in time order: a time-ordered regression."""
    return pd.read_csv(Path(__file__).parent / "data" / "bikeshare_2011.csv")


def test_boosting_rounds_are_lightgbms_early_stopping_on_the_latest_training_rows(bikes):
    import lightgbm as lgb
    from sklearn.model_selection import TimeSeriesSplit

    from mlsmith.tuning import choose_rounds

    frame = bikes.drop(columns="datetime")
    schema = infer_schema(frame, "bikers")
    X, y = frame[schema.features()], frame["bikers"].to_numpy(dtype=float)
    bikes_setup = CVSetup(X=X, y=y, schema=schema, task="regression", metric="rmse", cv=TimeSeriesSplit(3), seed=0,
                          n_jobs=1)
    pipe = build_pipeline("lightgbm", schema, "regression", 0)
    chosen, choice = choose_rounds(pipe, "lightgbm", bikes_setup, search_rows=750)
    # By hand: the preprocessing and LightGBM fitted on all but the latest tenth, stopped on that tenth.
    k = len(X) // 10
    prep = build_pipeline("lightgbm", schema, "regression", 0)[:-1]
    by_hand = lgb.LGBMRegressor(n_estimators=1200, learning_rate=0.05, n_jobs=1, random_state=0, verbosity=-1)
    by_hand.fit(prep.fit_transform(X[:-k], y[:-k]), y[:-k], eval_X=(prep.transform(X[-k:]),), eval_y=(y[-k:],),
                callbacks=[lgb.early_stopping(50, verbose=False)])
    assert (choice.validation, choice.validation_rows, choice.fit_rows) == ("the most recent rows", k, len(X) - k)
    assert choice.cap == 300 * 4 and choice.stopped_by == "early stopping"
    assert choice.chosen == by_hand.best_iteration_ != 300
    assert chosen.named_steps["model"].n_estimators == choice.chosen
    assert "fitted on 2,700 training rows and scored on a held-out 300 (the most recent rows)" in choice.note
    # A deadline that stops the fit before the search's rounds keeps them (the loss was still falling).
    kept, stopped = choose_rounds(pipe, "lightgbm", bikes_setup, search_rows=750, time_budget_s=0.0)
    assert (stopped.stopped_by, stopped.fitted, stopped.chosen, kept.named_steps["model"].n_estimators) == \
        ("the time budget", 1, 300, 300)
    assert "kept the search's 300 as the time budget stopped the fit at 1" in stopped.note
    # With every training row searched, nothing is chosen.
    assert choose_rounds(pipe, "lightgbm", bikes_setup, search_rows=len(X)) == (pipe, None)


def test_held_out_rows_are_a_stratified_sample_or_whole_groups(data):
    from mlsmith.tuning._rounds import validation_rows

    X, y, schema = data
    fit, held, how = validation_rows(setup(X, y, schema, 0))
    assert how == "a sample stratified by class" and len(held) == 20 and y[held].sum() == 10
    assert sorted([*fit, *held]) == list(range(len(X)))
    groups = np.repeat(np.arange(40), 5)
    fit, held, how = validation_rows(replace(setup(X, y, schema, 0), groups=groups))
    assert how == "whole groups" and not set(groups[fit]) & set(groups[held])


@pytest.mark.slow
def test_a_run_searching_a_sample_chooses_the_rounds_on_every_training_row(tmp_path, monkeypatch, bikes):
    import json

    import mlsmith
    from mlsmith import selection
    from mlsmith.deploy import ModelBundle
    from mlsmith.tuning import _rounds

    from conftest import write_problem

    monkeypatch.setattr(selection, "FIRST_RUNG_ROWS", 300)  # 2,400 training rows count as large: searched on 1,200
    held_out: list[np.ndarray] = []

    def spied(family, model, parameter, cap, X_fit, y_fit, X_val, y_val, *rest):
        held_out.append(np.asarray(y_val))
        return _early_stopped(family, model, parameter, cap, X_fit, y_fit, X_val, y_val, *rest)

    _early_stopped = _rounds._early_stopped
    monkeypatch.setattr(_rounds, "_early_stopped", spied)
    spec = write_problem(tmp_path, bikes, target="bikers", data={"time_column": "datetime"}, split={"cv_folds": 3},
                         models=["lightgbm"], tuning={"method": "none"})
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    saved = json.loads((result.run_dir / "results.json").read_text())
    n_train = saved["split"]["n_train"]
    rounds = saved["tuning"]["rounds"]
    assert saved["tuning"]["rows"] == 1200 and rounds["search_rows"] == 1200
    assert rounds["validation"] == "the most recent rows" and rounds["fit_rows"] + rounds["validation_rows"] == n_train
    # The held-out slice is the latest training rows (the training rows are the first 80 % by time).
    train = bikes.sort_values("datetime", kind="stable").iloc[:n_train]
    assert held_out[0].tolist() == train["bikers"].iloc[-rounds["validation_rows"]:].tolist()
    model = ModelBundle.load(result.bundle["path"]).pipeline
    n_estimators = [v for k, v in model.get_params().items() if k.endswith("model__n_estimators")]
    assert n_estimators == [rounds["chosen"]] and rounds["chosen"] != 300
    assert rounds["note"] in saved["notes"] and saved["rows_used"]["boosting_rounds"] == n_train
    assert "Boosting rounds on every training row" in (result.run_dir / "report.html").read_text()
