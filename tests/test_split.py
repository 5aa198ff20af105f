from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

from mlsmith.exceptions import DataError
from mlsmith.problem import Problem
from mlsmith.split import cv_splitter, split_train_test


def _problem(**kw):
    return Problem(target="churned", data={"path": "x.csv", **kw.pop("data", {})}, **kw).resolve(pd.Series([0, 1]))


def test_stratified_split_is_seeded_and_keeps_class_shares(churn_small):
    p = _problem()
    train, held, info = split_train_test(churn_small, p)
    train2, held2, _ = split_train_test(churn_small, p)
    assert train.index.equals(train2.index)
    # The demo table holds 4 exact copies, each kept with its original; the test split keeps its size.
    assert info.strategy == "stratified" and info.n_duplicate_rows == 4
    assert info.n_test == held.n_rows == round(0.2 * len(churn_small))
    test = held.read()
    assert abs(train["churned"].mean() - test["churned"].mean()) < 0.01
    assert not set(train.index) & set(test.index)
    distinct = churn_small.drop_duplicates()
    train, _, info = split_train_test(distinct, p)
    assert info.n_duplicate_rows == 0 and isinstance(cv_splitter(p, train)[0], StratifiedKFold)


def test_test_split_is_read_once(churn_small):
    _, held, _ = split_train_test(churn_small, _problem())
    held.read()
    with pytest.raises(RuntimeError, match="already read once"):
        held.read()


def test_time_split_puts_latest_rows_in_test(churn_small):
    p = _problem(data={"time_column": "signup_date"})
    train, held, info = split_train_test(churn_small, p)
    test = held.read()
    assert info.strategy == "time"
    assert pd.to_datetime(train["signup_date"]).max() <= pd.to_datetime(test["signup_date"]).min()
    assert pd.to_datetime(train["signup_date"]).is_monotonic_increasing  # TimeSeriesSplit needs time order
    assert isinstance(cv_splitter(p, train)[0], TimeSeriesSplit)


