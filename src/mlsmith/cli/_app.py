from __future__ import annotations

import sys
from typing import Sequence

import typer
from typer.exceptions import TyperException
from rich.console import Console

from ..exceptions import MlsmithError

app = typer.Typer(
    name="mlsmith",
    help="From problem.yaml to a monitored model in production: the seven stages of the ML lifecycle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: user errors become one 'Error: ...' line on stderr and exit code 2 (3 for --strict)."""
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="mlsmith", standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, outside standalone mode
            sys.exit(code)
    except MlsmithError as exc:
        err.print(f"Error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("Aborted.")
        sys.exit(130)
    except TyperException as exc:  # usage errors: typer shows the usage line and the problem
        exc.show()
        sys.exit(getattr(exc, "exit_code", 2))
