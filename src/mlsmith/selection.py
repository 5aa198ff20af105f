"""Stage 5: a cross-validated comparison of algorithm families, leak-free and seeded.

Each family in :data:`CATALOG` carries the traits of the classic comparison table and a search
space for stage 6. :func:`compare_models` builds one Pipeline per family (preprocessing + model),
cross-validates all of them on the same folds and returns a :class:`Leaderboard`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
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
from sklearn.model_selection import cross_validate
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .data import Schema
from .features import FeaturePlan
from .metrics import get_metric, scorer
from .preprocess import build_preprocessor

__all__ = ["CATALOG", "Family", "Leaderboard", "LeaderboardRow", "build_pipeline", "compare_models"]

#: Above this many training rows, kernel SVMs and KNN are skipped (their cost grows ~n² / n·m).
LARGE_N = 20_000


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
                n_estimators=200, min_samples_leaf=2, n_jobs=1, random_state=s),
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
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    >>> build_pipeline("linear", infer_schema(df, "y"), "binary_classification", 0).steps[-1][0]
    'model'
    """
    spec = CATALOG[family]
    prep = build_preprocessor(schema, scale=spec.needs_scaling, seed=seed, plan=plan)
    return Pipeline([("prep", prep), ("model", spec.make(task, seed))])


@dataclass
class LeaderboardRow:
    """One family's cross-validated result."""

    model: str
    label: str
    cv_mean: float | None
    cv_std: float | None
    train_mean: float | None
    fit_time_s: float
    predict_time_s: float
    secondary: dict[str, float] = field(default_factory=dict)
    selection_score: float | None = None
    status: str = "ok"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Leaderboard:
    """The comparison: one row per family, best first by the success metric."""

    metric: str
    greater_is_better: bool
    cv: str
    rows: list[LeaderboardRow]
    skipped: dict[str, str] = field(default_factory=dict)
    selection: str = ""

    @property
    def best(self) -> LeaderboardRow:
        """The best family by the success metric; the dummy only when nothing else ran."""
        scored = [r for r in self.rows if r.status == "ok" and r.cv_mean is not None]
        real = [r for r in scored if r.model != "dummy"] or scored
        return real[0]

    def to_frame(self) -> pd.DataFrame:
        records = []
        for r in self.rows:
            record = {k: v for k, v in r.to_dict().items() if k != "secondary"}
            record.update({f"cv_{k}": v for k, v in r.secondary.items()})
            records.append(record)
        return pd.DataFrame.from_records(records)

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "greater_is_better": self.greater_is_better, "cv": self.cv,
                "selection": self.selection, "rows": [r.to_dict() for r in self.rows], "skipped": self.skipped}


