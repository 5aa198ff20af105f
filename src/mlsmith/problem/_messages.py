"""The one-line errors of problem.yaml: a validation error read back as the key, the value seen and
an accepted example.
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

from pydantic import BaseModel

from ..exceptions import ECHO_LIMIT, echo_value
from ._sections import ModelSpec

__all__ = ["describe_error", "entry_error"]

#: An accepted value for a key, quoted when the key is missing or its value is refused.
_EXAMPLES = {
    "target": "target: churned",
    "data": "data: {path: churn.csv}",
    "type": "type: binary_classification",
    "threshold": "threshold: 0.8",
    "seed": "seed: 42",
    "test_size": "split: {test_size: 0.2}",
    "cv_folds": "split: {cv_folds: 5}",
    "interpretability": "interpretability: high",
    "latency_ms": "constraints: {latency_ms: 100}",
    "time_budget_s": "constraints: {time_budget_s: 600}",
    "family_time_budget_s": "constraints: {family_time_budget_s: 60}",
    "method": "tuning: {method: bayes}",
    "n_trials": "tuning: {n_trials: 20}",
    "timeout_s": "tuning: {timeout_s: 120}",
    "name": "name: extra_trees",
    "estimator": "estimator: sklearn.ensemble.ExtraTreesClassifier",
}


def describe_error(error: Mapping[str, Any], source: str, spec: type[BaseModel]) -> str:
    """One line for a validation error of ``spec`` (the problem) read from ``source``: the key, the value
    seen and an accepted example."""
    loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
    field_path = ".".join(loc) or "(top level)"
    if len(field_path) > ECHO_LIMIT:  # a key is echoed too: cut it like a value
        field_path = f"{field_path[:ECHO_LIMIT]}..."
    kind = error["type"]
    if kind == "missing":
        example = _EXAMPLES.get(loc[-1], f"{loc[-1]}: ...")
        return f"{source}: required key '{field_path}' is missing; add e.g. '{example}'."
    if kind == "extra_forbidden":
        allowed = _allowed_keys(spec, loc[:-1])
        close = get_close_matches(loc[-1], allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Known keys: {', '.join(allowed)}."
        return f"{source}: unknown key '{field_path}'.{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if len(message) > 3 * ECHO_LIMIT:
        message = f"{message[:3 * ECHO_LIMIT]}..."
    if kind == "value_error":
        return f"{source}: '{field_path}': {message}"
    example = _EXAMPLES.get(loc[-1] if loc else "", "")
    example = f" Example: '{example}'." if example else ""
    return f"{source}: '{field_path}' {message.lower()}; got {echo_value(error.get('input'))}.{example}"


def _allowed_keys(spec: type[BaseModel], loc: list[str]) -> list[str]:
    """The keys of the section of ``spec`` at ``loc``."""
    model = spec
    for part in loc:
        annotation = model.model_fields[part].annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            break
        model = candidates[0]
    return [name for name in model.model_fields if name != "base_dir"]


def entry_error(index: int, raw: Any, error: Mapping[str, Any]) -> str:
    """One line for the first error in the ``index``-th ``models:`` entry."""
    name = raw.get("name") if isinstance(raw, dict) else None
    what = f"entry {name!r}" if isinstance(name, str) else f"entry {index + 1}"
    loc = ".".join(str(p) for p in error["loc"] if not isinstance(p, int) and p not in ("str", "dict[...]"))
    if error["type"] == "missing":
        return f"{what} needs '{loc}', e.g. '{_EXAMPLES.get(loc, loc + ': ...')}'"
    if error["type"] == "extra_forbidden":
        close = get_close_matches(loc.rsplit(".", 1)[-1], list(ModelSpec.model_fields), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(ModelSpec.model_fields)}"
        return f"{what}: unknown key '{loc}'{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "value_error":  # our own sentence, which names the value
        return f"{what}: {message}"
    return f"{what}: '{loc}' {message[0].lower()}{message[1:]}; got {echo_value(error.get('input'))}"
