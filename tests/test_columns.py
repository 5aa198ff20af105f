"""One date parser and one time-zone policy, on every path (issue 18: zoned ISO timestamps)."""

from pathlib import Path

import numpy as np
import pandas as pd

import mlsmith
from mlsmith._columns import as_time, parse_dates
from mlsmith.features import DateFeatures, ElapsedDays
from mlsmith.preprocess import to_float

from conftest import write_problem

DATA = Path(__file__).parent / "data"


def _bikeshare() -> pd.DataFrame:
    return pd.read_csv(DATA / "bikeshare_2011.csv")


def test_zoned_offset_and_naive_spellings_of_one_instant_parse_alike():
    naive = pd.to_datetime(_bikeshare()["datetime"])
    z = naive.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    plus_one = (naive + pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%dT%H:%M:%S+01:00")
    mixed = z.where(np.arange(len(z)) % 2 == 0, plus_one)  # one column, two offsets
    for column in (z, plus_one, mixed, naive.dt.tz_localize("UTC"),
                   naive.dt.tz_localize("UTC").dt.tz_convert("America/New_York")):
        parsed = parse_dates(column)
        assert parsed.dt.tz is None
        pd.testing.assert_series_equal(parsed, naive, check_names=False, check_dtype=False)
    assert as_time(mixed) is not None and as_time(_bikeshare()["temp"]) is None


def test_date_features_of_a_zoned_column_equal_those_of_the_naive_one():
    naive = _bikeshare()[["datetime"]]
    zoned = naive.assign(datetime=pd.to_datetime(naive["datetime"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    expected = DateFeatures().fit_transform(naive)
    np.testing.assert_array_equal(DateFeatures().fit_transform(zoned), expected)
    after = pd.to_datetime(naive["datetime"]).shift(-1)
    pair = pd.DataFrame({"a": zoned["datetime"], "b": after})  # one zoned, one naive column
    days = ElapsedDays().fit(pair).transform(pair)[:-1, 0]
    gaps = (after - pd.to_datetime(naive["datetime"])).dt.total_seconds().to_numpy()[:-1] / 86400
    np.testing.assert_allclose(days, gaps)


def test_infinity_is_missing_and_the_frame_is_not_touched():
    frame = _bikeshare()[["temp", "hum"]].head(5).copy()
    frame.iloc[1, 0], frame.iloc[2, 1] = np.inf, -np.inf
    out = to_float(frame)
    assert np.isnan(out[1, 0]) and np.isnan(out[2, 1]) and np.isfinite(out[0]).all()
    assert np.isinf(frame.iloc[1, 0])  # the caller's frame keeps its value


def test_a_run_on_zoned_timestamps_with_infinities_trains_every_family(tmp_path):
    frame = _bikeshare().head(800)
    frame["datetime"] = pd.to_datetime(frame["datetime"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.loc[::50, "temp"] = np.inf
    spec = write_problem(tmp_path, frame, target="bikers", data={"time_column": "datetime"},
                         models=["linear", "decision_tree"], tuning={"method": "none"},
                         split={"cv_folds": 3}, seed=3)
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    scored = {row.model: row.cv_mean for row in result.leaderboard.rows}
    assert {"linear", "decision_tree"} <= set(scored)
    assert all(np.isfinite(v) for v in scored.values())
    # the time-ordered split kept the order of the instants, not of the strings' zones
    assert result.evaluation.test_metrics["r2"] > 0.3


def test_huge_values_and_an_infinite_target_do_not_stop_a_run(tmp_path):
    # ISLP Hitters: a magnitude past float32's in a feature (trees cast to float32, where it is
    # infinite; DuckDB's skewness overflowed on its cube) and +-inf in the regression target
    frame = pd.read_csv(DATA / "hitters.csv")
    frame["CRuns"] = frame["CRuns"].astype(float)
    frame.loc[[0, 1], "CRuns"] = [1e300, -1e300]
    salary = frame["Salary"].to_numpy(dtype=float)
    frame.loc[[2, 3], "Salary"] = [np.inf, -np.inf]
    spec = write_problem(tmp_path, frame, target="Salary", models=["linear", "decision_tree"],
                         tuning={"method": "none", "learning_curve": False}, split={"cv_folds": 3}, seed=1)
    result = mlsmith.run(spec, runs_dir=tmp_path / "runs", n_jobs=1)
    n_dropped = int(np.isnan(salary).sum()) + 2
    assert f"{n_dropped - 2} rows with a missing target and 2 rows with an infinite target were dropped " \
           "before the split" in result.notes
    assert result.split.n_train + result.split.n_test == len(frame) - n_dropped
    assert np.isfinite(result.evaluation.test_metrics["rmse"])
    report = mlsmith.assess_quality(tmp_path / "data.csv", target="Salary")
    assert report.numeric_summary["CRuns"]["max"] == 1e300  # reported as it is, skew not computable
