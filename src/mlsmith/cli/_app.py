from __future__ import annotations

import sys
from typing import Sequence

import typer
from rich.console import Console
from typer.exceptions import TyperException

from ..exceptions import MlsmithError
from ._logging import configure, reset

app = typer.Typer(
    name="mlsmith",
    help="From problem.yaml to a monitored model in production: the seven stages of the ML lifecycle.",
    epilog="Environment: MLSMITH_RUNS_DIR is the default of every --runs-dir, MLSMITH_JOBS of --jobs; a flag "
           "given on the command line wins. --json FILE writes a command's result as JSON; --json - prints it on "
           "stdout alone.",
    no_args_is_help=True,
    invoke_without_command=True,  # so that --version needs no command
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: user errors become one 'Error: ...' line on stderr and exit code 2 (3 for --strict).

    Called as the program (``argv`` None), it then ends the process at once (see :func:`_end_process`).
    """
    code = _dispatch(argv)
    if argv is None:
        _end_process(code)
    if code:
        sys.exit(code)


@app.callback()
def _options(
    context: typer.Context,
    version: bool = typer.Option(False, "--version", is_eager=True, help="Print mlsmith's version and exit."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors (no progress)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug lines too: what each stage did and took."),
) -> None:
    """Options for every command; progress goes to stderr (one plain line per step when not on a terminal)."""
    if version:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            number = installed("mlsmith")
        except PackageNotFoundError:  # run from a source tree
            from .. import __version__ as number
        console.print(f"mlsmith {number}", markup=False, highlight=False)
        raise typer.Exit(0)
    if quiet and verbose:
        raise typer.BadParameter("give --quiet or --verbose, not both")
    configure(quiet, verbose)
    if context.invoked_subcommand is None:  # options alone, no command: the help, as with no arguments
        console.print(context.get_help(), markup=False, highlight=False)
        raise typer.Exit(2)


def _dispatch(argv: Sequence[str] | None) -> int:
    """Run one command; the exit code."""
    try:
        return _command(argv)
    finally:
        reset()


def _command(argv: Sequence[str] | None) -> int:
    try:
        code = app(args=list(argv) if argv is not None else None, prog_name="mlsmith", standalone_mode=False)
        return code if isinstance(code, int) else 0  # typer.Exit(n) is returned, not raised, outside standalone mode
    except MlsmithError as exc:
        err.print(f"Error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("Aborted.")
        return 130
    except TyperException as exc:  # usage errors: typer shows the usage line and the problem
        # typer raises only its vendored click's ClickException here, which has show(); the public base
        # class we can name does not declare it
        exc.show()  # type: ignore[attr-defined]
        return getattr(exc, "exit_code", 2)


def _end_process(code: int) -> None:
    """End the program without the interpreter's teardown of its heap.

    With scikit-learn, SciPy, LightGBM and the run's data loaded, that teardown (freeing every module
    and object one by one) took 0.8 s, and a graceful stop of the CV workers 0.4 s more, after the
    command's work and output were done. The workers are killed (their temporary files removed),
    the atexit handlers run as at a normal exit, the output is flushed, and the process ends.
    """
    import atexit
    import os

    if "joblib.externals.loky.reusable_executor" in sys.modules:  # else no worker was started (and importing
        from .._workers import stop_workers  # joblib to find none cost --version 0.25 s)

        stop_workers()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            pass
    os._exit(code)
