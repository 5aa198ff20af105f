"""How much the program says: ``-q`` / ``-v`` set the level of the ``mlsmith`` logger for the whole library.

The library only logs (``logging.getLogger(__name__)``); this module, run by the command line alone,
is the one place that attaches handlers. Progress lines are INFO: on a terminal a spinner shows
them instead, elsewhere (a log file, CI) each one is a plain line on stdout with the time since
the command started, so a long run is never silent; warnings and errors go to stderr. A command
printing its result as JSON on stdout (``--json -``) sends the progress lines to stderr instead,
so that stdout holds the JSON alone.
"""

from __future__ import annotations

import logging
import sys
import time

#: -1 quiet (warnings and errors only), 0 normal, 1 verbose (debug: each stage's time)
verbosity = 0
#: the command prints its result as JSON on stdout: everything else goes to stderr
json_on_stdout = False
_START_WALL = time.time()


class _Elapsed(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[{record.created - _START_WALL:7.1f}s] {record.getMessage()}"


class _Stream(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout``/``sys.stderr`` is when a record comes (tests and
    notebooks replace them meanwhile); ``"progress"`` is stdout, or stderr while stdout holds JSON."""

    _mlsmith_cli = True

    def __init__(self, name: str):
        super().__init__()
        self.name_ = name

    @property
    def stream(self):
        if self.name_ == "progress":
            return sys.stderr if json_on_stdout else sys.stdout
        return getattr(sys, self.name_)

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(quiet: bool, verbose: bool) -> None:
    """Set the ``mlsmith`` logger's level and its handlers (replacing earlier ones)."""
    global verbosity
    reset()
    verbosity = -1 if quiet else 1 if verbose else 0
    logger = logging.getLogger("mlsmith")
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    # Progress and debug lines go with the command's output on stdout (on a terminal the spinner shows
    # them instead), so that stderr holds only what went wrong: a user error stays one line there.
    progress = _Stream("progress")
    progress.setFormatter(_Elapsed())
    progress.addFilter(lambda record: record.levelno < logging.WARNING and not spinner_wanted())
    problems = _Stream("stderr")
    problems.setLevel(logging.WARNING)
    logger.addHandler(progress)
    logger.addHandler(problems)


def reset() -> None:
    """Take the handler off again (the command is done; a program calling ``main`` keeps its own logging)."""
    global verbosity, json_on_stdout
    verbosity = 0
    json_on_stdout = False
    logger = logging.getLogger("mlsmith")
    for handler in [h for h in logger.handlers if getattr(h, "_mlsmith_cli", False)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def spinner_wanted() -> bool:
    """A spinner only on a terminal, and not with -q or -v (verbose lines would tear it)."""
    return verbosity == 0 and sys.stderr.isatty()
