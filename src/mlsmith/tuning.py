"""Stage 6: hyperparameter tuning of the chosen family, compared with its defaults on the same folds."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import RandomizedSearchCV

from .metrics import get_metric, scorer
from .selection import CATALOG

__all__ = ["TuningResult", "tune"]


@dataclass
class TuningResult:
    """The search that was run, its best parameters, and the gain over the defaults."""

    model: str
    method: str
    n_trials: int
    metric: str
    default_score: float
    best_score: float
    best_params: dict[str, Any]
    gain: float
    kept: str
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def tune(pipeline, family: str, X, y, task: str, metric: str, cv, groups=None, default_score: float | None = None,
         n_trials: int = 10, seed: int = 42, n_jobs: int = -1) -> tuple[Any, TuningResult]:
    """Randomized search over the family's space; keep the tuned model only if it beats the defaults.

    Returns the pipeline to use (tuned or default, unfitted) and the :class:`TuningResult`.
    """
    params = pipeline.named_steps["model"].get_params()
    # A wrapped model (calibrated SVM) takes its parameters one level down.
    space = {f"model__{k if k in params else 'estimator__' + k}": v for k, v in CATALOG[family].space(task).items()}
    greater = get_metric(metric).greater_is_better
    sign = 1.0 if greater else -1.0
    n_classes = int(len(np.unique(y))) if task != "regression" else None
    if not space:
        return pipeline, TuningResult(family, "none", 0, metric, default_score, default_score, {}, 0.0, "default: no search space")
    search = RandomizedSearchCV(pipeline, space, n_iter=n_trials, scoring=scorer(metric, task, n_classes), cv=cv,
                                random_state=seed, n_jobs=n_jobs, error_score=np.nan, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        search.fit(X, y, groups=groups)
    best = sign * float(search.best_score_)
    params = {_short(k): _plain(v) for k, v in search.best_params_.items()}
    trials = [
        {"params": {_short(k): _plain(v) for k, v in p.items()}, "score": sign * float(s)}
        for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])
    ]
    gain = (best - default_score) * sign
    if gain > 0:
        chosen, kept = pipeline.set_params(**search.best_params_), "tuned"
    else:
        chosen, kept = pipeline, "default: tuning did not beat it"
    return chosen, TuningResult(family, "random", n_trials, metric, default_score, best, params, gain, kept, trials)


def _short(key: str) -> str:
    return key.removeprefix("model__").removeprefix("estimator__")


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
