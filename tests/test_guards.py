"""Every guard twice on real data: with the defect planted it fires, on the same data without it it stays silent."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import mlsmith
from mlsmith.data import infer_schema
from mlsmith.exceptions import StrictModeStop
from mlsmith.guards import (
    Finding,
    GuardReport,
    check_adversarial,
    check_comparison,
    check_conflicting_labels,
    check_contamination,
    check_cv_test_gap,
    check_derived_target,
    check_id_order,
    check_imbalanced_accuracy,
    check_missing_target,
    check_overfitting,
    check_pipeline,
    check_seeds,
    check_target_leakage,
    check_time_order,
    check_timestamps,
    check_tuning_range,
    single_feature_score,
)
from mlsmith.pipeline import build_pipeline
from mlsmith.selection import CATALOG, compare_models
from mlsmith.split import HeldOutTest

from conftest import EXAMPLES, write_problem

BIN, MULTI, REG = "binary_classification", "multiclass_classification", "regression"
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y.to_numpy()


@pytest.fixture(scope="module")
def churn():
    return pd.read_csv(EXAMPLES / "churn" / "churn.csv")


def checks(findings, severity=None):
    return {f.check for f in findings if severity is None or f.severity == severity}


# 1. Target leakage ---------------------------------------------------------------------------------

def test_leakage_single_feature_fires_on_a_noisy_copy_and_not_on_breast_cancer(cancer):
    X, y = cancer
    assert check_target_leakage(X, y, BIN, seed=0) == []
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(len(y)) < 0.01, 1 - y, y) + rng.normal(0, 0.1, len(y))
    assert roc_auc_score(y, noisy) > 0.98  # independent: the planted column alone separates the classes
    found = check_target_leakage(X.assign(biopsy_result=noisy), y, BIN, seed=0)
    assert [(f.check, f.severity, f.evidence["column"]) for f in found] == [("target_leakage", "error", "biopsy_result")]
    assert found[0].evidence["score"] >= 0.98


def test_leakage_function_of_target_on_diabetes_and_wine():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    assert check_target_leakage(X, y, REG, seed=0) == []
    found = check_target_leakage(X.assign(log_progression=np.log(y)), y, REG, seed=0)
    assert [(f.evidence["column"], f.evidence["relation"]) for f in found] == [("log_progression", "function")]
    Xw, yw = load_wine(return_X_y=True, as_frame=True)
    assert check_target_leakage(Xw, yw, MULTI, seed=0) == []
    cultivar = yw.map({0: "barolo", 1: "grignolino", 2: "barbera"})
    found = check_target_leakage(Xw.assign(cultivar=cultivar), yw, MULTI, seed=0)
    assert [(f.evidence["column"], f.evidence["relation"]) for f in found] == [("cultivar", "function")]
    rare = np.r_[np.flatnonzero(yw != 2), np.flatnonzero(yw == 2)[:2]]  # a class of two rows: some folds lack it
    assert check_target_leakage(Xw.iloc[rare], yw.iloc[rare], MULTI, seed=0) == []


def test_leakage_a_target_rebuilt_from_two_features_by_one_formula():
    # MASS's Cars93 (tests/data/README.md): Price is the midpoint of Min.Price and Max.Price, and
    # neither alone gives it away (their single-feature R² is under LEAK_SCORE).
    cars = pd.read_csv(DATA / "cars93.csv", index_col=0)
    price = cars.pop("Price")
    assert max(single_feature_score(cars[c], price.to_numpy(), REG, seed=0) for c in ("Min.Price", "Max.Price")) < 0.98
    [found] = check_target_leakage(cars, price, REG, seed=0)
    assert (found.check, found.severity, found.evidence["columns"]) == ("target_leakage", "error", ["Min.Price", "Max.Price"])
    assert found.evidence["r2"] > 0.9999
    assert found.evidence["relation"].startswith("values: target ≈ 0.5") and "·Min.Price + 0.4" in found.evidence["relation"]
    assert check_target_leakage(cars.drop(columns=["Min.Price", "Max.Price"]), price, REG, seed=0) == []
    # A ratio is found on the logs: Hitters' batting average, hits / at-bats.
    hitters = pd.read_csv(DATA / "hitters.csv")
    [ratio] = check_derived_target(hitters.drop(columns="Salary"), hitters["Hits"] / hitters["AtBat"], REG, seed=0)
    assert ratio.evidence["columns"] == ["AtBat", "Hits"] and ratio.evidence["relation"].startswith("logs:")
    # Real targets that no formula of the features rebuilds: nothing.
    assert check_target_leakage(hitters.drop(columns="Salary"), hitters["Salary"], REG, seed=0) == []
    assert check_derived_target(*load_diabetes(return_X_y=True, as_frame=True), REG, seed=0) == []
    assert check_derived_target(cars, price, BIN, seed=0) == []  # regression only


def _churn_dates(churn):
    # When each customer's outcome was known: 30 days after the snapshot, give or take.
    rng = np.random.default_rng(1)
    outcome = pd.Timestamp("2026-06-30") + pd.to_timedelta(rng.integers(20, 40, len(churn)), unit="D")
    return churn.assign(outcome_known_on=outcome.strftime("%Y-%m-%d")), outcome


def test_timestamp_after_the_outcome_fires_only_when_planted(churn):
    frame, outcome = _churn_dates(churn.drop(columns="churned"))
    assert check_timestamps(frame, event_time="outcome_known_on") == []
    closed = (outcome + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    found = check_timestamps(frame.assign(account_closed_on=closed), event_time="outcome_known_on")
    assert [(f.check, f.evidence["column"], f.evidence["share_after"]) for f in found] == [
        ("timestamp_after_outcome", "account_closed_on", 1.0)]


def test_feature_not_available_at_prediction_time(churn):
    frame = churn.drop(columns="churned")
    assert check_timestamps(frame, prediction_time="2026-06-30") == []  # signup and last login come before
    invoice = (pd.Timestamp("2026-07-15") + pd.to_timedelta(np.arange(len(frame)) % 10, unit="D")).strftime("%Y-%m-%d")
    found = check_timestamps(frame.assign(next_invoice=invoice), prediction_time="2026-06-30")
    assert [(f.check, f.severity, f.evidence["column"]) for f in found] == [
        ("not_available_at_prediction", "error", "next_invoice")]


def test_id_order_fires_when_ids_follow_the_outcome(churn):
    y = churn["churned"].to_numpy()
    assert check_id_order(churn, y, BIN, ["customer_id"], seed=0) == []
    # Planted: churners were entered last, so their ids are the highest.
    ordered = churn.sort_values("churned", kind="stable").reset_index(drop=True)
    ordered["customer_id"] = [f"C{100000 + i}" for i in range(len(ordered))]
    found = check_id_order(ordered, ordered["churned"].to_numpy(), BIN, ["customer_id"], seed=0)
    assert [f.check for f in found] == ["id_order"] and found[0].evidence["score"] > 0.9


# 2. Contamination ----------------------------------------------------------------------------------

def test_contamination_exact_and_near_duplicates(cancer):
    X, y = cancer
    train, test = train_test_split(X, test_size=0.25, random_state=0, stratify=y)
    features = list(X.columns)
    assert check_contamination(train, test, features, seed=0) == []
    copies = train.iloc[:10]
    near = train.iloc[10:20] * (1 + 1e-4)
    planted = pd.concat([test, copies, near])
    [found] = check_contamination(train, planted, features, seed=0)
    assert found.check == "contamination"
    assert (found.evidence["n_exact"], found.evidence["n_near"]) == (10, 10)
    assert found.severity == "error" and found.evidence["share"] == round(20 / len(planted), 4)


def test_contamination_is_only_a_note_when_the_features_take_few_values(churn):
    features = ["contract", "payment_method", "internet_service", "region"]  # 144 combinations for 5,025 rows
    train, test = train_test_split(churn.drop_duplicates(subset="customer_id"), test_size=0.2, random_state=0)
    [found] = check_contamination(train, test, features, seed=0)
    assert found.severity == "info" and found.evidence["train_duplicate_share"] > 0.9


def test_contamination_same_entity_on_both_sides(churn):
    frame = churn.drop_duplicates().reset_index(drop=True)
    features = [c for c in frame.columns if c not in ("customer_id", "churned")]
    train, test = train_test_split(frame, test_size=0.2, random_state=0)
    assert check_contamination(train, test, features, group_column="customer_id", seed=0) == []
    test = test.copy()
    test.iloc[:40, test.columns.get_loc("customer_id")] = train["customer_id"].iloc[:40].to_numpy()
    [found] = check_contamination(train, test, features, group_column="customer_id", seed=0)
    assert (found.severity, found.evidence["column"], found.evidence["n_shared"]) == ("error", "customer_id", 40)
    assert "group" in found.fix


def test_held_out_test_hands_guards_the_features_never_the_target(cancer):
    X, y = cancer
    held = HeldOutTest(X.assign(target=y), target="target")
    part = held.features_for_guards(list(X.columns[:3]))
    assert list(part.columns) == list(X.columns[:3]) and "target" not in part
    with pytest.raises(ValueError, match="may not see the test target 'target'"):
        held.features_for_guards(["mean radius", "target"])
    with pytest.raises(ValueError, match="without naming its target"):
        HeldOutTest(X).features_for_guards(["mean radius"])
    part.iloc[0, 0] = -1.0  # a copy: the sealed rows are untouched
    assert held.read()["mean radius"].iloc[0] == X["mean radius"].iloc[0] and held.was_read


# 3. Preprocessing outside cross-validation -------------------------------------------------------

def test_check_pipeline_flags_a_scaler_fitted_before_the_split(cancer):
    X, y = cancer
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    clean = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_train, y_train)
    assert len(check_pipeline(clean, X_train, X)) == 0
    scaler = StandardScaler().fit(X)  # the mistake: fitted on all rows, then the model on the training rows
    model = LogisticRegression(max_iter=2000).fit(scaler.transform(X_train), y_train)
    leaky = make_pipeline(scaler, model)
    [found] = check_pipeline(leaky, X_train, X)
    assert (found.check, found.severity, found.evidence["n_samples_seen"]) == ("preprocessing_outside_cv", "error", len(X))
    assert "full data" in found.message


def test_check_pipeline_on_a_search_over_prescaled_data(cancer):
    X, y = cancer
    grid = {"logisticregression__C": [0.1, 1.0]}
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), grid, cv=3)
    assert len(check_pipeline(search.fit(X_train, y_train), X_train)) == 0
    scaled = pd.DataFrame(StandardScaler().fit_transform(X), columns=X.columns)  # scaled before the split
    S_train, _, s_train, _ = train_test_split(scaled, y, test_size=0.25, random_state=0, stratify=y)
    search = GridSearchCV(make_pipeline(LogisticRegression(max_iter=2000)), {"logisticregression__C": [0.1, 1.0]}, cv=3)
    report = check_pipeline(search.fit(S_train, s_train), S_train, scaled)
    assert [(f.check, f.evidence["scaled_on"]) for f in report] == [("preprocessing_outside_cv", "full data")]


def test_check_pipeline_cli_exits_1_on_an_error(cancer, tmp_path, capsys):
    import skops.io as sio

    from mlsmith.cli import main

    X, y = cancer
    X_train = X.iloc[:400]
    scaler = StandardScaler().fit(X)
    leaky = make_pipeline(scaler, LogisticRegression(max_iter=2000).fit(scaler.transform(X_train), y[:400]))
    sio.dump(leaky, tmp_path / "model.skops")
    X_train.assign(target=y[:400]).to_csv(tmp_path / "train.csv", index=False)
    X.to_csv(tmp_path / "all.csv", index=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["check-pipeline", str(tmp_path / "model.skops"), str(tmp_path / "train.csv"),
              "--full", str(tmp_path / "all.csv"), "--target", "target"])
    assert exit_info.value.code == 1
    assert "preprocessing_outside_cv" in capsys.readouterr().out


# 4. Overfitting ------------------------------------------------------------------------------------

def test_overfitting_fires_when_the_tree_memorises_noisy_labels(cancer):
    X, y = cancer
    schema = infer_schema(X.assign(t=y), "t")
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    noisy = np.where(np.random.default_rng(0).random(len(y)) < 0.25, 1 - y, y)
    rows = {}
    for name, labels in (("clean", y), ("noisy", noisy)):
        setup = mlsmith.CVSetup(X=X, y=labels, schema=schema, task=BIN, metric="roc_auc", cv=cv, seed=0, n_jobs=1)
        lb = compare_models(setup, models=["decision_tree"])
        rows[name] = lb.best
    assert check_overfitting("roc_auc", rows["clean"].train_mean, rows["clean"].cv_mean) == []
    [found] = check_overfitting("roc_auc", rows["noisy"].train_mean, rows["noisy"].cv_mean, model="Decision tree")
    assert found.evidence["gap"] == round(rows["noisy"].train_mean - rows["noisy"].cv_mean, 4) >= 0.1


def test_overfitting_on_an_error_metric():
    assert check_overfitting("rmse", train=50.0, cv=55.0) == []
    assert [f.evidence["gap"] for f in check_overfitting("rmse", train=20.0, cv=55.0)] == [round(35 / 55, 4)]


def test_cv_test_gap_fires_when_the_test_labels_differ_from_the_training_ones(cancer):
    from mlsmith.evaluation import bootstrap_interval, metric_on_resamples

    X, y = cancer
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    cv = cross_val_score(model, X_train, y_train, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                         scoring="roc_auc").mean()
    proba = model.fit(X_train, y_train).predict_proba(X_test)[:, 1]
    flipped = np.where(np.random.default_rng(0).random(len(y_test)) < 0.3, 1 - y_test, y_test)  # planted
    for labels, expected in ((y_test, []), (flipped, ["warning"])):
        test = roc_auc_score(labels, proba)
        interval = bootstrap_interval(metric_on_resamples("roc_auc", BIN, labels, None, proba), len(labels), seed=0)
        found = check_cv_test_gap("roc_auc", cv, test, interval, len(labels), "Logistic regression")
        assert [f.severity for f in found] == expected
    assert found[0].evidence["cv"] == round(cv, 4) > found[0].evidence["interval"][1]
    # Better on the test rows than CV predicted, on an error metric: for information only.
    [luck] = check_cv_test_gap("rmse", cv=60.0, test=40.0, interval=(35.0, 50.0), n_test=50)
    assert luck.severity == "info"


# 5. Accuracy on imbalanced data --------------------------------------------------------------------

def test_imbalanced_accuracy_quotes_the_majority_accuracy(cancer):
    _, y = cancer
    assert check_imbalanced_accuracy(y, BIN, "accuracy") == []  # 212 / 357 = 0.59
    keep = np.r_[np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)]  # planted: 30 malignant vs 357 benign
    imbalanced = y[keep]
    [found] = check_imbalanced_accuracy(imbalanced, BIN, "accuracy")
    majority = accuracy_score(imbalanced, DummyClassifier().fit(imbalanced[:, None], imbalanced).predict(imbalanced[:, None]))
    assert found.evidence["majority_accuracy"] == round(majority, 4)
    assert "average_precision" in found.fix
    assert check_imbalanced_accuracy(imbalanced, BIN, "average_precision") == []


# 6. Seeds --------------------------------------------------------------------------------------------

def test_seeds_reach_every_catalog_pipeline_and_an_unseeded_step_is_flagged(cancer):
    X, y = cancer
    schema = infer_schema(X.assign(t=y), "t")
    seeded = {name: build_pipeline(name, schema, BIN, 7) for name in CATALOG}
    seeded["cv"] = StratifiedKFold(5, shuffle=True, random_state=7)
    assert check_seeds(seeded) == []
    planted = {**seeded, "forest": make_pipeline(StandardScaler(), RandomForestClassifier()), "cv": KFold(5, shuffle=True)}
    [found] = check_seeds(planted)
    assert sorted(found.evidence["unseeded"]) == ["cv", "forest: randomforestclassifier__random_state"]


@pytest.fixture(scope="module")
def wine_runs(tmp_path_factory):
    X, y = load_wine(return_X_y=True, as_frame=True)
    frame = X.assign(cultivar=y.astype(float))
    frame.loc[[3, 50, 100, 150], "cultivar"] = np.nan  # four unlabelled rows
    folder = tmp_path_factory.mktemp("wine")
    spec = write_problem(folder, frame, name="wine", target="cultivar", type=MULTI, models=["decision_tree"],
                          split={"test_size": 0.25, "cv_folds": 3}, seed=11)
    return [mlsmith.run(spec, runs_dir=folder / f"runs{i}", strict=True, n_jobs=1) for i in (1, 2)]


def test_two_runs_with_the_same_seed_give_the_identical_leaderboard(wine_runs):
    def table(result):
        return [{k: v for k, v in row.to_dict().items() if not k.endswith("time_s")} for row in result.leaderboard.rows]

    first, second = wine_runs
    assert table(first) == table(second)
    assert first.tuning.to_dict() == second.tuning.to_dict()


def test_workflow_reports_the_guards_and_strict_lets_a_clean_run_through(wine_runs):
    result = wine_runs[0]
    assert result.guards.errors == []  # --strict did not stop this clean run
    [dropped] = [f for f in result.guards if f.check == "missing_target"]
    assert (dropped.severity, dropped.evidence["n_dropped"]) == ("info", 4)
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved["guards"] == result.guards.to_dict()
    assert list(saved)[:4] == ["problem", "schema", "split", "quality"] and "guards" in saved
    html = (result.run_dir / "report.html").read_text()
    assert 'id="guards"' in html and "4 rows (2.2%) had no value for target" in html


def test_workflow_runs_the_training_guards_on_the_leaderboard(wine_runs):
    result = wine_runs[0]
    best = result.leaderboard.best
    gap = best.train_mean - best.cv_mean
    overfit = [f for f in result.guards if f.check == "overfitting"]
    assert bool(overfit) is (gap >= 0.1)
    if overfit:
        assert overfit[0].evidence["gap"] == round(gap, 4)
        assert overfit[0].evidence["test"] == round(result.evaluation.test_metrics[result.leaderboard.metric], 4)
    edges = [f.evidence["parameter"] for f in result.guards if f.check == "tuning_range"]
    expected = [f.evidence["parameter"] for f in check_tuning_range(CATALOG["decision_tree"].space(MULTI),
                                                                   result.tuning.best_params, trials=result.tuning.trials)]
    assert edges == expected


def test_strict_stops_before_training_on_a_leak_and_leaves_no_run_folder(cancer, tmp_path):
    from mlsmith.cli import main

    X, y = cancer
    frame = X.assign(diagnosis=y, diagnosis_code=np.where(y == 1, "B", "M"))  # planted: the label, re-spelled
    spec = write_problem(tmp_path, frame, name="leaky", target="diagnosis", split={"cv_folds": 3})
    with pytest.raises(StrictModeStop, match=r"--strict stopped the run before training .*\[target_leakage\] Feature 'diagnosis_code'"):
        mlsmith.run(spec, runs_dir=tmp_path / "runs", strict=True, n_jobs=1)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(spec), "--runs-dir", str(tmp_path / "runs"), "--strict"])
    assert exit_info.value.code == 3
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []


def test_without_strict_a_leak_makes_the_verdict_invalid_everywhere_it_is_shown(cancer, tmp_path):
    from rich.console import Console

    from mlsmith.report._monitor_terminal import print_runs
    from mlsmith.report._terminal import print_run
    from mlsmith.runs import list_runs

    X, y = cancer
    frame = X.assign(diagnosis=y, diagnosis_code=np.where(y == 1, "B", "M"))  # planted: the label, re-spelled
    spec = write_problem(tmp_path, frame, name="leaky", target="diagnosis", models=["linear"], tuning={"method": "none"},
                         success_metric="accuracy", threshold=0.9, split={"cv_folds": 3})
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    v = result.evaluation.verdict
    assert v.value >= 0.99 and v.interval[0] >= 0.9  # the leak scores: the threshold alone would read MET
    assert (v.status, v.met) == ("invalid", False) and v.invalid_by[0]["check"] == "target_leakage"
    saved = json.loads((result.run_dir / "results.json").read_text())["evaluation"]["verdict"]
    assert saved["status"] == "invalid" and saved["summary"].startswith("INVALID: the test score cannot be trusted "
                                                                        "because of [target_leakage] Feature 'diagnosis_code'")
    html = (result.run_dir / "report.html").read_text()
    assert "<b>invalid</b>" in html and "INVALID: the test score cannot be trusted" in html
    console = Console(record=True, width=400)
    print_run(result, console)
    [line] = [ln for ln in console.export_text().splitlines() if ln.startswith("Verdict:")]
    assert "INVALID" in line and ": MET" not in line
    [row] = list_runs(tmp_path / "runs")
    assert (row["status"], row["met"]) == ("invalid", 0)
    print_runs([row], console)
    assert "INVALID" in console.export_text().splitlines()[-2]


# 7. Time order ---------------------------------------------------------------------------------------

def test_time_order_fires_when_rows_are_sorted_by_date_and_the_split_is_random(churn):
    assert check_time_order(churn, "stratified") == []
    by_signup = churn.sort_values("signup_date").reset_index(drop=True)
    [found] = check_time_order(by_signup, "stratified")
    assert (found.check, found.evidence["column"]) == ("time_order", "signup_date")
    assert found.evidence["spearman_rho"] > 0.95
    assert check_time_order(by_signup, "time") == []  # a time-ordered split is the fix


# 8. Train/test shift ---------------------------------------------------------------------------------

def test_adversarial_validation_fires_on_a_biased_test_split(cancer):
    X, y = cancer
    train, test = train_test_split(X, test_size=0.25, random_state=0, stratify=y)
    assert check_adversarial(train, test, list(X.columns), seed=0) == []
    large = X["mean radius"] > X["mean radius"].quantile(0.75)  # planted: the test split is the largest tumours
    [found] = check_adversarial(X[~large], X[large], list(X.columns), seed=0)
    assert found.check == "train_test_shift" and found.evidence["adversarial_auc"] >= 0.9
    assert "mean radius" in found.evidence["top_columns_auc"] or "worst radius" in found.evidence["top_columns_auc"]


def test_on_a_time_split_the_shift_is_measured_against_the_drift_within_train_not_blamed_on_the_split():
    """ISLP's Bikeshare 2011, split in time (Nov-Dec as test): the test months are colder, as the
    months within the training period differ from each other; a random split is not the fix."""
    bikes = pd.read_csv(DATA / "bikeshare_2011.csv")  # in time order
    features = [c for c in bikes.columns if c != "bikers"]
    cut = int(0.8 * len(bikes))
    train, test = bikes.iloc[:cut], bikes.iloc[cut:]
    [found] = check_adversarial(train, test, features, exclude_dates=True, time_ordered=True, seed=0)
    e = found.evidence
    assert found.severity == "info" and "random" not in found.fix + found.message
    assert e["share_explained_by_trend"] == pytest.approx((e["within_train_auc"] - 0.5) / (e["adversarial_auc"] - 0.5), abs=1e-3)
    assert e["share_explained_by_trend"] >= 0.5
    assert list(e["drifting_columns"])[:2] == ["temp", "atemp"] and e["break_columns"] == []
    assert f"accounts for {e['share_explained_by_trend']:.0%} of it" in found.message and (
        f"'temp' ({e['drifting_columns']['temp']['test_vs_train_auc']:.2f})" in found.message)
    # Planted: humidity recorded in percent from the cut on (a unit change): a break, not a trend.
    [found] = check_adversarial(train, test.assign(hum=test["hum"] * 100), features, exclude_dates=True,
                                time_ordered=True, seed=0)
    assert found.severity == "warning" and found.evidence["break_columns"] == ["hum"]
    assert "'hum' change at the cut far more than within the training period" in found.message
    assert "random" not in found.fix and "what changed at the cut in 'hum'" in found.fix


def test_a_mostly_unique_name_column_does_not_separate_two_random_halves():
    """ISLP's Auto: 301 distinct car names in 392 rows. Codes in order of first appearance gave the
    names only the second half holds the highest codes (ROC-AUC 0.86-0.91 between random halves)."""
    auto = pd.read_csv(DATA / "auto.csv")
    features = [c for c in auto.columns if c != "mpg"]
    for seed in range(5):
        first, second = train_test_split(auto, test_size=0.5, random_state=seed)
        assert check_adversarial(first, second, features, seed=seed) == []
    from mlsmith.guards._frame import encode

    a, b = encode([auto.iloc[:200], auto.iloc[200:]], {"name": "text"})
    codes = pd.Series(np.r_[a[:, 0], b[:, 0]]).groupby(auto["name"].to_numpy())
    assert codes.nunique().max() == 1  # one code per name, whichever half it is in
    code, counts = codes.first(), auto["name"].value_counts()
    assert code[counts[counts == 1].index].nunique() == 1  # the names seen once share one code
    assert code[counts.index[0]] == 0  # the most frequent name ('ford pinto', 6 cars) gets the first code


# 9. Labels ---------------------------------------------------------------------------------------------

def test_conflicting_labels_on_identical_rows(cancer):
    X, y = cancer
    assert check_conflicting_labels(X, y, BIN) == []
    planted = pd.concat([X, X.iloc[:15]], ignore_index=True)
    labels = np.r_[y, 1 - y[:15]]
    [found] = check_conflicting_labels(planted, labels, BIN)
    assert (found.evidence["n_groups"], found.evidence["n_rows"]) == (15, 30)
    assert found.severity == "warning"
    assert check_conflicting_labels(planted, labels, REG) == []  # regression targets vary by nature


def test_missing_target_rows_are_reported(cancer):
    X, y = cancer
    target = pd.Series(y, dtype=float)
    assert check_missing_target(int(target.isna().sum()), len(target), "target") == []
    target.iloc[::20] = np.nan
    [found] = check_missing_target(int(target.isna().sum()), len(target), "target")
    assert (found.severity, found.evidence["n_dropped"]) == ("warning", 29)  # 5.1% of rows


# 10. Tuning sanity -------------------------------------------------------------------------------------

def test_tuning_range_edge(cancer):
    X, y = cancer
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    for high, fires in ((16, False), (3, True)):  # planted: trees no deeper than 2
        space = {"max_depth": randint(1, high)}
        search = RandomizedSearchCV(DecisionTreeClassifier(random_state=0), space, n_iter=8, cv=cv, scoring="roc_auc",
                                    random_state=0).fit(X, y)
        trials = [{"params": p, "score": v} for p, v in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])]
        found = check_tuning_range(space, search.best_params_, "the tree", trials)
        assert bool(found) is fires
    assert (found[0].evidence["best"], found[0].evidence["position"]) == (2, 1.0) and "upper end" in found[0].message
    assert check_tuning_range({"C": loguniform(1e-3, 1e2)}, {"C": 1e2 * 0.99}) != []  # the log scale's top 5%
    assert check_tuning_range({"C": loguniform(1e-3, 1e2)}, {"C": 1.0}) == []
    plateau = [{"params": {"C": c}, "score": 0.95} for c in (1e-2, 1e-1, 1.0, 10.0, 99.0)]
    assert check_tuning_range({"C": loguniform(1e-3, 1e2)}, {"C": 99.0}, trials=plateau) == []  # flat, not rising
    rising = [{"params": {"C": c}, "score": v} for c, v in ((1e-2, 0.80), (1e-1, 0.85), (1.0, 0.90), (99.0, 0.95))]
    assert check_tuning_range({"C": loguniform(1e-3, 1e2)}, {"C": 99.0}, trials=rising)[0].evidence["score_trend"] == 1.0


def test_unfair_comparison_of_tuned_and_default_models(cancer):
    X, y = cancer
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    tuned = GridSearchCV(logistic, {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    assert check_comparison({"logistic": logistic.fit(X, y), "forest": forest}) == []
    [found] = check_comparison({"logistic": tuned, "forest": forest})
    assert found.evidence == {"tuned": ["logistic"], "default": ["forest"]}


# The finding and its rendering -----------------------------------------------------------------------

def test_finding_rejects_an_unknown_severity_and_the_report_renders():
    with pytest.raises(ValueError, match="severity must be one of info, warning, error; got 'fatal'"):
        Finding("x", "fatal", "m")
    report = GuardReport([Finding("seeds", "warning", "w", {"n": 1}, "fix it"), Finding("target_leakage", "error", "leak")])
    html = report._repr_html_()
    assert html.index("target leakage") < html.index("seeds") and "1 error, 1 warning, 0 notes" in html


def test_near_duplicates_by_chance_in_a_small_space_are_not_contamination():
    """ISLP's Default has two continuous features: rows fall close together at random, which a
    random split reproduces on both sides; only an excess over that chance rate is contamination."""
    from pathlib import Path

    frame = pd.read_csv(Path(__file__).parent / "data" / "Default.csv")
    features = ["student", "balance", "income"]
    train, test = train_test_split(frame, test_size=0.25, random_state=42, stratify=frame["default"])
    assert check_contamination(train, test, features, seed=0) == []
    near = train.iloc[:600].assign(balance=lambda d: d["balance"] * (1 + 1e-5))
    planted = pd.concat([test, near[near["balance"] > 0]])
    [found] = check_contamination(train, planted, features, seed=0)
    assert found.evidence["near_rate"] > found.evidence["near_rate_by_chance"]
    assert found.evidence["n_exact"] + found.evidence["n_near"] >= 100


def test_the_feature_plan_builds_no_aggregate_on_a_column_the_leakage_guard_flagged(cancer):
    """Breast cancer with a planted 'ward' key: 40 wards, each holding one diagnosis only (a leak).
    The auto plan would average the two most varied columns per ward: that spreads the leak."""
    from mlsmith.features import plan_features

    X, y = cancer
    rng = np.random.default_rng(0)
    ward = np.where(y == 1, rng.integers(0, 20, len(y)), rng.integers(20, 40, len(y)))
    frame = X.assign(ward=[f"w{i}" for i in ward], diagnosis=y)
    schema = infer_schema(frame, "diagnosis")
    report = GuardReport(check_target_leakage(frame[schema.features()], y, BIN, {c.name: c.role for c in schema.columns}, seed=0))
    assert report.leak_columns() == ["ward"] and report.errors[0].evidence["column"] == "ward"
    unguarded = plan_features(frame, schema)
    assert [t.by for t in unguarded.of_kind("aggregate")] == ["ward"]
    guarded = plan_features(frame, schema, flagged=report.leak_columns())
    assert guarded.of_kind("aggregate") == [] and [t.columns for t in guarded.of_kind("target_encoding")] == [["ward"]]
    assert "no aggregate is keyed on or computed from 'ward': the leakage guard flagged it" in guarded.notes
    assert {(t.kind, tuple(t.columns)) for t in guarded.transforms} == {
        (t.kind, tuple(t.columns)) for t in unguarded.transforms if t.kind != "aggregate"}


def test_distinct_births_sharing_discrete_covariates_are_chance_not_contamination():
    """Wooldridge's bwght: distinct births share every covariate (12 of 278 test rows on seed 42), and the
    columns are far from independent (lfaminc = log faminc, packs = cigs / 20). The collision rate
    of distinct training records (equal features, different weights) says that is chance."""
    births = pd.read_csv(DATA / "bwght.csv")
    features = [c for c in births.columns if c not in ("bwght", "lbwght", "bwghtlbs")]
    for seed in [42, *range(8)]:
        train, test = train_test_split(births, test_size=0.2, random_state=seed)
        [found] = check_contamination(train, test, features, y=train["bwght"], seed=0)
        e = found.evidence
        assert found.severity == "info" and e["n_exact"] <= e["n_exact_plausible"], (seed, e)
        assert e["n_exact_by_chance"] == e["n_exact_by_chance_distinct_records"] > 5
        assert e["n_exact_by_chance_independent_columns"] < 0.1  # independence would call it contamination
        assert "distinct training records (different targets) share all feature values" in found.message
    # Without the target, only the independence estimate is left, and it flags these rows.
    [found] = check_contamination(train, test, features, seed=0)
    assert found.severity == "warning" and found.evidence["n_exact_by_chance_distinct_records"] is None
