import pandas as pd
import pytest

from mlsmith.exceptions import ProblemSpecError
from mlsmith.problem import Problem, infer_task, load_problem, parse_problem


def test_churn_example_spec_is_valid():
    from conftest import EXAMPLES

    problem = load_problem(EXAMPLES / "churn" / "problem.yaml")
    assert problem.success_metric == "recall" and problem.threshold == 0.8
    assert problem.baseline.rule == "tenure_months < 3"
    assert problem.baseline.known_metrics == {"recall": 0.55, "precision": 0.4}
    assert problem.constraints.latency_ms == 100 and problem.constraints.interpretability == "high"
    assert problem.direction == "higher"


def test_defaults_only_target_and_data_required():
    p = Problem(target="y", data={"path": "d.csv"})
    assert (p.seed, p.split.test_size, p.split.cv_folds, p.type) == (42, 0.2, 5, None)


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"data": {"path": "d.csv"}}, r"required key 'target' is missing; add e.g. 'target: churned'"),
        ({"target": "y", "data": {"table": "customers"}}, r"'query' and 'table' read from a database: add its 'url'"),
        ({"target": "y", "data": {"path": "d.csv"}, "success_metric": "recal"},
         r"'success_metric': unknown metric 'recal'.*Did you mean 'recall'\?"),
        ({"target": "y", "data": {"path": "d.csv"}, "treshold": 0.8}, r"unknown key 'treshold'. Did you mean 'threshold'\?"),
        ({"target": "y", "data": {"path": "d.csv"}, "split": {"test_size": 1.5}},
         r"'split.test_size' input should be less than 1; got 1.5"),
        ({"target": "y", "data": {"path": "d.csv"}, "type": "binary"}, r"'type' input should be .*got 'binary'"),
        ({"target": "y", "data": {"path": "d.csv", "url": "sqlite:///x.db"}}, r"exactly one data source"),
        ({"target": "y", "data": {"path": "d.csv"}, "constraints": {"interpretability": "very"}},
         r"'constraints.interpretability'.*got 'very'. Example: 'interpretability: high'"),
        ({"target": "y", "data": {"path": "d.csv"}, "baseline": {"rule": "a > 1", "method": "majority"}},
         r"either 'rule' or 'method'"),
    ],
)
def test_spec_errors_name_field_value_and_fix(raw, message):
    with pytest.raises(ProblemSpecError, match=message):
        parse_problem(raw)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ProblemSpecError, match="does not exist; write one with 'mlsmith init"):
        load_problem(tmp_path / "nope.yaml")
    bad = tmp_path / "problem.yaml"
    bad.write_text("target: [unclosed\n")
    with pytest.raises(ProblemSpecError, match="not valid YAML at line"):
        load_problem(bad)


@pytest.mark.parametrize(
    "values, task",
    [
        ([0, 1] * 10, "binary_classification"),
        (["yes", "no"] * 10, "binary_classification"),
        (["a", "b", "c"] * 10, "multiclass_classification"),
        ([1, 2, 3] * 100, "multiclass_classification"),
        (list(range(300)), "regression"),
        ([0.5, 1.5, 2.25] * 10, "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values)) == task


def test_resolve_fills_positive_class_metric_and_baseline():
    p = Problem(target="y", data={"path": "d.csv"})
    y = pd.Series(["stay"] * 95 + ["churn"] * 5)
    r = p.resolve(y)
    assert r.type == "binary_classification"
    assert r.positive_class == "churn"  # minority class when no yes/1/true value exists
    assert r.success_metric == "average_precision"  # imbalance-aware default
    assert r.baseline.method == "majority"


def test_resolve_rejects_contradictions():
    p = Problem(target="y", data={"path": "d.csv"})
    with pytest.raises(ProblemSpecError, match="has a single class"):
        p.resolve(pd.Series([1] * 10))
    reg = Problem(target="y", type="regression", data={"path": "d.csv"})
    with pytest.raises(ProblemSpecError, match="is not numeric"):
        reg.resolve(pd.Series(["a", "b", "c"]))
    with pytest.raises(ProblemSpecError, match="metric 'rmse' does not apply to a binary_classification"):
        Problem(target="y", success_metric="rmse", data={"path": "d.csv"}).resolve(pd.Series([0, 1] * 5))
    with pytest.raises(ProblemSpecError, match="positive_class 'yes' is not a value"):
        Problem(target="y", positive_class="yes", data={"path": "d.csv"}).resolve(pd.Series([0, 1] * 5))


@pytest.mark.parametrize("metric, threshold, message", [
    ("recall", 80, r"'threshold': recall is between 0 and 1; got 80, a percentage\? Write it as a fraction: "
                   r"threshold: 0.80"),
    ("r2", 85, r"'threshold': r2 is at most 1; got 85, a percentage\? Write it as a fraction: threshold: 0.85"),
    ("roc_auc", 1.5, r"'threshold': roc_auc is between 0 and 1; got 1.5. Set a threshold that roc_auc can reach"),
    ("rmse", -2, r"'threshold': rmse is at least 0; got -2. Set a threshold that rmse can reach"),
])
def test_threshold_outside_the_metric_range_is_an_error(metric, threshold, message):
    with pytest.raises(ProblemSpecError, match=message):
        parse_problem({"target": "y", "data": {"path": "d.csv"}, "success_metric": metric, "threshold": threshold})


def test_threshold_within_range_and_of_the_default_metric():
    for metric, threshold in (("recall", 0.8), ("r2", -0.5), ("rmse", 80), ("log_loss", 0.3)):
        parse_problem({"target": "y", "data": {"path": "d.csv"}, "success_metric": metric, "threshold": threshold})
    # No metric named: the default one (roc_auc here) decides, once the target is known.
    problem = parse_problem({"target": "y", "data": {"path": "d.csv"}, "threshold": 75})
    with pytest.raises(ProblemSpecError, match=r"roc_auc is between 0 and 1; got 75, a percentage\? .* 0.75 "
                                               r"\(roc_auc is the default metric here"):
        problem.resolve(pd.Series([0, 1] * 20))


def test_a_count_target_is_a_quantity_not_eleven_classes():
    # wooldridge crime1's narr86 (arrests in 1986): 0-12 with 11 distinct values, most men 0
    from mlsmith.problem import infer_task

    arrests = pd.Series([0] * 2000 + [1] * 400 + [2] * 150 + [3] * 80 + [4] * 40 + [5] * 20 + [6] * 15
                        + [7] * 8 + [8] * 5 + [9] * 4 + [12] * 1)
    assert infer_task(arrests) == "regression"
    assert infer_task(pd.Series([3, 4, 5, 6, 7, 8] * 200)) == "multiclass_classification"  # wine quality
