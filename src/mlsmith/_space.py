"""Search spaces: one form (scipy distributions and lists), read from YAML, turned into grids or Optuna.

In problem.yaml a space maps a model parameter to a list of choices or to a range::

    tuning:
      spaces:
        random_forest:
          max_depth: {int: [2, 20]}
          max_features: {float: [0.2, 1.0]}
          min_samples_leaf: [1, 5, 20]
        lightgbm:
          learning_rate: {float: [0.01, 0.3], log: true}

A family of the user's own (a ``models:`` entry with an ``estimator``) writes its space in the same
form, under its ``space:`` key.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy.stats import loguniform, randint, uniform

from .exceptions import ProblemSpecError

__all__ = ["describe_space", "grid_points", "parse_space", "suggest"]


def parse_space(family: str, spec: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    """The search space written in problem.yaml for ``family``, as distributions and lists.

    ``where`` is the space's place in problem.yaml, named in errors (default ``tuning.spaces.<family>``).

    Examples
    --------
    >>> space = parse_space("lightgbm", {"num_leaves": {"int": [8, 64]}, "learning_rate": {"float": [0.01, 0.3], "log": True}})
    >>> describe_space(space)
    {'num_leaves': 'int in [8, 64]', 'learning_rate': 'float in [0.01, 0.3], log scale'}
    >>> parse_space("lightgbm", {"num_leaves": {"int": [64, 8]}})
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.ProblemSpecError: problem.yaml: tuning.spaces.lightgbm.num_leaves must be a list ...; got {...}.
    """
    where = f"problem.yaml: {where or f'tuning.spaces.{family}'}"
    if not isinstance(spec, dict):
        raise ProblemSpecError(f"{where} must map parameters to choices or "
                               f"ranges, e.g. {{max_depth: {{int: [2, 12]}}}}; got {spec!r:.200}.")
    space: dict[str, Any] = {}
    for name, value in spec.items():
        at = f"{where}.{name}"
        if isinstance(value, list):
            if not value:
                raise ProblemSpecError(f"{at} is an empty list; give at least one choice, e.g. [1, 5, 20].")
            space[name] = value
            continue
        kinds = [k for k in ("int", "float") if isinstance(value, dict) and k in value]
        bounds = value[kinds[0]] if len(kinds) == 1 else None
        if (not isinstance(bounds, list) or len(bounds) != 2 or not all(isinstance(b, (int, float)) for b in bounds)
                or bounds[0] >= bounds[1] or set(value) - {kinds[0], "log"}):
            raise ProblemSpecError(
                f"{at} must be a list of choices or a range like {{int: [2, 20]}} or "
                f"{{float: [0.01, 0.3], log: true}} with low < high; got {value!r}."
            )
        lo, hi = bounds
        if value.get("log") and (kinds[0] == "int" or lo <= 0):
            raise ProblemSpecError(f"{at}: a log scale needs a float range with low > 0; got {value!r}.")
        if kinds[0] == "int":
            space[name] = randint(int(lo), int(hi) + 1)
        else:
            space[name] = loguniform(lo, hi) if value.get("log") else uniform(lo, hi - lo)
    return space


def _kind(dist) -> tuple[str, float, float]:
    name = dist.dist.name
    lo, hi = (float(b) for b in dist.support())
    if name == "randint":
        return "int", lo, hi
    if name in ("loguniform", "reciprocal"):
        return "log", lo, hi
    return "float", lo, hi


def describe_space(space: dict[str, Any]) -> dict[str, str]:
    """A readable line per parameter (recorded in the results)."""
    out = {}
    for name, value in space.items():
        if isinstance(value, list):
            out[name] = f"one of {value}"
            continue
        kind, lo, hi = _kind(value)
        if kind == "int":
            out[name] = f"int in [{lo:g}, {hi:g}]"
        else:
            out[name] = f"float in [{lo:g}, {hi:g}]" + (", log scale" if kind == "log" else "")
    return out


def suggest(trial, space: dict[str, Any]) -> dict[str, Any]:
    """Ask an Optuna trial for one point of ``space``."""
    params = {}
    for name, value in space.items():
        if isinstance(value, list):
            params[name] = trial.suggest_categorical(name, value)
            continue
        kind, lo, hi = _kind(value)
        if kind == "int":
            params[name] = trial.suggest_int(name, int(lo), int(hi))
        else:
            params[name] = trial.suggest_float(name, lo, hi, log=kind == "log")
    return params


def grid_points(space: dict[str, Any], n_trials: int) -> list[dict[str, Any]]:
    """A grid over ``space`` with at most ``n_trials`` points: ranges get as many levels as fit.

    Examples
    --------
    >>> grid_points({"max_depth": randint(2, 11), "criterion": ["gini", "entropy"]}, 6)
    [{'max_depth': 2, 'criterion': 'gini'}, {'max_depth': 2, 'criterion': 'entropy'}, {'max_depth': 6, 'criterion': 'gini'}, {'max_depth': 6, 'criterion': 'entropy'}, {'max_depth': 10, 'criterion': 'gini'}, {'max_depth': 10, 'criterion': 'entropy'}]
    """
    ranges = [n for n, v in space.items() if not isinstance(v, list)]
    fixed = int(np.prod([len(v) for v in space.values() if isinstance(v, list)]))
    levels = 2
    while ranges and fixed * (levels + 1) ** len(ranges) <= n_trials:
        levels += 1
    axes = []
    for name, value in space.items():
        if isinstance(value, list):
            axes.append(value)
            continue
        kind, lo, hi = _kind(value)
        points = np.geomspace(lo, hi, levels) if kind == "log" else np.linspace(lo, hi, levels)
        axes.append(sorted({int(round(p)) for p in points}) if kind == "int" else [float(p) for p in points])
    grid = [dict(zip(space, combo)) for combo in itertools.product(*axes)]
    return grid[:n_trials]
