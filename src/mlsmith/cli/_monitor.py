"""CLI: ``monitor``, ``retrain`` and ``runs list|show|compare``."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console
from ._commands import _JOBS, _progress
from ._deploy import _TRUST, bundle_arg
from ._output import json_mode, json_option, note, show

runs_app = typer.Typer(help="The run history: list, show and compare runs (index in <runs-dir>/index.db).",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")

_RUNS_DIR = typer.Option(Path("runs"), "--runs-dir", envvar="MLSMITH_RUNS_DIR", help="The folder holding the run folders (the flag wins over the variable).")


@app.command()
def monitor(
    bundle: Path = typer.Argument(..., help="A model bundle: the 'model' folder of a run."),
    current: Path | None = typer.Argument(None, help="Current rows (.csv or .parquet), read in chunks."),
    labels: str | None = typer.Option(None, "--labels", help="Column with the true target: measures performance decay."),
    json_out: Path | None = json_option("the report"),
    html_out: Path | None = typer.Option(None, "--html", help="Write the report as one HTML page with figures."),
    log: Path | None = typer.Option(None, "--log", help="Monitor the serving prediction log (SQLite) instead of a file."),
    since: str | None = typer.Option(None, "--since", help="Log window start: ISO date/time (UTC), unix seconds or an age (7d)."),
    until: str | None = typer.Option(None, "--until", help="Log window end (exclusive), same formats."),
    role: str = typer.Option("champion", "--role", help="Log rows of this role: champion or challenger."),
    alpha: float = typer.Option(0.05, "--alpha", help="False-alarm rate of the drift tests, over all features."),
    trust: list[str] = _TRUST,
) -> None:
    """Check CURRENT data (or a window of the prediction log) against BUNDLE's reference: drift, performance.

    Exit code 1 when retraining is recommended, 0 otherwise, 2 for bad input.
    """
    from ..monitor import monitor as run_monitor
    from ..report._monitor import page
    from ..report._monitor_terminal import print_monitor

    json_mode(json_out)
    report = run_monitor(bundle_arg(bundle, trust), current, labels=labels, log=log, since=since, until=until, role=role, alpha=alpha)
    data = show(report, json_out, print_monitor)
    if html_out:
        html_out.write_text(page(data))
        note(f"wrote {html_out}")
    if report.exit_code:
        raise typer.Exit(report.exit_code)  # 1: retraining recommended (for cron and CI)


@app.command()
def retrain(
    problem: Path = typer.Argument(..., help="The problem.yaml the champion was trained from."),
    champion: Path = typer.Option(..., "--champion", help="The bundle in production."),
    data: Path = typer.Option(..., "--data", help="The new data (.csv or .parquet)."),
    runs_dir: Path = _RUNS_DIR,
    promote: bool = typer.Option(False, "--promote", help="When the challenger wins, put its bundle in the champion's folder."),
    jobs: int = _JOBS,
    json_out: Path | None = json_option("the decision"),
) -> None:
    """Retrain on new DATA; promote the challenger only when it beats the champion beyond noise."""
    from ..report._monitor_terminal import print_retrain
    from ..retraining import retrain as run_retrain
    on_stdout = json_mode(json_out)
    status, say = _progress()
    with status:
        result = run_retrain(problem, champion, data, runs_dir=runs_dir, promote=promote, n_jobs=jobs,
                             progress=say)
    show(result, json_out, print_retrain)
    if not on_stdout:  # the challenger's run folder last, as 'run' prints its own (the JSON holds it)
        console.print(result.challenger_run, markup=False, highlight=False)


@runs_app.command("list")
def runs_list(runs_dir: Path = _RUNS_DIR, json_out: Path | None = json_option("the runs")) -> None:
    """List the runs, newest first."""
    from ..report._monitor_terminal import print_runs
    from ..runs import list_runs

    show(list_runs(runs_dir), json_out, print_runs)


@runs_app.command("show")
def runs_show(run_id: str = typer.Argument(..., help="A run id (or a unique prefix)."), runs_dir: Path = _RUNS_DIR,
              json_out: Path | None = json_option("the run")) -> None:
    """Show one run: verdict, metrics, parameters, data fingerprint."""
    from ..report._monitor_terminal import print_run_detail
    from ..runs import show_run

    show(show_run(runs_dir, run_id), json_out, print_run_detail)


@runs_app.command("compare")
def runs_compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or unique prefixes); the first is the reference."),
    runs_dir: Path = _RUNS_DIR,
    json_out: Path | None = json_option("the comparison"),
    html_out: Path | None = typer.Option(None, "--html", help="Also write the comparison as one HTML page."),
) -> None:
    """Compare runs: verdicts, test metrics (difference from the first), parameters, data fingerprints."""
    from ..report._monitor_terminal import print_comparison
    from ..runs import compare_runs

    comparison = compare_runs(runs_dir, *run_ids)
    show(comparison, json_out, print_comparison)
    if html_out is not None:
        from ..report._compare import comparison_page
        from ..runs import to_jsonable

        html_out.write_text(comparison_page(to_jsonable(comparison)), encoding="utf-8")
        note(f"wrote {html_out}")


@runs_app.command("export")
def runs_export(
    run_id: str = typer.Argument(..., help="A run id (or a unique prefix)."),
    runs_dir: Path = _RUNS_DIR,
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="The MLflow tracking URI (default: MLFLOW_TRACKING_URI)."),
    experiment: str | None = typer.Option(None, "--experiment", help="The MLflow experiment (default: the problem's name)."),
) -> None:
    """Log a past run to MLflow: spec, metrics, verdict, report, figures, and the bundle as a pyfunc model."""
    from ..runs import show_run
    from ..tracking import log_to_mlflow

    run_dir = Path(show_run(runs_dir, run_id)["path"])
    console.print(f"logged {run_dir.name} to MLflow as run {log_to_mlflow(run_dir, mlflow_uri, experiment)}",
                  markup=False, highlight=False)
