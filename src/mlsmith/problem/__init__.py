"""Stage 1: the problem definition, read from problem.yaml and validated.

A :class:`Problem` answers the five questions of a problem definition — the decision, the target,
the success metric and its threshold, the baseline, the constraints — and says where the data is,
how to split it and which seed to use. Only ``target`` and ``data`` are required (``data`` may be
left out when the table is passed to the call: ``mlsmith.run(problem, data=df)``).

Some answers depend on the data (the task type, the positive class, a default metric);
:meth:`Problem.resolve` fills them in once the target column is known, and the run records the
resolved spec.

This module reads the file (:func:`load_problem`, :func:`parse_problem`); the rest is in private
modules, each name importable from here: ``_sections`` (the sections of problem.yaml: ``DataSpec``,
``Baseline``, ``TuningSpec``, ``ModelSpec``, ...), ``_problem`` (:class:`Problem`, which puts them
together), ``_resolve`` (what the target decides: :func:`infer_task`, the positive class, the
default metric and baseline, :func:`threshold_error`), ``_messages`` (a validation error as one
line naming the key, the value and an example) and ``_urls`` (the credentials of a database URL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..exceptions import ProblemSpecError
from ._messages import describe_error
from ._problem import Problem
from ._resolve import infer_task as infer_task
from ._resolve import positive_class as _positive_class  # noqa: F401 - the name draft and benchmarks import
from ._resolve import threshold_error as threshold_error
from ._sections import (
    Baseline,
    Constraints,
    DataSpec,
    Fairness,
    FeatureSpec,
    FeaturesSpec,
    ModelSpec,
    ModelTraits,
    SplitSpec,
    TuningSpec,
)
from ._sections import Role as Role
from ._sections import TaskType as TaskType
from ._urls import mask_url, resolve_url, url_secrets

__all__ = [
    "Baseline",
    "Constraints",
    "DataSpec",
    "Fairness",
    "FeatureSpec",
    "FeaturesSpec",
    "ModelSpec",
    "ModelTraits",
    "Problem",
    "SplitSpec",
    "TuningSpec",
    "load_problem",
    "mask_url",
    "resolve_url",
    "url_secrets",
]


def load_problem(path: str | Path) -> Problem:
    """Read and validate problem.yaml.

    Parameters
    ----------
    path : str or Path
        The YAML file. Relative data paths in it are read relative to its folder.

    Returns
    -------
    Problem
        The validated, immutable problem, its ``base_dir`` the file's folder.

    Raises
    ------
    ProblemSpecError
        With one line naming the field, the value seen and an accepted example.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> spec = pathlib.Path(tempfile.mkdtemp()) / "problem.yaml"
    >>> _ = spec.write_text("target: y\\ndata: {path: d.csv}\\nsuccess_metric: recal\\n")
    >>> load_problem(spec)
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.ProblemSpecError: problem.yaml: 'success_metric': unknown metric 'recal'; ...
    """
    path = Path(path)
    if not path.is_file():
        raise ProblemSpecError(f"problem file '{path}' does not exist; write one with 'mlsmith init DATA --target T'.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemSpecError(f"{path.name} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                               f"{exc.start}); save it as UTF-8.") from None
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader that also refuses aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ProblemSpecError(f"{path.name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from None
    if not isinstance(raw, dict):
        raise ProblemSpecError(f"{path.name} must be a mapping of keys such as 'target:' and 'data:'; got {type(raw).__name__}.")
    return parse_problem(raw, base_dir=path.resolve().parent, source=path.name)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML's safe loader without aliases: a 512-byte file of nested aliases expands to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"it uses the alias '*{event.anchor}'; aliases are refused (a few nested ones expand to "
                "gigabytes): write the value out in full", event.start_mark)
        return super().compose_node(parent, index)


def parse_problem(raw: dict[str, Any], base_dir: str | Path = ".", source: str = "problem.yaml") -> Problem:
    """Validate a problem given as a mapping; errors read like those of :func:`load_problem`."""
    try:
        return Problem(**raw, base_dir=str(base_dir))
    except ValidationError as exc:
        raise ProblemSpecError(describe_error(exc.errors()[0], source, Problem)) from None
    except TypeError as exc:
        raise ProblemSpecError(f"{source}: {exc}.") from None
