"""The feature plan: auto suggestions with their reasons, declared transforms, the preprocessing it builds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import skew

from mlsmith.data import infer_schema
from mlsmith.exceptions import DataError, ProblemSpecError
from mlsmith.features import FeaturePlan, plan_features
from mlsmith.pipeline import build_preprocessor
from mlsmith.problem import FeaturesSpec, parse_problem


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    income = rng.lognormal(10, 1, n)
    return pd.DataFrame({
        "income": income,                                    # skewed money: log
        "spend": income * rng.uniform(0.2, 0.3, n),          # moves with income: ratio
        "balance": rng.normal(0, 1000, n),                   # negative values: no log
        "store": [f"s{i % 40}" for i in range(n)],           # 40 levels, 10 rows each: target encoding, aggregate
        "colour": rng.choice(["red", "blue"], n),
        "opened": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
        "closed": pd.date_range("2020-06-01", periods=n, freq="D").astype(str),
        "y": rng.integers(0, 2, n),
    })


def test_auto_plan_derives_each_transform_from_the_data_with_its_reason(table):
    plan = plan_features(table, infer_schema(table, "y"), FeaturesSpec(holidays_country="FR"))
    kinds = {t.kind: t for t in plan.transforms}
    assert [t.columns for t in plan.transforms if t.kind == "log"] == [["income"], ["spend"]]
    assert f"skewness {skew(table['income']):.1f}" in plan.of_kind("log")[0].reason
    assert kinds["dates"].country == "FR" and [t.columns for t in plan.of_kind("dates")] == [["opened"], ["closed"]]
    assert kinds["elapsed"].columns == ["opened", "closed"]
    assert kinds["ratio"].columns == ["income", "spend"] and "Spearman" in kinds["ratio"].reason
    assert kinds["target_encoding"].columns == ["store"] and "40 levels" in kinds["target_encoding"].reason
    assert kinds["aggregate"].by == "store" and kinds["aggregate"].stats == ["mean", "count"]
    assert "balance" not in {c for t in plan.transforms for c in t.columns}
    assert not any(t.pinned for t in plan.transforms)


def test_declared_transforms_replace_suggestions_and_bad_columns_are_named(table):
    schema = infer_schema(table, "y")
    spec = FeaturesSpec(transforms=[{"kind": "log", "column": "income", "pinned": True}])
    plan = plan_features(table, schema, spec)
    logs = plan.of_kind("log")
    assert [(t.columns, t.pinned) for t in logs] == [(["spend"], False), (["income"], True)]
    assert logs[1].reason == "declared in problem.yaml"
    with pytest.raises(DataError, match="the 'ratio' transform names column 'incme', which is not a feature column. "
                                        "Did you mean 'income'"):
        plan_features(table, schema, FeaturesSpec(transforms=[{"kind": "ratio", "columns": ["incme", "spend"]}]))
    with pytest.raises(DataError, match="a 'log' transform needs numeric or boolean columns; 'colour' is categorical"):
        plan_features(table, schema, FeaturesSpec(transforms=[{"kind": "log", "column": "colour"}]))
    assert plan_features(table, schema, FeaturesSpec(mode="none")).transforms == []


def test_problem_yaml_features_key_accepts_auto_none_and_a_list():
    base = {"target": "y", "data": {"path": "d.csv"}}
    assert parse_problem(base).features.mode == "auto"
    assert parse_problem({**base, "features": "none"}).features.mode == "none"
    declared = parse_problem({**base, "features": [{"column": "a", "kind": "bin", "strategy": "fixed", "edges": [1, 2]}]})
    assert declared.features.mode == "declared" and declared.features.transforms[0].edges == [1.0, 2.0]
    again = parse_problem({**base, "features": declared.to_yaml_dict()["features"]})
    assert again.features == declared.features
    with pytest.raises(ProblemSpecError, match="'features': must be 'auto', 'none' or a list of transforms; got 'al'"):
        parse_problem({**base, "features": "al"})
    with pytest.raises(ProblemSpecError, match="a 'ratio' transform reads exactly two columns; got \\['a'\\]"):
        parse_problem({**base, "features": [{"column": "a", "kind": "ratio"}]})
    with pytest.raises(ProblemSpecError, match="an 'aggregate' transform needs 'by'"):
        parse_problem({**base, "features": [{"column": "a", "kind": "aggregate"}]})


def test_the_plan_round_trips_through_its_yaml(table):
    plan = plan_features(table, infer_schema(table, "y"))
    text = plan.to_yaml()
    spec = parse_problem({"target": "y", "data": {"path": "d.csv"}, **yaml.safe_load(text)}).features
    assert [(t.kind, t.columns, t.reason, t.by) for t in spec.transforms] == \
        [(t.kind, t.columns, t.reason, t.by) for t in plan.transforms]


def test_an_empty_plan_builds_the_raw_columns_and_a_plan_adds_its_blocks(table):
    schema = infer_schema(table, "y")
    X = table.drop(columns="y")
    raw = build_preprocessor(schema, scale=False, seed=0, plan=FeaturePlan([], "none")).fit(X, table["y"])
    names = list(raw.get_feature_names_out())
    assert "date__opened_days" in names and "date__opened_month" not in names
    assert sum(n.startswith("cat__store") for n in names) == 40  # one-hot, not target-encoded
    spec = FeaturesSpec(mode="declared", transforms=[
        {"kind": "log", "column": "income"}, {"kind": "interaction", "columns": ["income", "balance"]},
        {"kind": "polynomial", "columns": ["balance"], "degree": 3},
        {"kind": "bin", "column": "balance", "strategy": "fixed", "edges": [0]},
        {"kind": "aggregate", "column": "spend", "by": "store", "stats": ["sum"]},
    ])
    prep = build_preprocessor(schema, scale=False, seed=0, plan=plan_features(table, schema, spec)).set_output(transform="pandas")
    out = prep.fit_transform(X, table["y"])
    assert "num__income" not in out.columns  # the log replaces the raw column
    np.testing.assert_allclose(out["log_0__income_log"], np.log1p(table["income"]))
    np.testing.assert_allclose(out["interaction_1__income balance"], table["income"] * table["balance"])
    assert list(out.filter(like="polynomial_2__").columns) == ["polynomial_2__balance^2", "polynomial_2__balance^3"]
    assert out["bin_3__balance_bin"].tolist() == (table["balance"] >= 0).astype(float).tolist()
    np.testing.assert_allclose(out["aggregate_4__spend_sum_by_store"],
                               table.groupby("store")["spend"].transform("sum"))


def test_plan_and_result_render_in_notebooks(table):
    plan = plan_features(table, infer_schema(table, "y"))
    html = plan._repr_html_()
    assert "4. Feature engineering" in html and "Measured gain" not in html
    assert html.count("<tr>") == len(plan.transforms) + 1 and "skewness" in html
