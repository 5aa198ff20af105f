import pandas as pd
import pytest

from mlsmith.data import infer_schema
from mlsmith.exceptions import ProblemSpecError
from mlsmith.recommender import LARGE_N, READABLE, recommend


@pytest.fixture
def schema():
    df = pd.DataFrame({"x": [1.0, None, 3.0, 4.0] * 10, "c": list("abcd") * 10, "y": [0, 1] * 20})
    return infer_schema(df, "y")


def test_interpretability_high_keeps_the_readable_families(schema):
    rec = recommend(schema, 40, "binary_classification", interpretability="high")
    assert rec.order == ["linear", "decision_tree", "naive_bayes", "dummy"]
    assert set(rec.order) <= set(READABLE)
    assert rec.skipped["random_forest"] == (
        "interpretability: high asks for a model a person can read; Random forest is rated medium")
    # every family has a decision and a reason, shown in the report
    assert {a.model for a in rec.advice} == set(rec.order) | set(rec.skipped)
    assert all(a.reason for a in rec.advice)


def test_missing_values_and_latency_enter_the_reasons(schema):
    rec = recommend(schema, 40, "binary_classification", latency_ms=50)
    reasons = {a.model: a.reason for a in rec.advice}
    assert "the 1 columns with missing values are imputed for it" in reasons["linear"]
    assert "its measured latency must fit 50 ms" in reasons["knn"]
    assert rec.profile["columns_with_missing"] == 1 and rec.profile["categorical"] == 1


def test_large_n_skips_svm_and_knn_and_regression_skips_naive_bayes(schema):
    rec = recommend(schema, LARGE_N + 1, "regression")
    assert rec.skipped["svm"].endswith("kernel SVM fit time grows with n²")
    assert rec.skipped["knn"].endswith("every prediction scans all rows")
    assert rec.skipped["naive_bayes"] == "does not apply to regression"
    assert rec.order[0] == "linear" and "lightgbm" in rec.order


def test_models_named_in_the_spec(schema):
    rec = recommend(schema, 40, "binary_classification", models=["lightgbm"])
    assert rec.order == ["lightgbm", "dummy"]
    assert rec.skipped["linear"] == "not listed in problem.yaml 'models'"
    with pytest.raises(ProblemSpecError, match=r"'models' names unknown families \['forest'\]; choose from linear"):
        recommend(schema, 40, "binary_classification", models=["forest"])


def test_a_random_forest_is_left_out_above_a_hundred_thousand_rows_and_says_why():
    from sklearn.datasets import load_breast_cancer

    from mlsmith.data import infer_schema
    from mlsmith.recommender import recommend

    frame = load_breast_cancer(as_frame=True).frame
    schema = infer_schema(frame, "target")
    assert "random_forest" in recommend(schema, 100_000, "binary_classification").order
    rec = recommend(schema, 262_346, "binary_classification")
    assert "random_forest" not in rec.order
    assert rec.skipped["random_forest"].startswith("262,346 training rows > 100,000: full-depth trees")