def test_group_split_keeps_each_group_on_one_side(churn_small):
    churn_small = churn_small.assign(household=np.arange(len(churn_small)) // 4)
    p = _problem(data={"group_column": "household"}, split={"test_size": 0.25})
    train, held, info = split_train_test(churn_small, p)
    test = held.read()
    assert info.strategy == "group"
    assert not set(train["household"]) & set(test["household"])
    splitter, groups = cv_splitter(p, train)
    assert len(groups) == len(train)


def test_too_few_rows_for_folds():
    df = pd.DataFrame({"x": np.arange(8.0), "churned": [0, 1] * 4})
    with pytest.raises(DataError, match="only 6 training rows for 5-fold cross-validation; need at least 10"):
        split_train_test(df, _problem())


def test_too_few_groups_for_folds(churn_small):
    p = _problem(data={"group_column": "region"}, split={"test_size": 0.25})
    with pytest.raises(DataError, match="group_column 'region' has 3 groups in the training rows, fewer than the 5"):
        split_train_test(churn_small, p)


@pytest.mark.parametrize("task", ["binary_classification", "regression"])
def test_every_row_twice_no_copy_straddles_the_split_or_a_fold(task):
    """scikit-learn's breast cancer with every row twice: a row-level split put copies on both sides
    (the test score then rewards memorising); the split and the folds keep each pair together."""
    from sklearn.datasets import load_breast_cancer

    from mlsmith.guards import check_contamination

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    target = "target" if task != "regression" else "mean area"
    frame = X.assign(target=y) if task != "regression" else X
    doubled = pd.concat([frame, frame], ignore_index=True).sample(frac=1, random_state=0).reset_index(drop=True)
    p = Problem(target=target, type=task, data={"path": "x.csv"}, seed=3).resolve(doubled[target])
    train, held, info = split_train_test(doubled, p)
    test = held.read()
    assert info.n_duplicate_rows == len(frame) and "569 rows are exact copies" in info.description
    key = lambda d: set(map(tuple, d.to_numpy()))  # noqa: E731
    assert not key(train) & key(test)
    assert 0 <= np.ceil(0.2 * len(doubled)) - len(test) <= 2  # pairs cannot fill an odd quota of either class
    if task != "regression":
        assert abs(test["target"].mean() - doubled["target"].mean()) < 0.02
    cv, groups = cv_splitter(p, train)
    folds = list(cv.split(train, train[target], groups))
    assert len(folds) == 5 and sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(train)))
    for fit, held_out in folds:
        assert not key(train.iloc[fit]) & key(train.iloc[held_out])
    features = [c for c in frame.columns if c != target]
    # No test row is shared; the copies within training are named (they weigh double), as a warning.
    [within] = check_contamination(train, test, features, seed=0)
    assert within.severity == "warning" and "n_exact" not in within.evidence
    # The same table split row by row (as before): copies straddle the split and the guard says so.
    naive_train, naive_test = train.iloc[: len(train) // 2], pd.concat([test, train.iloc[len(train) // 2:]])
    [found] = [f for f in check_contamination(naive_train, naive_test, features, seed=0) if "n_exact" in f.evidence]
    assert found.severity == "error" and found.evidence["n_exact_by_chance"] < 0.01
    assert found.evidence["n_exact"] == len(key(naive_train) & key(naive_test))


def test_a_class_of_few_distinct_rows_copied_many_times_is_split_as_rows_and_said():
    # palmerpenguins: Chinstrap cut to 3 distinct birds, each copied 4 times (12 rows): keeping copies
    # together cannot place the class in 5 folds. The run was refused; the rows are now split as rows,
    # the split says so, and the copies across it are left to the contamination guard.
    penguins = pd.read_csv(Path(__file__).parent / "data" / "penguins.csv").dropna()
    few = penguins[penguins["species"] == "Chinstrap"].head(3)
    frame = pd.concat([penguins[penguins["species"] != "Chinstrap"]] + [few] * 4, ignore_index=True)
    p = Problem(target="species", data={"path": "x.csv"}, split={"test_size": 0.2}, seed=0).resolve(frame["species"])
    train, held_out, info = split_train_test(frame, p)
    assert info.n_duplicate_rows == 0 and "9 rows are exact copies of others, split as rows" in info.description
    test = held_out.read()
    assert (test["species"] == "Chinstrap").any() and (train["species"] == "Chinstrap").sum() >= 5


def test_the_split_description_names_its_kind_once():
    from mlsmith.problem import parse_problem
    from mlsmith.split import split_train_test

    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.r_[np.zeros(100), np.ones(100)]})
    for task, kind in (("regression", "random split"), ("binary_classification", "stratified random split")):
        problem = parse_problem({"target": "y", "type": task, "data": {"path": "x.csv"}})
        _, _, info = split_train_test(frame, problem)
        assert info.description == f"{kind}, seed 42"


def test_a_table_whose_rows_coincide_by_construction_is_split_as_rows_not_refused(tmp_path, capsys):
    # Titanic's 1,316 passengers fall in 16 combinations of class, age and sex: keeping every set of
    # copies on one side left class 'no' with 3 distinct training rows for 5 folds, and the run was
    # refused. The copies are distinct people who coincide; they are split as rows, and said so.
    from conftest import run_cli

    data = Path(__file__).parent / "data" / "titanic.csv"
    frame = pd.read_csv(data)
    problem = Problem(target="survived", data={"path": str(data)}).resolve(frame["survived"])
    train, held_out, info = split_train_test(frame, problem)
    assert info.n_duplicate_rows == 0 and "split as rows: a class has too few distinct rows" in info.description
    assert info.cv.startswith("StratifiedKFold") and held_out.n_rows == int(np.ceil(0.2 * len(frame)))
    spec = tmp_path / "problem.yaml"
    spec.write_text(f"target: survived\ndata: {{path: {data}}}\nmodels: [linear]\n"
                    "tuning: {method: none, learning_curve: false}\n")
    assert run_cli("run", spec, "--runs-dir", tmp_path / "runs", "--jobs", "1") == 0
