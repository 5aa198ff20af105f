from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console


@app.command("check-pipeline")
def check_pipeline(
    model: Path = typer.Argument(..., help="Your fitted estimator, pipeline or search (.skops, .joblib, .pkl)."),
    train: Path = typer.Argument(..., help="The training rows it was fitted on (.csv or .parquet)."),
    full: Path = typer.Option(None, "--full", help="All rows before the split, to tell steps fitted on them."),
    target: str = typer.Option(None, "--target", "-t", help="The target column, dropped from the data."),
) -> None:
    """Flag preprocessing in MODEL fitted outside cross-validation (exit 1 on an error-level finding)."""
    from ..guards import check_pipeline_file
    from ..report import print_findings

    report = check_pipeline_file(model, train, full, target)
    if not len(report):
        console.print("No step fitted outside the training rows was found.", markup=False)
    print_findings(report, console)
    if report.errors:
        raise typer.Exit(1)
