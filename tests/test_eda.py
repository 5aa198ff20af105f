"""Stage 3: every EDA statistic against an independent computation (pandas, scipy, scikit-learn) on real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.stats.contingency import association
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mutual_info_score, roc_auc_score

from mlsmith.eda import explore
from mlsmith.eda._distributions import bimodality_coefficient, count_modes
from mlsmith.exceptions import DataError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def diabetes():
    df = load_diabetes(as_frame=True, scaled=False).frame
    return df, explore(df, "target", seed=0)


@pytest.fixture(scope="module")
def cancer():
    df = load_breast_cancer(as_frame=True).frame
    df["leak"] = df["target"] * 3.0 + np.random.default_rng(0).normal(0, 0.01, len(df))
    return df, explore(df, "target", seed=0)


@pytest.fixture(scope="module")
def hitters():
    df = pd.read_csv(DATA / "hitters.csv")
    df["Salary_late"] = df["Salary"].where(df["Years"] > 4)  # missing whenever Salary is, and more
    return df, explore(df, "NewLeague", seed=0)


def _assoc(report, feature):
    return next(a for a in report.associations if a["feature"] == feature)


def test_distributions_match_scipy_and_pandas(diabetes):
    df, r = diabetes
    assert r.task == "regression" and r.sample_rows == len(df)
    for c in df.columns.drop("target"):
        if c == "sex":
            continue
        d, x = r.distributions[c], df[c]
        assert d["skew"] == pytest.approx(stats.skew(x, bias=False), rel=1e-9)
        assert d["kurtosis"] == pytest.approx(stats.kurtosis(x, bias=False), rel=1e-9)
        q1, med, q3 = x.quantile([0.25, 0.5, 0.75])
        lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
        assert (d["q1"], d["median"], d["q3"]) == pytest.approx((q1, med, q3))
        assert d["n_outliers"] == int(((x < lo) | (x > hi)).sum())
        assert d["whisker_low"] == x[x >= lo].min() and d["whisker_high"] == x[x <= hi].max()
        assert d["bimodality_coefficient"] == pytest.approx(
            bimodality_coefficient(stats.skew(x, bias=False), stats.kurtosis(x, bias=False), len(x)))


def test_numeric_target_association_pearson_spearman(diabetes):
    df, r = diabetes
    for c in df.columns.drop("target"):
        a = _assoc(r, c)
        assert a["pearson"] == pytest.approx(df[c].corr(df["target"]), abs=1e-12)
        assert a["spearman"] == pytest.approx(stats.spearmanr(df[c], df["target"])[0], abs=1e-12)
        assert a["strength"] == pytest.approx(max(abs(a["pearson"]), abs(a["spearman"])))
    strengths = [a["strength"] for a in r.associations]
    assert strengths == sorted(strengths, reverse=True)


def test_correlation_matrix_and_vif(diabetes):
    df, r = diabetes
    cols = r.correlation["columns"]
    expected = df[cols].corr().to_numpy()
    np.testing.assert_allclose(r.correlation["matrix"], expected, atol=1e-12)
    for c in cols:
        others = [o for o in cols if o != c]
        r2 = LinearRegression().fit(df[others], df[c]).score(df[others], df[c])
        assert r.correlation["vif"][c] == pytest.approx(1 / (1 - r2), rel=1e-6)
    flagged = {f.column for f in r.findings if f.check == "high_vif"}
    assert flagged == {c for c in cols if r.correlation["vif"][c] > 10}


def test_binary_target_eta_auc_collinearity_balance_leakage(cancer):
    df, r = cancer
    assert r.task == "binary_classification" and r.positive_class == "1"
    for c in ["mean radius", "worst texture", "smoothness error"]:
        a, x, y = _assoc(r, c), df[c], df["target"]
        groups = x.groupby(y)
        eta = np.sqrt((groups.count() * (groups.mean() - x.mean()) ** 2).sum() / ((x - x.mean()) ** 2).sum())
        assert a["eta"] == pytest.approx(eta, rel=1e-9)
        assert a["auc"] == pytest.approx(roc_auc_score(y, x), abs=1e-12)
        assert a["pearson"] == pytest.approx(stats.pointbiserialr(y, x)[0], abs=1e-12)
    corr = df.drop(columns="target").corr()
    expected = {tuple(sorted((a, b))) for a in corr for b in corr if a < b and abs(corr.loc[a, b]) > 0.9}
    found = {tuple(sorted((f.column, f.evidence["other"]))) for f in r.findings if f.check == "collinear_pair"}
    assert found == expected
    assert r.class_balance["counts"] == {str(k): int(v) for k, v in df["target"].value_counts().items()}
    leaks = [f for f in r.findings if f.check == "leakage_suspect"]
    assert [f.column for f in leaks] == ["leak"] and leaks[0].severity == "error"
    assert all(f.fix for f in r.findings)


def test_categorical_association_and_missingness_vs_target(hitters):
    df, r = hitters
    for c in ("League", "Division"):
        a = _assoc(r, c)
        table = pd.crosstab(df[c], df["NewLeague"])
        assert a["cramers_v"] == pytest.approx(association(table.to_numpy(), method="cramer"), abs=1e-12)
        assert a["mutual_info"] == pytest.approx(mutual_info_score(df[c], df["NewLeague"]), abs=1e-12)
    # League almost determines NewLeague (few players switch): a leakage suspect, with its reason
    league = _assoc(r, "League")
    assert league["purity"] == pytest.approx(pd.crosstab(df["League"], df["NewLeague"]).max(axis=1).sum() / len(df))
    m = r.missingness
    indicators = df[m["columns"]].isna().astype(float)
    np.testing.assert_allclose(m["cooccurrence"], indicators.corr().to_numpy(), atol=1e-12)
    assert any(f.check == "missing_together" for f in r.findings)
    for c in m["columns"]:
        ct = pd.crosstab(df[c].isna(), df["NewLeague"])
        assert m["vs_target"][c]["p_value"] == pytest.approx(stats.chi2_contingency(ct, correction=False)[1])
        assert m["vs_target"][c]["effect"] == pytest.approx(association(ct.to_numpy(), method="cramer"))
    # the numeric correlation matrix uses pairwise-complete rows, like pandas
    cols = r.correlation["columns"]
    np.testing.assert_allclose(r.correlation["matrix"], df[cols].corr().to_numpy(), atol=1e-9)


def test_regression_missingness_and_correlation_ratio(hitters):
    df = hitters[0]
    r = explore(df, "Runs", task="regression", seed=0)
    d = r.missingness["vs_target"]["Salary"]
    assert d["effect"] == pytest.approx(abs(stats.pointbiserialr(df["Salary"].isna(), df["Runs"])[0]), abs=1e-9)
    assert d["p_value"] == pytest.approx(stats.pointbiserialr(df["Salary"].isna(), df["Runs"])[1], rel=1e-6)
    y, g = df["Runs"], df["League"]
    eta = np.sqrt((y.groupby(g).count() * (y.groupby(g).mean() - y.mean()) ** 2).sum() / ((y - y.mean()) ** 2).sum())
    assert _assoc(r, "League")["eta"] == pytest.approx(eta, rel=1e-9)
    assert any(f.check == "missing_not_at_random" and f.column == "Salary" for f in r.findings)


def test_temporal_trend_on_nyse():
    df = pd.read_csv(DATA / "nyse.csv", parse_dates=["date"])
    r = explore(df, "log_volume", task="regression", seed=0)
    t = r.temporal
    assert t["column"] == "date" and t["period"] == "month"
    monthly = df.set_index("date")["log_volume"].resample("MS").agg(["count", "mean"])
    monthly = monthly[monthly["count"] > 0]
    assert t["counts"] == monthly["count"].tolist()
    np.testing.assert_allclose(t["means"], monthly["mean"], rtol=1e-9)
    tau, p = stats.kendalltau(np.arange(len(monthly)), monthly["mean"])
    assert t["trend"]["kendall_tau"] == pytest.approx(tau) and t["trend"]["p_value"] == pytest.approx(p)
    # NYSE log_volume is detrended by construction (relative to a 100-day average) but varies by month of year;
    # volatility rose over the decades
    assert {f.check for f in r.findings if f.column == "date"} == {"seasonality"}
    by_month = [g.to_numpy() for _, g in pd.Series(np.asarray(t["means"]) - np.polyval(np.polyfit(
        np.arange(len(monthly)), t["means"], 1), np.arange(len(monthly))), index=monthly.index.month).groupby(level=0)]
    assert t["seasonality"]["p_value"] == pytest.approx(stats.f_oneway(*by_month)[1], rel=1e-6)
    volatility = explore(df, "log_volatility", task="regression", seed=0)
    assert {f.check for f in volatility.findings if f.column == "date"} == {"temporal_trend"}


def test_modes_and_bimodality():
    rng = np.random.default_rng(1)
    assert count_modes(rng.normal(size=20_000)) == 1
    assert count_modes(np.r_[rng.normal(0, 1, 10_000), rng.normal(5, 1, 10_000)]) == 2
    assert count_modes(rng.poisson(3, 20_000).astype(float)) == 1  # integer values: no comb artefacts
    x = np.r_[rng.normal(0, 1, 5000), rng.normal(6, 1, 5000)]
    s, k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)
    n = len(x)
    assert bimodality_coefficient(s, k, n) == pytest.approx((s**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))
    assert bimodality_coefficient(s, k, n) > 5 / 9


def test_file_input_gives_the_exact_statistics_of_the_frame(diabetes, tmp_path):
    df, r = diabetes
    df.to_parquet(tmp_path / "d.parquet", index=False)
    from_file = explore(tmp_path / "d.parquet", "target", seed=0)
    assert from_file.source.endswith("d.parquet")
    np.testing.assert_allclose(from_file.correlation["matrix"], r.correlation["matrix"], atol=1e-12)
    for c, d in r.distributions.items():
        assert from_file.distributions[c]["skew"] == pytest.approx(d["skew"])
        assert from_file.distributions[c]["n_outliers"] == d["n_outliers"]


def test_page_embeds_figures_not_rows(cancer):
    from mlsmith.report._profile import profile_page
    from mlsmith.runs import to_jsonable

    df, r = cancer
    page = profile_page("EDA", {"eda": to_jsonable(r)})
    assert page.count("data:image/png;base64,") >= 3 and 'id="eda"' in page
    assert len(page) < 3 * 2**20
    assert f"{df['mean radius'].iloc[0]!r}" not in page  # a raw value of the first row


def test_errors_name_the_value():
    df = load_diabetes(as_frame=True).frame
    with pytest.raises(DataError, match="target 'y' is not a column of the data"):
        explore(df, "y", seed=0)
    with pytest.raises(DataError, match="task must be one of .*; got 'classification'"):
        explore(df, "target", task="classification", seed=0)
    with pytest.raises(DataError, match="target 'target' has 0 non-missing values in 0 rows"):
        explore(df.iloc[:0], "target", seed=0)


def test_a_binary_task_on_a_target_of_three_classes_names_the_count():
    # it failed with numpy's TypeError: no positive class, so no 0/1 target for the AUCs
    iris = load_iris(as_frame=True).frame
    with pytest.raises(DataError, match=r"^task is binary_classification but target 'target' has 3 classes; pass "
                                        r"task='multiclass_classification' or check the target column\.$"):
        explore(iris, "target", task="binary_classification", seed=0)
    assert explore(iris, "target", task="multiclass_classification", seed=0).task == "multiclass_classification"


#: Labels and column names that are SQL syntax if pasted into a query: a quote, a backslash, a double quote, unicode.
AWKWARD = ["O'Yes \\ \"é\"", "won't", "naïve\\", "it's ok"]


def test_labels_and_names_with_quotes_are_data_not_sql(tmp_path):
    df = pd.read_csv(DATA / "Default.csv")
    df["default"] = df["default"].map({"No": "N'o", "Yes": AWKWARD[0]})
    df["student"] = df["student"].map({"No": AWKWARD[1], "Yes": AWKWARD[2]})
    df = df.rename(columns={"balance": 'bal"ance\\ü', "income": "inc'ome"})
    path = tmp_path / "it's.csv"
    df.to_csv(path, index=False)
    for data in (df, path):
        r = explore(data, "default", positive_class=AWKWARD[0], seed=0)
        assert r.positive_class == AWKWARD[0]
        assert r.class_balance["counts"] == {"N'o": 9667, AWKWARD[0]: 333}
        y = df["default"] == AWKWARD[0]
        student = {lv: (n, rate) for lv, n, rate in _assoc(r, "student")["levels"]}
        for level, group in y.groupby(df["student"]):
            assert student[level] == (len(group), pytest.approx(group.mean(), rel=1e-12))
        balance = _assoc(r, 'bal"ance\\ü')
        assert balance["pearson"] == pytest.approx(stats.pointbiserialr(y, df['bal"ance\\ü'])[0], abs=1e-9)
        assert balance["auc"] == pytest.approx(roc_auc_score(y, df['bal"ance\\ü']), abs=1e-12)


def test_multiclass_labels_with_quotes_reach_the_temporal_rates():
    df = pd.read_csv(DATA / "bikeshare_2011.csv", parse_dates=["datetime"])
    df["weathersit"] = df["weathersit"].map(dict(zip(["clear", "cloudy/misty", "light rain/snow"], AWKWARD[1:])))
    r = explore(df, "weathersit", time_column="datetime", seed=0)
    assert r.task == "multiclass_classification"
    rare = (df["weathersit"] == AWKWARD[3]).groupby(df["datetime"].dt.to_period("W").dt.start_time)
    assert r.temporal["y"] == f"rate of weathersit = {AWKWARD[3]}"
    np.testing.assert_allclose(r.temporal["means"], rare.mean().to_numpy(), rtol=1e-12)


def test_vif_on_complete_cases_is_never_negative_and_names_exact_collinearity():
    """Wooldridge's mroz: wage is missing for 325 of 753 women, so the pair-by-pair matrix is not
    positive semidefinite and its inverse gave faminc a VIF of -128.9."""
    df = pd.read_csv(DATA / "mroz.csv")
    r = explore(df, "inlf", seed=0)
    cols, vif = r.correlation["columns"], r.correlation["vif"]
    complete = df[cols].dropna()
    assert r.correlation["vif_basis"] == "complete cases" and r.correlation["vif_rows"] == len(complete) == 428
    for c in cols:
        others = [o for o in cols if o != c]
        r2 = LinearRegression().fit(complete[others], complete[c]).score(complete[others], complete[c])
        assert vif[c] == pytest.approx(1 / (1 - r2), rel=1e-6)
    assert min(vif.values()) >= 1 and {f.column for f in r.findings if f.check == "high_vif"} == {
        c for c in cols if vif[c] > 10} >= {"faminc", "nwifeinc"}
    # Planted: the number of children, next to its two parts, is an exact linear combination of them.
    planted = explore(df.assign(kids=df["kidslt6"] + df["kidsge6"]), "inlf", seed=0)
    exact = {f.column: f for f in planted.findings if f.check == "exact_collinearity"}
    assert set(exact) == {"kids", "kidslt6", "kidsge6"}
    assert sorted(exact["kids"].evidence["with"]) == ["kidsge6", "kidslt6"]
    assert "'kids' is exactly collinear with 'kidslt6', 'kidsge6'" in exact["kids"].message
    assert all(np.isinf(planted.correlation["vif"][c]) for c in exact)
    assert not {f.column for f in planted.findings if f.check == "high_vif"} & set(exact)


def test_a_skewed_column_with_three_values_has_a_skew_but_no_kurtosis():
    # Hitters' Salary kept on three rows only: DuckDB gives a skewness (3 values) but no kurtosis (4)
    frame = pd.read_csv(DATA / "hitters.csv")
    frame["few"] = np.nan
    frame.loc[[0, 1, 2], "few"] = [0.0, 1.0, 90.0]
    report = explore(frame, "League", seed=0)
    skewed = [f for f in report.findings if f.check == "skewed" and f.column == "few"]
    assert skewed and "excess kurtosis" not in skewed[0].message
    assert skewed[0].evidence["kurtosis"] is None
