"""The model catalog: the algorithm families mlsmith compares, with the traits of the classic table.

Each :class:`Family` says how fast it trains and predicts, whether it copes with missing values,
whether it needs scaled features and how interpretable it is, and carries the search space that
stage 6 tunes (scipy distributions and lists, the form ``RandomizedSearchCV`` takes; problem.yaml
can override it, see :func:`mlsmith.tuning.parse_space`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, Callable

from scipy.stats import loguniform, randint, uniform
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .data import Schema
from .features import FeaturePlan
from .preprocess import build_preprocessor

__all__ = ["CATALOG", "EXTRAS", "Family", "build_pipeline", "installed"]

#: Families whose library comes with an extra, not with mlsmith itself: how to install it. XGBoost's CPU
#: and CUDA builds are two distributions of the same ``xgboost`` package, so neither is a dependency.
EXTRAS = {"xgboost": "pip install 'mlsmith[xgboost]' (CPU build) or 'mlsmith[gpu]' (CUDA build)"}


def installed(family: str) -> bool:
    """Whether the library of ``family`` can be imported (looked up, not imported).

    Examples
    --------
    >>> installed("linear"), installed("lightgbm")
    (True, True)
    """
    return family not in EXTRAS or find_spec(family) is not None

@dataclass(frozen=True)
class Family:
    """An algorithm family: how to build it and what the classic comparison table says of it."""

    name: str
    label: str
    make: Callable[[str, int], Any] = field(repr=False)
    training_speed: str
    prediction_speed: str
    handles_missing: str
    needs_scaling: bool
    interpretability: str
    search_space: dict[str, Any] = field(default_factory=dict, repr=False)
    tasks: tuple[str, ...] = ("classification", "regression")
    regression_space: dict[str, Any] | None = field(default=None, repr=False)

    def space(self, task: str) -> dict[str, Any]:
        """The search space for ``task`` (model parameter names, without pipeline prefixes)."""
        if task == "regression" and self.regression_space is not None:
            return self.regression_space
        return self.search_space

    def supports(self, task: str) -> bool:
        return ("regression" if task == "regression" else "classification") in self.tasks

    def traits(self) -> dict[str, Any]:
        return {
            "training_speed": self.training_speed,
            "prediction_speed": self.prediction_speed,
            "handles_missing": self.handles_missing,
            "needs_scaling": self.needs_scaling,
            "interpretability": self.interpretability,
        }


def _clf(task: str) -> bool:
    return task != "regression"


def _xgboost(task: str, seed: int):
    import xgboost as xgb

    cls = xgb.XGBClassifier if _clf(task) else xgb.XGBRegressor
    return cls(n_estimators=300, learning_rate=0.1, max_depth=6, tree_method="hist", n_jobs=1,
               random_state=seed, verbosity=0)


def _lightgbm(task: str, seed: int):
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if _clf(task) else lgb.LGBMRegressor
    return cls(n_estimators=300, learning_rate=0.05, n_jobs=1, random_state=seed, verbosity=-1)


def _svm(task: str, seed: int):
    if not _clf(task):
        return SVR()
    # Platt scaling fitted out of fold gives the probabilities that thresholds and AUCs need.
    return CalibratedClassifierCV(SVC(random_state=seed), ensemble=False, cv=3)


_TREE_SPACE = {"max_depth": randint(2, 16), "min_samples_leaf": randint(1, 50)}
_BOOST_SPACE = {
    "n_estimators": randint(100, 800),
    "learning_rate": loguniform(0.01, 0.3),
    "max_depth": randint(3, 10),
    "subsample": uniform(0.6, 0.4),
    "colsample_bytree": uniform(0.5, 0.5),
}

CATALOG: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "linear", "Logistic / Ridge regression",
            lambda t, s: LogisticRegression(max_iter=2000, random_state=s) if _clf(t) else Ridge(random_state=s),
            "fast", "very fast", "no", True, "high",
            {"C": loguniform(1e-3, 1e2)}, regression_space={"alpha": loguniform(1e-3, 1e3)},
        ),
        Family(
            "decision_tree", "Decision tree",
            lambda t, s: (DecisionTreeClassifier if _clf(t) else DecisionTreeRegressor)(
                max_depth=8, min_samples_leaf=5, random_state=s),
            "fast", "very fast", "yes (some)", False, "very high", _TREE_SPACE,
        ),
        Family(
            "random_forest", "Random forest",
            lambda t, s: (RandomForestClassifier if _clf(t) else RandomForestRegressor)(
                n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=s),
            "medium", "medium", "yes (some)", False, "medium",
            {"n_estimators": randint(100, 600), "max_features": uniform(0.2, 0.8), **_TREE_SPACE},
        ),
        Family(
            "hist_gradient_boosting", "Gradient boosting (histogram)",
            lambda t, s: (HistGradientBoostingClassifier if _clf(t) else HistGradientBoostingRegressor)(
                random_state=s),
            "fast", "fast", "yes", False, "low",
            {"learning_rate": loguniform(0.01, 0.3), "max_leaf_nodes": randint(8, 64),
             "min_samples_leaf": randint(5, 100), "l2_regularization": loguniform(1e-4, 10)},
        ),
        Family("xgboost", "XGBoost", _xgboost, "medium", "fast", "yes", False, "low", _BOOST_SPACE),
        Family(
            "lightgbm", "LightGBM", _lightgbm, "fast", "fast", "yes", False, "low",
            {"n_estimators": randint(100, 800), "learning_rate": loguniform(0.01, 0.3),
             "num_leaves": randint(8, 128), "min_child_samples": randint(5, 100),
             "subsample": uniform(0.6, 0.4), "subsample_freq": [1], "colsample_bytree": uniform(0.5, 0.5)},
        ),
        Family(
            "svm", "SVM (RBF kernel)",
            _svm, "slow (large n)", "fast", "no", True, "low",
            {"C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-4, 1)},
        ),
        Family(
            "knn", "K-nearest neighbours",
            lambda t, s: (KNeighborsClassifier if _clf(t) else KNeighborsRegressor)(n_neighbors=15),
            "none (lazy)", "slow", "no", True, "medium",
            {"n_neighbors": randint(3, 60), "weights": ["uniform", "distance"]},
        ),
        Family(
            "naive_bayes", "Naive Bayes (Gaussian)", lambda t, s: GaussianNB(),
            "very fast", "very fast", "depends", False, "high",
            {"var_smoothing": loguniform(1e-12, 1e-3)}, tasks=("classification",),
        ),
        Family(
            "dummy", "Dummy (prior / mean)",
            lambda t, s: DummyClassifier(strategy="prior") if _clf(t) else DummyRegressor(strategy="mean"),
            "instant", "instant", "yes", False, "very high",
        ),
    ]
}


def build_pipeline(family: str, schema: Schema, task: str, seed: int, plan: FeaturePlan | None = None) -> Pipeline:
    """Preprocessing (scaled if the family needs it, with the feature ``plan``) followed by the family's model.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    >>> build_pipeline("linear", infer_schema(df, "y"), "binary_classification", 0).steps[-1][0]
    'model'
    """
    spec = CATALOG[family]
    prep = build_preprocessor(schema, scale=spec.needs_scaling, seed=seed, plan=plan)
    return Pipeline([("prep", prep), ("model", spec.make(task, seed))])
