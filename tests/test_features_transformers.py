"""What each transformer computes, checked against numpy, pandas, holidays and scikit-learn."""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import KBinsDiscretizer

from mlsmith.features import Binning, DateFeatures, ElapsedDays, GroupAggregate, LogTransform, Ratios


def test_date_parts_and_us_holidays_match_pandas_and_the_holidays_calendar():
    days = pd.Series(pd.date_range("2011-01-01", "2011-12-31 23:00", freq="7h"))
    out = DateFeatures(holidays_country="US").set_output(transform="pandas").fit_transform(days.to_frame("t"))
    assert out["t_dayofweek"].tolist() == days.dt.dayofweek.astype(float).tolist()
    assert out["t_hour"].tolist() == days.dt.hour.astype(float).tolist()
    calendar = holidays.country_holidays("US", years=2011)
    expected = [float(d.date() in calendar) for d in days]
    assert out["t_is_holiday"].tolist() == expected
    assert 0 < sum(expected) < len(expected)


def test_dates_without_time_have_no_hour_and_unparseable_values_are_missing():
    X = pd.DataFrame({"d": ["2024-02-29", "not a date", None]})
    t = DateFeatures().fit(X)
    assert "d_hour" not in t.get_feature_names_out()
    out = t.transform(X)
    assert out[0].tolist() == [2024, 2, 29, 3, 0, 19782]
    assert np.isnan(out[1:]).all()


def test_elapsed_days_is_the_pandas_difference_in_days():
    X = pd.DataFrame({"a": ["2024-01-01 00:00", "2024-03-01 12:00"], "b": ["2024-01-11 06:00", "2024-02-01"]})
    expected = (pd.to_datetime(X["b"], format="mixed") - pd.to_datetime(X["a"])) / pd.Timedelta(days=1)
    np.testing.assert_allclose(ElapsedDays(pairs=[("a", "b")]).fit_transform(X).ravel(), expected)
    with pytest.raises(ValueError, match=r"pair \('a', 'z'\) names 'z', which is not an input column"):
        ElapsedDays(pairs=[("a", "z")]).fit(X)


def test_log_is_log1p_zero_safe_and_negatives_are_signed_or_clipped():
    x = np.array([[0.0], [3.0], [-3.0], [np.nan]])
    signed = LogTransform().fit(x)
    np.testing.assert_allclose(signed.transform(x).ravel(), [0, np.log1p(3), -np.log1p(3), np.nan])
    assert signed.n_negative_.tolist() == [1]
    np.testing.assert_allclose(LogTransform(negative="clip").fit_transform(x).ravel(), [0, np.log1p(3), 0, np.nan])
    with pytest.raises(ValueError, match="negative must be 'signed' or 'clip'; got 'drop'"):
        LogTransform(negative="drop").fit(x)


def test_ratios_guard_against_zero_denominators():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 0.0, 1e-15]})
    out = Ratios().set_output(transform="pandas").fit_transform(X)
    assert out.columns.tolist() == ["a_per_b"]
    assert out["a_per_b"].iloc[0] == 0.5 and out["a_per_b"].iloc[1:].isna().all()


def test_quantile_bins_are_kbinsdiscretizers_and_fixed_edges_carry_labels():
    x = np.random.default_rng(0).normal(size=(200, 1))
    ours = Binning(n_bins=4).fit(x)
    theirs = KBinsDiscretizer(n_bins=4, encode="ordinal", strategy="quantile", quantile_method="averaged_inverted_cdf")
    np.testing.assert_array_equal(ours.transform(x), theirs.fit_transform(x))
    fixed = Binning(strategy="fixed", edges=[0, 10]).fit([[1.0]])
    assert fixed.bin_labels_ == [["< 0", "[0, 10)", ">= 10"]]
    assert fixed.transform([[-1.0], [0.0], [10.0], [np.nan]]).ravel()[:3].tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"'labels' needs strategy='fixed' and one label per bin \(3\); got 2 labels"):
        Binning(strategy="fixed", edges=[0, 10], labels=["lo", "hi"]).fit([[1.0]])


def test_rows_without_a_key_are_one_group_whatever_the_batch_holds():
    train = pd.DataFrame({"k": [1.0, 1.0, np.nan, 2.0, np.nan], "v": [1.0, 3.0, 10.0, 5.0, 20.0]})
    g = GroupAggregate(stats=("mean", "count")).fit(train)
    assert g.transform(train).tolist() == [[2.0, 2.0], [2.0, 2.0], [15.0, 2.0], [5.0, 1.0], [15.0, 2.0]]
    # alone in a batch (one served request) a missing key used to get the unseen-key defaults
    assert g.transform(train.iloc[[2]]).tolist() == [[15.0, 2.0]]


def test_group_aggregates_are_learned_from_the_fitted_rows_only():
    train = pd.DataFrame({"k": ["a", "a", "b", "b", "b"], "v": [1.0, 3.0, 2.0, np.nan, 5.0]})
    g = GroupAggregate(stats=("mean", "sum", "count", "last")).set_output(transform="pandas").fit(train)
    expected = train.groupby("k")["v"].agg(["mean", "sum", "last"])
    new = pd.DataFrame({"k": ["b", "a", "zz"], "v": [100.0, 100.0, 100.0]})  # the new rows' values are not used
    out = g.transform(new)
    assert out["v_mean_by_k"].tolist()[:2] == [expected.loc["b", "mean"], expected.loc["a", "mean"]]
    assert out["v_sum_by_k"].tolist() == [expected.loc["b", "sum"], expected.loc["a", "sum"], 0.0]
    assert out["v_last_by_k"].tolist()[:2] == [5.0, 3.0]
    assert out["count_by_k"].tolist() == [3.0, 2.0, 0.0]
    assert np.isnan(out["v_mean_by_k"].iloc[2])
    with pytest.raises(ValueError, match="stats must be some of mean, sum, count, last; got \\['median'\\]"):
        GroupAggregate(stats=("median",)).fit(train)
