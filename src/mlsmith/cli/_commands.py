from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console


def _progress():
    """A spinner that names the stage being run, on a terminal; elsewhere the library's INFO lines say it."""
    from contextlib import nullcontext

    from ._logging import spinner_wanted

    if not spinner_wanted():
        return nullcontext(), None
    status = console.status("starting", spinner="dots")
    return status, lambda message: status.update(message)


#: The CV workers of `run` and `demo`: -1 for every core.
_JOBS = typer.Option(-1, "--jobs", "-j", envvar="MLSMITH_JOBS", help="Parallel workers for cross-validation (-1: all cores).")


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
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", envvar="MLSMITH_RUNS_DIR", help="Where the run folder is created."),
    strict: bool = typer.Option(False, "--strict", help="Stop before training on an error-level finding (exit 3)."),
    cluster: str = typer.Option(None, "--cluster",
                                help="Run on Dask worker processes: 'local' (one per core), 'local:N' or "
                                "tcp://host:8786. With a Parquet folder or glob as data.path, the table stays on "
                                "the workers and LightGBM trains on every row through lightgbm.dask."),
    jobs: int = _JOBS,
    mlflow: bool = typer.Option(False, "--mlflow", help="Then log the run to MLflow (MLFLOW_TRACKING_URI, or "
                                "--mlflow-uri); needs the mlflow extra."),
    mlflow_uri: str = typer.Option(None, "--mlflow-uri", help="The MLflow tracking URI to log to (implies --mlflow)."),
) -> None:
    """Run all seven stages for PROBLEM and write runs/<id>/ (report, results, model bundle)."""
    from ..parallel import fork_workers_from_server, warm_up

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
    print_run(result, console)
    if mlflow or mlflow_uri:  # after the run folder is complete: MLflow reads it
        from ..tracking import log_to_mlflow

        console.print(f"logged to MLflow as run {log_to_mlflow(result.run_dir, mlflow_uri)}", markup=False,
                      highlight=False)
    console.print(str(result.run_dir), markup=False, highlight=False, soft_wrap=True)


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
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", envvar="MLSMITH_RUNS_DIR", help="Where the run folder is created."),
    jobs: int = _JOBS,
) -> None:
    """Run the shipped customer-churn example through all seven stages."""
    from ..datasets import CHURN_PROBLEM, make_churn

    folder = runs_dir / "demo-data"
    folder.mkdir(parents=True, exist_ok=True)
    make_churn().to_csv(folder / "churn.csv", index=False)
    (folder / "problem.yaml").write_text(CHURN_PROBLEM)
    run(folder / "problem.yaml", runs_dir=runs_dir, strict=False, cluster=None, jobs=jobs, mlflow=False,
        mlflow_uri=None)
