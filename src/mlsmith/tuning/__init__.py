"""Stage 6: tune the chosen family and read its learning curves.

:func:`tune` runs a grid, randomized or Bayesian search (Optuna TPE with pruning) under a budget in
trials or seconds and compares the tuned model with the defaults on the same folds;
:func:`learning_curves` measures train and validation scores as the training rows grow and
diagnoses the fit (overfitting, underfitting, good fit, validation plateau) with its fix; after a
search on a sample, :func:`choose_rounds` picks a boosting family's rounds on every training row by
early stopping on a held-out slice of them.
"""

from .._space import describe_space, grid_points, parse_space
from ._curves import LearningCurve, learning_curves
from ._rounds import ROUND_PARAMETERS, RoundsChoice, choose_rounds
from ._search import METHODS, TuningResult, tune

__all__ = ["METHODS", "ROUND_PARAMETERS", "LearningCurve", "RoundsChoice", "TuningResult", "choose_rounds",
           "describe_space", "grid_points", "learning_curves", "parse_space", "tune"]
