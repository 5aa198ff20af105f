from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console
from ._output import emit, json_mode, json_option


@app.command("check-pipeline")
def check_pipeline(
    model: Path = typer.Argument(..., help="Your fitted estimator, pipeline or search (.skops, .joblib, .pkl)."),
    train: Path = typer.Argument(..., help="The training rows it was fitted on (.csv or .parquet)."),
    full: Path | None = typer.Option(None, "--full", help="All rows before the split, to tell steps fitted on them."),
    target: str | None = typer.Option(None, "--target", "-t", help="The target column, dropped from the data."),
    json_out: Path = json_option("the findings (a list of {check, severity, message, evidence, fix})"),
) -> None:
    """Flag preprocessing in MODEL fitted outside cross-validation (exit 1 on an error-level finding)."""
    from ..guards import check_pipeline_file
    from ..report import print_findings

    report = check_pipeline_file(model, train, full, target)
    if not json_mode(json_out):
        if not len(report):
            console.print("No step fitted outside the training rows was found.", markup=False)
        print_findings(report, console)
    emit(report, json_out)
    if report.errors:
        raise typer.Exit(1)
