"""`mlsmith quality` and `mlsmith eda`: profile a data file on its own (out of core)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app, console


def _write(result, title: str, key: str, json_out: Path | None, html_out: Path | None) -> None:
    from ..report._profile import profile_page
    from ..runs import to_jsonable, write_json

    if json_out:
        write_json(json_out, result)
        console.print(f"wrote {json_out}", markup=False, highlight=False)
    if html_out:
        html_out.write_text(profile_page(title, {key: to_jsonable(result)}))
        console.print(f"wrote {html_out}", markup=False, highlight=False)


@app.command()
def quality(
    data: Path = typer.Argument(..., help="The data file (.csv, .parquet or .xlsx); read out of core."),
    target: str = typer.Option(None, "--target", "-t", help="The target column (distribution, imbalance)."),
    task: str = typer.Option(None, "--task", help="binary_classification, multiclass_classification or regression "
                             "(inferred from the target when omitted)."),
    json_out: Path = typer.Option(None, "--json", help="Write the report as JSON."),
    html_out: Path = typer.Option(None, "--html", help="Write the report as a self-contained HTML page."),
) -> None:
    """Data quality report of DATA: missing values, duplicates, types, summaries, and what to fix."""
    from ..quality import assess_quality
    from ..report._profile import print_quality
    from ..runs import to_jsonable

    report = assess_quality(data, target, task=task)
    print_quality(to_jsonable(report), console)
    _write(report, f"Data quality: {data.name}", "quality", json_out, html_out)


@app.command()
def eda(
    data: Path = typer.Argument(..., help="The data file (.csv, .parquet or .xlsx); read out of core."),
    target: str = typer.Option(..., "--target", "-t", help="The target column."),
    task: str = typer.Option(None, "--task", help="binary_classification, multiclass_classification or regression "
                             "(inferred when omitted)."),
    time_column: str = typer.Option(None, "--time-column", help="The date column for temporal patterns."),
    json_out: Path = typer.Option(None, "--json", help="Write the report (and every figure's numbers) as JSON."),
    html_out: Path = typer.Option(None, "--html", help="Write the report with its figures as a self-contained HTML page."),
) -> None:
    """Exploratory analysis of DATA against TARGET: distributions, missingness, associations, leakage, time."""
    from ..eda import explore
    from ..report._profile import print_eda
    from ..runs import to_jsonable

    report = explore(data, target, task=task, time_column=time_column)
    print_eda(to_jsonable(report), console)
    _write(report, f"Exploratory analysis: {data.name}", "eda", json_out, html_out)
