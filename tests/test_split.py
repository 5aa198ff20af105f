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
    assert info.strategy == "stratified" and info.n_test == held.n_rows == round(0.2 * len(churn_small))
    test = held.read()
    assert abs(train["churned"].mean() - test["churned"].mean()) < 0.01
    assert not set(train.index) & set(test.index)
    assert isinstance(cv_splitter(p, train)[0], StratifiedKFold)


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
