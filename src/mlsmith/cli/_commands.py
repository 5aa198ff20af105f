from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console, err
from ._output import emit, json_mode, json_option, note


def progress_bar(console):
    """A one-line rich progress display: spinner, the step's text, and for a counted step its bar,
    ``done/total``, the time left and the time spent (a step without a count shows the text alone)."""
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Counted(ProgressColumn):
        def __init__(self, column: ProgressColumn):
            super().__init__()
            self.column = column

        def render(self, task):
            return self.column.render(task) if task.total else Text("")

    class Count(ProgressColumn):
        def render(self, task):
            return Text(f"{int(task.completed)}/{int(task.total)}" if task.total else "", style="progress.download")

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), Counted(BarColumn()), Count(),
                    Counted(TimeRemainingColumn()), console=console, transient=True)


def _progress():
    """What a run shows while it works, on stderr on a terminal: the stage being run, with a bar, its
    count and the time left when the stage reports a count (tuning trials); elsewhere the library's
    INFO lines say it, one per stage."""
    from contextlib import nullcontext

    from ._logging import spinner_wanted

    if not spinner_wanted():
        return nullcontext(), None
    bar = progress_bar(err)
    shown = {"task": bar.add_task("starting", total=None), "total": None}

    def show(message: str) -> None:
        total, done = getattr(message, "total", None), getattr(message, "done", None) or 0
        if total != shown["total"]:  # another count, or none: a fresh task (rich keeps a total once set)
            bar.remove_task(shown["task"])
            shown.update(task=bar.add_task(str(message), total=total, completed=done), total=total)
        else:
            bar.update(shown["task"], completed=done, description=str(message))

    return bar, show


#: The CV workers of `run`, `demo` and `retrain`: -1 for every core.
_JOBS = typer.Option(-1, "--jobs", "-j", envvar="MLSMITH_JOBS", help="Parallel workers for cross-validation (-1: all cores; the flag wins over the variable).")


def _running_as_mlsmith() -> bool:
    """Whether this process is the mlsmith program (``mlsmith ...`` or ``python -m mlsmith ...``), whose
    main module a forked worker may import again; not a script that calls :func:`main` itself."""
    import sys

    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None:
        return spec.name == "mlsmith.__main__"
    return Path(getattr(main, "__file__", "") or "").stem == "mlsmith"


@app.command()
def run(
    problem: Path = typer.Argument(..., help="The problem.yaml to run."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", envvar="MLSMITH_RUNS_DIR",
                                 help="Where the run folder is created (the flag wins over the variable)."),
    strict: bool = typer.Option(False, "--strict", help="Stop before training on an error-level finding (exit 3)."),
    cluster: str | None = typer.Option(None, "--cluster",
                                help="Run on Dask worker processes: 'local' (one per core), 'local:N' or "
                                "tcp://host:8786. With a Parquet folder or glob as data.path, the table stays on "
                                "the workers and LightGBM trains on every row through lightgbm.dask."),
    jobs: int = _JOBS,
    mlflow: bool = typer.Option(False, "--mlflow", help="Then log the run to MLflow (MLFLOW_TRACKING_URI, or "
                                "--mlflow-uri); needs the mlflow extra."),
    mlflow_uri: str | None = typer.Option(None, "--mlflow-uri", help="The MLflow tracking URI to log to (implies --mlflow)."),
    json_out: Path = json_option("a summary (run folder, verdict, test and baseline metrics, leaderboard, guards)"),
) -> None:
    """Run all seven stages for PROBLEM and write runs/<id>/ (report, results, model bundle).

    The run folder's path is the last line printed (with --json -, the JSON object's "path").
    """
    from .._workers import fork_workers_from_server, warm_up

    on_stdout = json_mode(json_out)
    workers_ready = lambda: None  # noqa: E731
    if cluster is None and problem.is_file():
        # The model libraries are imported for the CV workers while this process imports the rest.
        if _running_as_mlsmith():
            fork_workers_from_server()
        workers_ready = warm_up(wait=False)
    from ..report import print_run
    from ..workflow import run as run_workflow

    status, say = _progress()
    try:
        with status:
            result = run_workflow(problem, runs_dir=runs_dir, strict=strict, n_jobs=jobs, progress=say, cluster=cluster)
    finally:
        # A run that stopped before its CV waits for them here: cancelling queued work races
        # loky's manager thread, which then prints a traceback.
        workers_ready()
    if not on_stdout:
        print_run(result, console)
    mlflow_run = None
    if mlflow or mlflow_uri:  # after the run folder is complete: MLflow reads it
        from ..tracking import log_to_mlflow

        mlflow_run = log_to_mlflow(result.run_dir, mlflow_uri)
        note(f"logged to MLflow as run {mlflow_run}")
    emit(run_summary(result, mlflow_run), json_out)
    if not on_stdout:
        console.print(str(result.run_dir), markup=False, highlight=False, soft_wrap=True)


