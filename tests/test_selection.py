import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit, cross_val_score

from mlsmith import CVSetup, parallel
from mlsmith._budget import BudgetExceeded
from mlsmith.data import infer_schema
from mlsmith.metrics import scorer
from mlsmith.parallel import TRAIN_SCORE_ROWS, fit_folds
from mlsmith.pipeline import build_pipeline
from mlsmith.selection import compare_models


@pytest.fixture(scope="module")
def churn():
    """A small numeric binary problem (fast pipelines: the tests check logic, not models)."""
    X, y = make_classification(n_samples=240, n_features=5, n_informative=3, random_state=5)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)]).assign(age=np.arange(240) % 50, y=y)
    schema = infer_schema(df, "y")
    return df[schema.features()], y, schema


CV = StratifiedKFold(3, shuffle=True, random_state=0)


def setup(X, y, schema, task="binary_classification", metric="roc_auc", cv=CV, seed=42) -> CVSetup:
    """The comparison's settings, on one worker (the tests check logic, not speed)."""
    return CVSetup(X=X, y=y, schema=schema, task=task, metric=metric, cv=cv, seed=seed, n_jobs=1)


def test_scores_equal_sklearn_cross_validation(churn):
    X, y, schema = churn
    lb = compare_models(setup(X, y, schema, seed=1), models=["linear", "decision_tree"])
    assert [r.model for r in lb.rows if r.model != "dummy"] == sorted(
        ["linear", "decision_tree"], key=lambda m: -next(r.cv_mean for r in lb.rows if r.model == m))
    for row in lb.rows:
        expected = cross_val_score(build_pipeline(row.model, schema, "binary_classification", 1), X, y, cv=CV,
                                   scoring="roc_auc")
        assert row.cv_mean == pytest.approx(expected.mean())
        assert row.cv_std == pytest.approx(expected.std())
    assert lb.recommendation.order == ["linear", "decision_tree", "dummy"]
    assert lb.best.model in ("linear", "decision_tree")


def test_latency_budget_drops_families_by_measurement(churn):
    X, y, schema = churn
    lb = compare_models(setup(X, y, schema), models=["linear"], latency_ms=1e-6)
    row = next(r for r in lb.rows if r.model == "linear")
    assert row.status == "over latency" and row.latency_ms > 1e-6
    assert lb.skipped["linear"].startswith("one-row predict takes")
    assert next(a for a in lb.recommendation.advice if a.model == "linear").decision == "dropped"
    assert lb.best.model == "linear"  # nothing meets the budget: the best of those over it, said so


def test_whole_comparison_budget_skips_families_not_started(churn):
    X, y, schema = churn
    lb = compare_models(setup(X, y, schema), models=["linear", "knn"], time_budget_s=1e-9)
    assert lb.skipped["knn"] == "the comparison's time budget of 1e-09 s was spent before it started"
    assert "linear" in lb.skipped
    assert [r.model for r in lb.rows] == ["dummy"]  # the floor always runs
    assert lb.budget["not_started"] == ["linear", "knn"] and lb.rows[0].stopped_by is None


def test_a_family_clearly_behind_stops_after_three_folds_and_the_rest_complete():
    # A linear signal spread over ten columns: a single tree trails the linear model on every fold.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(600, 10)), columns=[f"x{i}" for i in range(10)])
    y = (X.sum(axis=1) + rng.normal(size=600) > 0).astype(int).to_numpy()
    schema = infer_schema(X.assign(y=y), "y")
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    lb = compare_models(setup(X, y, schema, cv=cv, seed=1), models=["linear", "decision_tree"])
    rows = {r.model: r for r in lb.rows}
    first3 = list(cv.split(X, y))[:3]
    tree = cross_val_score(build_pipeline("decision_tree", schema, "binary_classification", 1), X, y, cv=first3,
                           scoring="roc_auc")
    linear = cross_val_score(build_pipeline("linear", schema, "binary_classification", 1), X, y, cv=cv,
                             scoring="roc_auc")
    assert (rows["decision_tree"].status, rows["decision_tree"].folds) == ("stopped early", 3)
    assert rows["decision_tree"].cv_mean == pytest.approx(tree.mean())  # its scores are those of its three folds
    assert rows["decision_tree"].note.startswith("behind Logistic / Ridge regression on the first 3 of 5 folds")
    assert (rows["linear"].status, rows["linear"].folds) == ("ok", 5)
    assert rows["linear"].cv_mean == pytest.approx(linear.mean())
    assert (rows["dummy"].status, rows["dummy"].folds) == ("ok", 5)  # the floor is never raced
    assert lb.best.model == "linear"
    from mlsmith.report._selection import html

    meta = {k: v for k, v in lb.to_dict().items() if k != "rows"}
    page = str(html(lb.to_dict()["rows"], {"leaderboard_meta": meta, "tuning": None}))
    tree_row = page[page.rindex("<td>Decision tree</td>"):].split("</tr>")[0]  # the leaderboard, after the advice
    assert "<td>3</td>" in tree_row and "stopped early: behind Logistic / Ridge regression" in tree_row
    # Folds in time order are not raced: the first ones train on the least data.
    timed = compare_models(setup(X, y, schema, cv=TimeSeriesSplit(5), seed=1), models=["linear", "decision_tree"])
    assert {r.model: (r.status, r.folds) for r in timed.rows}["decision_tree"] == ("ok", 5)


