"""Stage 6: tune the chosen family and read its learning curves.

:func:`tune` runs a grid, randomized or Bayesian search (Optuna TPE with pruning) under a budget in
trials or seconds and compares the tuned model with the defaults on the same folds;
:func:`learning_curves` measures train and validation scores as the training rows grow and
diagnoses the fit (overfitting, underfitting, good fit, validation plateau) with its fix.
"""

from .._space import describe_space, grid_points, parse_space
from ._curves import LearningCurve, learning_curves
from ._search import METHODS, TuningResult, tune

__all__ = ["METHODS", "LearningCurve", "TuningResult", "describe_space", "grid_points", "learning_curves",
           "parse_space", "tune"]
