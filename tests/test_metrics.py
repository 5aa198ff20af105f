import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from mlsmith.metrics import METRICS, compute, default_metric, get_metric, scorer


def test_every_metric_matches_sklearn_binary():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    pred = (p >= 0.5).astype(int)
    task = "binary_classification"
    assert compute("recall", task, y, y_pred=pred) == pytest.approx(skm.recall_score(y, pred))
    assert compute("precision", task, y, y_pred=pred) == pytest.approx(skm.precision_score(y, pred))
    assert compute("roc_auc", task, y, y_proba=p) == pytest.approx(skm.roc_auc_score(y, p))
    assert compute("average_precision", task, y, y_proba=p) == pytest.approx(skm.average_precision_score(y, p))
    assert compute("log_loss", task, y, y_proba=p) == pytest.approx(skm.log_loss(y, p))


def test_multiclass_and_regression_metrics():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    proba = model.predict_proba(X)
    task = "multiclass_classification"
    assert compute("roc_auc", task, y, y_proba=proba, n_classes=3) == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert compute("f1", task, y, y_pred=proba.argmax(1)) == pytest.approx(skm.f1_score(y, proba.argmax(1), average="macro"))
    yt, yp = np.array([3.0, 5.0, 2.0]), np.array([2.5, 5.0, 4.0])
    assert compute("rmse", "regression", yt, y_pred=yp) == pytest.approx(np.sqrt(np.mean((yt - yp) ** 2)))
    assert compute("mae", "regression", yt, y_pred=yp) == pytest.approx(2.5 / 3)


def test_scorer_sign_makes_larger_better():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    assert scorer("log_loss", "multiclass_classification", 3)(model, X, y) == pytest.approx(
        -skm.log_loss(y, model.predict_proba(X)))


def test_registry_directions_and_names():
    assert {m for m, spec in METRICS.items() if not spec.greater_is_better} == {"log_loss", "rmse", "mae", "mape"}
    assert get_metric("recall").threshold_dependent and not get_metric("roc_auc").threshold_dependent
    with pytest.raises(ValueError, match="Did you mean 'roc_auc'"):
        get_metric("rocauc")
    assert default_metric("binary_classification", 0.5) == "roc_auc"
    assert default_metric("multiclass_classification", 0.1) == "balanced_accuracy"
    assert default_metric("regression") == "rmse"