def test_an_error_metric_races_the_lowest_error_as_leader():
    # Regression on rmse (lower is better): the linear model has the lowest error and must lead.
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(500, 8)), columns=[f"x{i}" for i in range(8)])
    y = X.to_numpy() @ np.arange(1.0, 9.0) + rng.normal(size=500)
    schema = infer_schema(X.assign(y=y), "y")
    lb = compare_models(setup(X, y, schema, "regression", "rmse", KFold(5, shuffle=True, random_state=0), seed=1),
                        models=["linear", "decision_tree"])
    rows = {r.model: r for r in lb.rows}
    assert rows["linear"].cv_mean < rows["decision_tree"].cv_mean  # errors, positive
    assert (rows["linear"].status, rows["linear"].folds) == ("ok", 5)
    assert (rows["decision_tree"].status, rows["decision_tree"].folds) == ("stopped early", 3)
    assert lb.best.model == "linear"


def test_racing_p_value_is_the_corrected_resampled_t_test():
    from scipy import stats

    from mlsmith.selection import _behind_p

    diff = np.array([0.031, 0.012, 0.025])
    t = diff.mean() / np.sqrt(diff.var(ddof=1) * (1 / 3 + 0.25))
    assert _behind_p(diff, 0.25) == pytest.approx(stats.t.sf(t, 2))
    assert _behind_p(diff, 0.25) > stats.ttest_1samp(diff, 0, alternative="greater").pvalue  # more cautious
    assert _behind_p(np.array([0.01, 0.01, 0.01]), 0.25) == 0.0  # behind by the same amount on every fold
    assert _behind_p(np.array([-0.01, -0.01, -0.01]), 0.25) == 1.0
    assert np.isnan(_behind_p(np.array([0.01, np.nan, 0.02]), 0.25))  # NaN is never below the level: no stop


class Sleeper(ClassifierMixin, BaseEstimator):
    """Fits forever (30 s): stands for a family that runs over its budget."""

    def fit(self, X, y):
        time.sleep(30)
        return self


def test_a_fit_over_the_deadline_is_stopped_not_waited_for(churn):
    X, y, _ = churn
    folds = list(CV.split(X, y))
    start = time.perf_counter()
    with pytest.raises(BudgetExceeded, match="time budget spent with 0 folds finished"):
        fit_folds(Sleeper(), X[["age"]], y, folds, {"acc": scorer("accuracy", "binary_classification")},
                  n_jobs=2, deadline=time.perf_counter() + 1.0, seed=0)
    assert time.perf_counter() - start < 30  # the sleeping fits were killed, not awaited


def test_the_training_score_is_measured_on_a_stratified_sample_as_large_as_the_test_rows():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    X, y = make_classification(n_samples=6000, weights=[0.95], random_state=3)  # 4,800 train / 1,200 test rows
    X = pd.DataFrame(X)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    res = fit_folds(LogisticRegression(), X, y, folds, {"roc_auc": scorer("roc_auc", "binary_classification")},
                    n_jobs=1, train_metric="roc_auc", seed=0, want_predictions=True)
    for (train, test), r in zip(folds, res):
        seen = r.train_index
        assert len(seen) == len(test) > TRAIN_SCORE_ROWS and set(seen) <= set(train)
        assert y[seen].sum() == pytest.approx(y[train].mean() * len(test), abs=1)  # the 5 % class kept
        model = LogisticRegression().fit(X.iloc[train], y[train])
        proba = model.predict_proba(X.iloc[seen])[:, 1]
        assert r.train_scores["roc_auc"] == pytest.approx(roc_auc_score(y[seen], proba))
        np.testing.assert_allclose(r.train_predictions, proba)
    again = fit_folds(LogisticRegression(), X, y, folds, {"roc_auc": scorer("roc_auc", "binary_classification")},
                      n_jobs=1, train_metric="roc_auc", seed=0, want_predictions=True)
    assert all(np.array_equal(a.train_index, b.train_index) for a, b in zip(res, again))  # seeded
    small = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X[:2000], y[:2000]))  # 1,600 train rows
    res = fit_folds(LogisticRegression(), X[:2000], y[:2000], small, {"roc_auc": scorer("roc_auc", "binary_classification")},
                    n_jobs=1, train_metric="roc_auc", seed=0, want_predictions=True)
    assert [len(r.train_index) for r in res] == [TRAIN_SCORE_ROWS] * 5


@pytest.fixture(scope="module")
def default_card_holders():
    """ISLP's Default: 10,000 card holders, 3.3 % of whom defaulted; 8,000 training rows per fold of five."""
    df = pd.read_csv(Path(__file__).parent / "data" / "Default.csv")
    df["default"] = (df["default"] == "Yes").astype(int)
    schema = infer_schema(df, "default")
    return df[schema.features()], df["default"].to_numpy(), schema


