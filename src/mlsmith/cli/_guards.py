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
    trust: list[str] = typer.Option([], "--trust", metavar="TYPE",
                                    help="A type a .skops MODEL may hold beyond scikit-learn's and mlsmith's "
                                         "(package.module.Class); repeatable. Loading runs its code."),
    allow_pickle: bool = typer.Option(False, "--allow-pickle",
                                      help="Load a .joblib/.pkl MODEL: a pickle can run any code, use only your own."),
    json_out: Path = json_option("the findings (a list of {check, severity, message, evidence, fix})"),
) -> None:
    """Flag preprocessing in MODEL fitted outside cross-validation (exit 1 on an error-level finding).

    MODEL is loaded only if nothing in it runs code unasked: a .skops file holding other types than
    scikit-learn's and mlsmith's needs --trust TYPE, a .joblib or pickle file --allow-pickle.
    """
    from ..guards import check_pipeline_file
    from ..report import print_findings

    report = check_pipeline_file(model, train, full, target, trusted=trust, allow_pickle=allow_pickle)
    if not json_mode(json_out):
        if not len(report):
            console.print("No step fitted outside the training rows was found.", markup=False)
        print_findings(report, console)
    emit(report, json_out)
    if report.errors:
        raise typer.Exit(1)
