"""`mlsmith quality` and `mlsmith eda`: profile a data file on its own (out of core)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app
from ._output import json_mode, json_option, note, show


def _write(result, render, title: str, key: str, json_out: Path | None, html_out: Path | None) -> None:
    from ..report._profile import profile_page

    plain = show(result, json_out, render)
    if html_out:
        html_out.write_text(profile_page(title, {key: plain}))
        note(f"wrote {html_out}")


@app.command()
def quality(
    data: Path = typer.Argument(..., help="The data file (.csv, .parquet or .xlsx); read out of core."),
    target: str | None = typer.Option(None, "--target", "-t", help="The target column (distribution, imbalance)."),
    task: str | None = typer.Option(None, "--task", help="binary_classification, multiclass_classification or regression "
                             "(inferred from the target when omitted)."),
    json_out: Path = json_option("the report"),
    html_out: Path | None = typer.Option(None, "--html", help="Write the report as a self-contained HTML page."),
) -> None:
    """Data quality report of DATA: missing values, duplicates, types, summaries, and what to fix."""
    from ..quality import assess_quality
    from ..report._profile import print_quality

    json_mode(json_out)
    report = assess_quality(data, target, task=task)
    _write(report, print_quality, f"Data quality: {data.name}", "quality", json_out, html_out)


@app.command()
def eda(
    data: Path = typer.Argument(..., help="The data file (.csv, .parquet or .xlsx); read out of core."),
    target: str = typer.Option(..., "--target", "-t", help="The target column."),
    task: str | None = typer.Option(None, "--task", help="binary_classification, multiclass_classification or regression "
                             "(inferred when omitted)."),
    time_column: str | None = typer.Option(None, "--time-column", help="The date column for temporal patterns."),
    seed: int = typer.Option(42, "--seed", help="Seed of the row sample the figures are drawn from (42, as a spec's "
                             "default seed: the same sample as `mlsmith run`'s analysis)."),
    json_out: Path = json_option("the report (and every figure's numbers)"),
    html_out: Path | None = typer.Option(None, "--html", help="Write the report with its figures as a self-contained HTML page."),
) -> None:
    """Exploratory analysis of DATA against TARGET: distributions, missingness, associations, leakage, time."""
    from ..eda import explore
    from ..report._profile import print_eda

    json_mode(json_out)
    report = explore(data, target, task=task, time_column=time_column, seed=seed)
    _write(report, print_eda, f"Exploratory analysis: {data.name}", "eda", json_out, html_out)