def test_the_training_score_sample_is_drawn_with_the_experiments_seed(default_card_holders):
    from sklearn.utils import resample

    X, y, schema = default_card_holders
    pipeline = build_pipeline("linear", schema, "binary_classification", 7)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=7).split(X, y))
    roc_auc = {"roc_auc": scorer("roc_auc", "binary_classification")}
    drawn = {seed: fit_folds(pipeline, X, y, folds, roc_auc, n_jobs=1, train_metric="roc_auc", seed=seed,
                             want_predictions=True) for seed in (7, 8)}
    for (train, test), r in zip(folds, drawn[7]):
        expected = resample(train, n_samples=len(test), replace=False, stratify=y[train], random_state=7)
        np.testing.assert_array_equal(r.train_index, np.sort(expected))
    assert all(not np.array_equal(a.train_index, b.train_index) for a, b in zip(drawn[7], drawn[8]))
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'seed'"):
        fit_folds(pipeline, X, y, folds, roc_auc, n_jobs=1, train_metric="roc_auc")


def test_the_comparison_scores_training_rows_sampled_with_the_specs_seed(default_card_holders, monkeypatch):
    X, y, schema = default_card_holders
    seeds = []
    real = parallel._training_sample

    def recorded(train, n_test, y, seed):
        seeds.append(seed)
        return real(train, n_test, y, seed)

    monkeypatch.setattr(parallel, "_training_sample", recorded)
    cv = StratifiedKFold(5, shuffle=True, random_state=7)
    rows = {}
    for seed in (7, 8):
        rows[seed] = compare_models(setup(X, y, schema, cv=cv, seed=seed), models=["linear"]).rows[0]
        assert len(seeds) >= 5 and set(seeds) == {seed}  # every fold's sample (rungs' included)
        seeds.clear()
    assert rows[7].cv_mean == rows[8].cv_mean  # the same folds: only the training rows scored differ
    assert rows[7].train_mean != rows[8].train_mean


class FailsOnBigFolds(ClassifierMixin, BaseEstimator):
    """Raises on the folds that train on more than ``limit`` rows; a constant classifier otherwise."""

    def __init__(self, limit=0):
        self.limit = limit

    def fit(self, X, y):
        if len(X) > self.limit:
            raise ValueError(f"{len(X)} rows")
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def _pid_after_a_nap():
    time.sleep(0.1)  # each task holds its worker a moment, so that both workers answer
    return os.getpid()


def _worker_pids():
    from joblib import Parallel, delayed

    return set(Parallel(n_jobs=2)(delayed(_pid_after_a_nap)() for _ in range(6)))


def _worker_state():
    return os.getppid(), "lightgbm" in sys.modules, os.environ.get("OMP_NUM_THREADS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is used on Linux only")
def test_workers_forked_from_the_server_have_the_libraries_imported_and_one_thread_each():
    from joblib import Parallel, delayed
    from joblib.externals.loky.backend import context

    from mlsmith._workers import fork_workers_from_server, stop_workers, warm_up

    stop_workers()  # workers an earlier test started would be reused as they are
    threads = os.environ.get("OMP_NUM_THREADS")
    try:
        assert fork_workers_from_server()
        assert os.environ.get("OMP_NUM_THREADS") == threads  # this process keeps its own thread counts
        warm_up(n_jobs=2, wait=False)
        states = Parallel(n_jobs=2)(delayed(_worker_state)() for _ in range(4))
    finally:
        stop_workers()
        context.set_start_method(None, force=True)  # the other tests' workers are loky's own
    assert all(parent != os.getpid() for parent, _, _ in states)  # forked by the server, not started here
    assert all(imported for _, imported, _ in states)  # before any task asked for it
    assert {omp for _, _, omp in states} == {"1"}


def test_cancelled_background_work_is_not_waited_for():
    """A run that fails while workers draw its report cancels them (the CLI test of a bad baseline rule
    checks that nothing is left to warn at exit)."""
    import warnings

    from mlsmith._workers import in_background

    done = in_background(max, (1, 2))
    assert done() == [2]
    done.cancel()  # waited for already: nothing to do
    job = in_background(time.sleep, (30,), (30,))
    time.sleep(0.5)  # both calls are running
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        job.cancel()
    assert time.perf_counter() - start < 10


def test_a_fold_that_raises_fails_its_fit_and_leaves_the_workers_running(churn):
    """The first failing fold in fold order is raised, whichever worker failed first; no worker is killed."""
    X, y, _ = churn
    folds = list(CV.split(X, y))
    sizes = sorted(len(tr) for tr, _ in folds)
    before = _worker_pids()
    assert len(before) == 2
    with pytest.raises(ValueError, match=f"^{sizes[-1]} rows$"):
        fit_folds(FailsOnBigFolds(limit=sizes[-1] - 1), X[["age"]], y, folds,
                  {"acc": scorer("accuracy", "binary_classification")}, n_jobs=2, seed=0)
    assert _worker_pids() <= before  # a killed worker would come back with a new pid
