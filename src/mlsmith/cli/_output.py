"""How a command gives its result: rendered for a person, and as JSON with ``--json FILE``.

One convention for every command that reports: ``--json FILE`` writes the result as JSON to FILE
beside the usual output; ``--json -`` prints the JSON on stdout *instead* of the rendering, and
everything else the command says (progress lines, ``wrote ...``) goes to stderr, so that
``mlsmith runs list --json - | jq`` reads one JSON document. The JSON of a command is its result
object's ``to_dict()`` (for ``run``, a summary that names the run folder).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import typer
from rich.console import Console

from . import _logging
from ._app import console, err

#: ``--json -``: the JSON on stdout
STDOUT = "-"


def json_option(what: str) -> Any:
    """The ``--json FILE`` option of a command that reports ``what``."""
    return typer.Option(None, "--json", metavar="FILE",
                        help=f"Write {what} as JSON to FILE; '-' prints it on stdout instead "
                             "(stdout then holds the JSON alone: progress and notes go to stderr).")


def json_mode(json_out: Path | None) -> bool:
    """Whether the JSON goes to stdout; if so, from now on the progress lines go to stderr."""
    on = json_out is not None and str(json_out) == STDOUT
    if on:
        _logging.json_on_stdout = True
    return on


def talk() -> Console:
    """The console for what is not the result: stdout, or stderr while stdout holds the JSON."""
    return err if _logging.json_on_stdout else console


def note(message: str) -> None:
    """One plain line (``wrote ...``) where it does not mix with the JSON."""
    talk().print(message, markup=False, highlight=False, soft_wrap=True)


def emit(data: Any, json_out: Path | None) -> None:
    """Write ``data`` as JSON to ``json_out``: stdout for ``-``, else the file (and say so)."""
    from ..runs import to_jsonable, write_json

    if json_out is None:
        return
    if str(json_out) == STDOUT:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")
        sys.stdout.flush()
    else:
        write_json(json_out, data)
        note(f"wrote {json_out}")


def show(data: Any, json_out: Path | None, render: Callable[[Any, Console], None]) -> Any:
    """Render ``data`` for a person unless the JSON goes to stdout; then the JSON. Returns ``data`` as
    plain JSON types (what both were made from)."""
    from ..runs import to_jsonable

    plain = to_jsonable(data)
    if not json_mode(json_out):
        render(plain, console)
    emit(plain, json_out)
    return plain
