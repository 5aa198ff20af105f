from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console
from ._output import emit, json_mode, json_option


@app.command()
def features(
    data: Path = typer.Argument(..., help="The data file (.csv or .parquet)."),
    target: str = typer.Option(..., "--target", "-t", help="The target column (never transformed, never read for the plan)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the plan as editable YAML here (default: print it)."),
    holidays_country: str | None = typer.Option(None, "--holidays-country", help="ISO code, e.g. US: adds is_holiday to dates."),
    json_out: Path | None = json_option("the plan (mode, transforms, notes)"),
) -> None:
    """Suggest a feature plan for DATA: each transform with its column(s), kind and reason."""
    from ..features import suggest_plan
    from ..report._features import print_features

    on_stdout = json_mode(json_out)
    plan = suggest_plan(data, target, holidays_country)
    if output is not None:
        output.write_text(plan.to_yaml())
    if output is None and not on_stdout:
        typer.echo(plan.to_yaml(), nl=False)
    elif not on_stdout:
        print_features({"mode": plan.mode, "plan": plan.to_dict()["transforms"], "notes": plan.notes}, console)
        console.print(f"wrote {output}; edit it, then copy its 'features:' section into problem.yaml", markup=False)
    emit(plan, json_out)
