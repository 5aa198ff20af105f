"""Exceptions raised by mlsmith.

The tree::

    MlsmithError                 a user error: bad input, bad spec, bad bundle (CLI exit 2)
    ├── ProblemSpecError         problem.yaml is invalid
    ├── DataError                the data cannot be loaded or does not fit the spec
    ├── BundleError              a model bundle is missing, incomplete or tampered with
    └── StrictModeStop           ``--strict`` stopped the run on an error-level finding (exit 3)

Anything else that escapes is a bug in mlsmith, not a user error.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ECHO_LIMIT", "BundleError", "DataError", "MlsmithError", "ProblemSpecError", "StrictModeStop", "echo_value"]


class MlsmithError(Exception):
    """A user error: the message is one sentence that names the problem, the value and the fix.

    The CLI prints it as one ``Error: ...`` line and exits with :attr:`exit_code` (2), no traceback.

    Examples
    --------
    >>> from mlsmith import load_problem
    >>> try:
    ...     load_problem("no/such/problem.yaml")
    ... except MlsmithError as error:
    ...     print(type(error).__name__, error.exit_code)
    ProblemSpecError 2
    """

    exit_code = 2


class ProblemSpecError(MlsmithError):
    """problem.yaml is invalid."""


class DataError(MlsmithError):
    """The data cannot be loaded, or does not fit the problem."""


class BundleError(MlsmithError):
    """A model bundle is missing, incomplete, or has been changed since it was written."""


class StrictModeStop(MlsmithError):
    """``--strict`` stopped the run before training because of an error-level finding."""

    exit_code = 3


#: Values echoed in an error line are cut to this many characters.
ECHO_LIMIT = 200


def echo_value(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``value``'s repr cut to ``limit`` characters, saying how long it was.

    >>> echo_value("x" * 1000, 10)
    "'xxxxxxxx... (1,002 characters)"
    """
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 1]}... ({len(text):,} characters)"
