"""Learning curves and the classic diagnosis: overfitting, underfitting, good fit, early plateau.

Scores are read on a skill scale so that one rule fits every metric: 0 is the dummy model's score
(prior / mean), 1 a perfect score. Then, at the full training size:

=====================================  ======================  ==========================================
pattern                                diagnosis               fix
=====================================  ======================  ==========================================
train - validation > ``GAP``           overfitting             more data, regularisation, a simpler model
train < ``HIGH``                       underfitting            more features, a more complex model, less
                                                               regularisation
validation < ``HIGH``, flat since      validation plateaus     feature engineering: more rows will not
half the rows                          early                   help
validation >= ``HIGH``, small gap      good fit                deploy
=====================================  ======================  ==========================================
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import learning_curve

from .._experiment import CVSetup
from ..metrics import get_metric, scorer

__all__ = ["GAP", "HIGH", "PLATEAU", "LearningCurve", "diagnose", "learning_curves"]

#: A train-validation gap larger than this share of the dummy-to-perfect range is "large".
GAP = 0.1
#: Skill at or above this is "high".
HIGH = 0.6
#: A validation curve that gained less than this over the second half of the sizes has plateaued.
PLATEAU = 0.02
_PERFECT = {"accuracy": 1.0, "balanced_accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0,
            "roc_auc": 1.0, "average_precision": 1.0, "r2": 1.0, "log_loss": 0.0, "rmse": 0.0, "mae": 0.0,
            "mape": 0.0}
_FIXES = {
    "overfitting": "more data, stronger regularisation or a simpler model",
    "underfitting": "more or better features, a more complex model, less regularisation",
    "validation plateaus early": "feature engineering: more rows will not help, more information per row will",
    "good fit": "deploy: train and validation agree and both are high",
}


@dataclass
class LearningCurve:
    """Train and validation scores by training size, with the diagnosis and its fix.

    Made by :func:`learning_curves`.

    Parameters
    ----------
    metric : str
        The metric scored.
    greater_is_better : bool
        Its direction.
    train_sizes : list of int
        The training rows at each point.
    train_mean, train_std : list of float
        The score on the rows fitted, mean and standard deviation over the folds.
    val_mean, val_std : list of float
        The score on the held-out fold, likewise.
    reference : float, optional
        The dummy model's score: the zero of the skill scale.
    diagnosis : str
        ``good fit``, ``underfitting``, ``overfitting`` or ``validation plateaus early``.
    fix : str
        What to do about it.
    explanation : str
        The numbers the diagnosis rests on.

    Examples
    --------
    >>> lc = LearningCurve("r2", True, [100, 200], [0.9, 0.85], [0.01, 0.01], [0.5, 0.6], [0.05, 0.04], 0.0,
    ...                    "overfitting", "more data", "train 0.85 vs validation 0.60")
    >>> lc.to_dict()["diagnosis"], "more data" in lc._repr_html_()
    ('overfitting', True)
    """

    metric: str
    greater_is_better: bool
    train_sizes: list[int]
    train_mean: list[float]
    train_std: list[float]
    val_mean: list[float]
    val_std: list[float]
    reference: float | None
    diagnosis: str
    fix: str
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def _repr_html_(self) -> str:
        from ..report._tuning import learning_curve_html
        from ..runs import to_jsonable

        return learning_curve_html(to_jsonable(self.to_dict()))


def learning_curves(pipeline, setup: CVSetup, *, reference: float | None = None, n_sizes: int = 5,
                    n_folds: int | None = None) -> LearningCurve | None:
    """Cross-validated train and validation scores at ``n_sizes`` training sizes, diagnosed.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The pipeline to fit (unfitted).
    setup : CVSetup
        The rows, task, metric, folds (the first ``n_folds`` of them, all by default), seed and
        workers. The training rows of each fold are shuffled with the seed before the subsets are
        taken, so that a file sorted by the target still gives every class to the small subsets.
    reference : float, optional
        The dummy model's score on the metric (the zero of the skill scale).
    n_sizes : int, default=5
        Training sizes scored, up to the whole training fold.
    n_folds : int, optional
        Folds used (the first of the setup's); None: all of them.

    Returns
    -------
    LearningCurve or None
        None when no size could be scored.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.model_selection import KFold
    >>> from mlsmith import CVSetup
    >>> from mlsmith.data import infer_schema
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> setup = CVSetup(X=X, y=y.to_numpy(), schema=infer_schema(X.assign(y=y), "y"), task="regression",
    ...                 metric="r2", cv=KFold(3), seed=0, n_jobs=1)
    >>> lc = learning_curves(Ridge(), setup, reference=0.0)
    >>> lc.train_sizes[-1], lc.diagnosis
    (294, 'underfitting')
    """
    X, y, task, metric = setup.X, setup.y, setup.task, setup.metric
    folds = setup.folds()[:n_folds]
    sign = 1.0 if get_metric(metric).greater_is_better else -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=RuntimeWarning)
        sizes, train, val = learning_curve(pipeline, X, y, cv=folds, scoring=scorer(metric, task, setup.n_classes),
                                           train_sizes=np.linspace(0.2, 1.0, n_sizes), n_jobs=setup.n_jobs,
                                           error_score=np.nan, shuffle=True, random_state=setup.seed)
    train, val = sign * train, sign * val
    # A size whose folds all failed (e.g. a class absent from a small subset) has no point on the curve.
    keep = ~(np.isnan(train).all(axis=1) | np.isnan(val).all(axis=1))
    sizes, train, val = sizes[keep], train[keep], val[keep]
    if not len(sizes):
        return None
    curve = LearningCurve(metric, sign > 0, [int(s) for s in sizes],
                          _r(np.nanmean(train, axis=1)), _r(np.nanstd(train, axis=1)),
                          _r(np.nanmean(val, axis=1)), _r(np.nanstd(val, axis=1)), reference, "", "", "")
    curve.diagnosis, curve.explanation = diagnose(curve)
    curve.fix = _FIXES[curve.diagnosis]
    return curve


def _r(values) -> list[float]:
    return [round(float(v), 6) for v in values]


def skill(value: float, metric: str, reference: float | None) -> float:
    """Where ``value`` sits between the dummy's score (0) and a perfect score (1).

    Examples
    --------
    >>> skill(0.75, "roc_auc", 0.5), skill(30.0, "rmse", 60.0)
    (0.5, 0.5)
    """
    perfect = _PERFECT[metric]
    if reference is None or not np.isfinite(reference) or reference == perfect:
        reference = 0.0 if perfect == 1.0 else None
    if reference is None:  # a loss without a dummy to compare with: no scale, call it unknown
        return float("nan")
    return float((value - reference) / (perfect - reference))


def diagnose(curve: LearningCurve) -> tuple[str, str]:
    """The classic reading of a learning curve, and the numbers it rests on."""
    skills = {k: [skill(v, curve.metric, curve.reference) for v in getattr(curve, k)] for k in ("train_mean", "val_mean")}
    train, val = skills["train_mean"][-1], skills["val_mean"][-1]
    half = len(curve.val_mean) // 2
    late_gain = val - skills["val_mean"][half]
    gap = train - val
    numbers = (f"at {curve.train_sizes[-1]} rows, train {curve.metric} {curve.train_mean[-1]:.4f} and validation "
               f"{curve.val_mean[-1]:.4f}: skill {train:.2f} vs {val:.2f} on a scale where the dummy scores 0 "
               f"and a perfect model 1 (gap {gap:.2f}); validation gained {late_gain:+.3f} from "
               f"{curve.train_sizes[half]} rows on")
    if np.isnan(gap):
        return "good fit" if abs(curve.train_mean[-1] - curve.val_mean[-1]) <= GAP * abs(curve.val_mean[-1]) else "overfitting", numbers
    if gap > GAP:
        return "overfitting", numbers
    if train < HIGH:
        return "underfitting", numbers
    if val < HIGH and late_gain < PLATEAU:
        return "validation plateaus early", numbers
    if val < HIGH:
        return "underfitting", numbers
    return "good fit", numbers