def run_summary(result, mlflow_run: str | None = None) -> dict:
    """What ``run --json`` gives: where the run is, its verdict, test and baseline metrics, the
    leaderboard and the guards' findings (every number is in the run folder's results.json)."""
    from ..runs import to_jsonable

    evaluation, run_dir = result.evaluation, result.run_dir
    return to_jsonable({
        "run_id": run_dir.name, "path": run_dir, "results": run_dir / "results.json",
        "report": run_dir / "report.html", "bundle": result.bundle.get("path"),
        "name": result.problem.name, "task": result.problem.type, "model": result.bundle.get("model"),
        "data_fingerprint": result.bundle.get("data_fingerprint"),
        "verdict": evaluation.verdict, "test_metrics": evaluation.test_metrics,
        "baseline_metrics": evaluation.baseline_metrics,
        "leaderboard": [{"model": row.model, "cv_mean": row.cv_mean, "cv_std": row.cv_std, "status": row.status}
                        for row in result.leaderboard.rows],
        "guards": [{"check": f.check, "severity": f.severity, "message": f.message} for f in result.guards],
        "notes": result.notes, "mlflow_run": mlflow_run,
    })


@app.command()
def init(
    data: Path = typer.Argument(..., help="The data file (.csv, .parquet or .xlsx)."),
    target: str = typer.Option(..., "--target", "-t", help="The target column."),
    output: Path = typer.Option(Path("problem.yaml"), "-o", "--output", help="Where to write the draft."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Draft a commented problem.yaml for DATA: inferred task, suggested metric, open decisions."""
    from ..draft import draft_problem
    from ..exceptions import MlsmithError

    if output.exists() and not force:
        raise MlsmithError(f"'{output}' already exists; pass --force to overwrite it or -o to write elsewhere.")
    text = draft_problem(data, target, output)
    output.write_text(text)
    console.print(f"wrote {output}; edit the TODO keys, then run: mlsmith run {output}", markup=False)


@app.command()
def demo(
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", envvar="MLSMITH_RUNS_DIR",
                                 help="Where the run folder is created (the flag wins over the variable)."),
    jobs: int = _JOBS,
    json_out: Path = json_option("the run's summary, as 'run --json' does"),
) -> None:
    """Run the shipped customer-churn example through all seven stages."""
    from ..datasets import CHURN_PROBLEM, make_churn

    folder = runs_dir / "demo-data"
    folder.mkdir(parents=True, exist_ok=True)
    make_churn(seed=0).to_csv(folder / "churn.csv", index=False)  # the shipped demo table: always the same rows
    (folder / "problem.yaml").write_text(CHURN_PROBLEM)
    run(folder / "problem.yaml", runs_dir=runs_dir, strict=False, cluster=None, jobs=jobs, mlflow=False,
        mlflow_uri=None, json_out=json_out)