def shortlist(task: str, n_rows: int, models: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """The families to compare, and why others were left out."""
    names = models or list(CATALOG)
    unknown = [m for m in names if m not in CATALOG]
    if unknown:
        from .exceptions import ProblemSpecError

        raise ProblemSpecError(
            f"problem.yaml: 'models' names unknown families {unknown}; choose from {', '.join(CATALOG)}."
        )
    keep, skipped = [], {}
    for name in names:
        family = CATALOG[name]
        if not family.supports(task):
            skipped[name] = f"does not apply to {task}"
        elif name in ("svm", "knn") and n_rows > LARGE_N:
            skipped[name] = f"{n_rows:,} training rows > {LARGE_N:,}: too slow for this family"
        else:
            keep.append(name)
    if "dummy" not in keep:
        keep.append("dummy")
    return keep, skipped


def compare_models(
    X: pd.DataFrame,
    y: np.ndarray,
    schema: Schema,
    task: str,
    metric: str,
    cv: Any,
    groups: np.ndarray | None = None,
    secondary: list[str] | tuple[str, ...] = (),
    models: list[str] | None = None,
    seed: int = 42,
    n_jobs: int = -1,
    time_budget_s: float | None = None,
    progress: Callable[[str], None] | None = None,
    target: float | None = None,
    plan: FeaturePlan | None = None,
) -> Leaderboard:
    """Cross-validate every shortlisted family on the same folds.

    Parameters
    ----------
    X, y : training features and the encoded target (see :class:`~mlsmith.target.TargetCodec`).
    schema : the column roles that drive preprocessing.
    task, metric : the problem's task and success metric; ``secondary`` metrics are reported too.
    cv, groups : the splitter and its groups (see :func:`~mlsmith.split.cv_splitter`).
    models : the families to compare (default: all that apply).
    seed : reaches every estimator; the splitter carries it already.
    n_jobs : folds run in parallel; each model uses one thread.
    time_budget_s : once spent, the remaining families are skipped and marked.
    target : the success threshold. For a binary task whose metric depends on the decision threshold
        (recall, precision, f1, accuracy, ...), families are compared at their own operating point:
        the threshold is chosen on out-of-fold probabilities exactly as for the final model (see
        :func:`~mlsmith.evaluation.choose_threshold`), the metric is reported at that threshold, and
        ``selection_score`` ranks them (e.g. the precision reached with recall >= target).
    plan : the feature plan of stage 4, applied inside every family's pipeline.
    """
    n_classes = int(len(np.unique(y))) if task != "regression" else None
    operating_point = task == "binary_classification" and get_metric(metric).threshold_dependent
    names, skipped = shortlist(task, len(X), models)
    # A threshold-free companion for families compared at their operating point (tuning uses it).
    extra = ["average_precision"] if operating_point else []
    scoring = {m: scorer(m, task, n_classes) for m in dict.fromkeys([metric, *secondary, *extra])}
    sign = {m: 1.0 if get_metric(m).greater_is_better else -1.0 for m in scoring}
    rows: list[LeaderboardRow] = []
    start = time.perf_counter()
    for name in names:
        family = CATALOG[name]
        if time_budget_s is not None and time.perf_counter() - start > time_budget_s and name != "dummy":
            skipped[name] = f"time budget of {time_budget_s:.0f} s spent before it started"
            continue
        if progress:
            progress(family.label)
        pipe = build_pipeline(name, schema, task, seed, plan=plan)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)
                warnings.simplefilter("ignore", category=RuntimeWarning)
                res = cross_validate(pipe, X, y, cv=cv, groups=groups, scoring=scoring, n_jobs=n_jobs,
                                     return_train_score=True, error_score="raise",
                                     return_estimator=operating_point, return_indices=operating_point)
                values = {m: sign[m] * res[f"test_{m}"] for m in scoring}
                selection_score = None
                train_values = sign[metric] * res[f"train_{metric}"]
                if operating_point:
                    values[metric], train_values, selection_score = _at_operating_point(res, X, y, metric, target)
        except Exception as exc:  # a family that cannot fit this data is reported, not fatal
            rows.append(LeaderboardRow(name, family.label, None, None, None, 0.0, 0.0,
                                       status="failed", note=f"{type(exc).__name__}: {exc}"[:300]))
            continue
        rows.append(LeaderboardRow(
            model=name,
            label=family.label,
            cv_mean=float(np.mean(values[metric])),
            cv_std=float(np.std(values[metric])),
            train_mean=float(np.mean(train_values)),
            fit_time_s=float(np.mean(res["fit_time"])),
            predict_time_s=float(np.mean(res["score_time"])),
            secondary={m: float(np.mean(v)) for m, v in values.items() if m != metric},
            selection_score=float(np.mean(values[metric])) if selection_score is None else selection_score,
        ))
    greater = get_metric(metric).greater_is_better or operating_point
    rows.sort(key=lambda r: (r.selection_score is None,
                             -(r.selection_score or 0) if greater else (r.selection_score or 0)))
    cv_name = f"{type(cv).__name__}(n_splits={cv.get_n_splits()})"
    return Leaderboard(get_metric(metric).name, get_metric(metric).greater_is_better, cv_name, rows, skipped,
                       selection=_selection_text(metric, target, operating_point))


def _selection_text(metric: str, target: float | None, operating_point: bool) -> str:
    if not operating_point:
        return f"cross-validated {metric}"
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        return (f"out-of-fold {other} at the threshold that keeps {metric} >= {target:g} "
                f"(each family at its own operating point)")
    return f"out-of-fold {metric} at each family's best decision threshold"


def _at_operating_point(
    res: dict, X, y: np.ndarray, metric: str, target: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-fold validation and training metric at the out-of-fold threshold, and the ranking score."""
    from .evaluation import choose_threshold
    from .metrics import compute

    folds = [(idx, est.predict_proba(X.iloc[idx])[:, 1]) for est, idx in zip(res["estimator"], res["indices"]["test"])]
    idx = np.concatenate([f[0] for f in folds])
    proba = np.concatenate([f[1] for f in folds])
    threshold, _ = choose_threshold(y[idx], proba, metric, target)
    def at_threshold(est, rows):
        predicted = (est.predict_proba(X.iloc[rows])[:, 1] >= threshold).astype(int)
        return compute(metric, "binary_classification", y[rows], y_pred=predicted)

    per_fold = np.array([compute(metric, "binary_classification", y[i], y_pred=(p >= threshold).astype(int))
                         for i, p in folds])
    train = np.array([at_threshold(est, rows) for est, rows in zip(res["estimator"], res["indices"]["train"])])
    pred = (proba >= threshold).astype(int)
    if metric in ("recall", "precision") and target is not None:
        other = "precision" if metric == "recall" else "recall"
        reached = compute(metric, "binary_classification", y[idx], y_pred=pred) >= target
        score = compute(other, "binary_classification", y[idx], y_pred=pred)
        # a family that misses the target ranks below every family that reaches it
        return per_fold, train, score if reached else score - 1.0
    return per_fold, train, compute(metric, "binary_classification", y[idx], y_pred=pred)
