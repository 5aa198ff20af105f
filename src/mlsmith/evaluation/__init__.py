"""Stage 7a: the honest evaluation of the final model on the test split, read once.

- :func:`~mlsmith.parallel.out_of_fold`, :func:`~mlsmith.metrics.choose_threshold`, :func:`fold_scores`: the decision
  threshold and the cross-validated scores, from out-of-fold predictions of the training rows only;
- :func:`evaluate`: test metrics, the baselines on the same rows, curves, fairness and the
  :class:`Verdict` with bootstrap intervals;
- :func:`measure_latency`, :func:`global_explanations`: constraints checked by measurement.
"""

from .._bootstrap import bootstrap_interval, paired_bootstrap
from .._latency import measure_latency
from ..metrics import choose_threshold
from ._constraints import global_explanations
from ._core import (
    BaselineScores,
    Evaluation,
    baseline_predictions,
    baselines_for,
    dummy_predictions,
    evaluate,
    model_outputs,
    scores_for,
    task_metrics,
)
from ._curves import classification_curves, regression_diagnostics
from ._fairness import fairness_by_group
from ._folds import fold_scores
from ._resample import metric_on_resamples
from ._uncertainty import Verdict, judge

__all__ = [
    "BaselineScores",
    "Evaluation",
    "Verdict",
    "baseline_predictions",
    "baselines_for",
    "bootstrap_interval",
    "choose_threshold",
    "classification_curves",
    "dummy_predictions",
    "evaluate",
    "model_outputs",
    "fairness_by_group",
    "fold_scores",
    "global_explanations",
    "judge",
    "measure_latency",
    "metric_on_resamples",
    "paired_bootstrap",
    "regression_diagnostics",
    "scores_for",
    "task_metrics",
]
