"""Deployment commands: batch scoring, serving, and the champion/challenger comparison."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ._app import app, console, err
from ._output import json_mode, json_option, show

_TRUST = typer.Option([], "--trust", metavar="TYPE",
                      help="A type the bundle may hold beyond mlsmith's own (package.module.Class); repeatable. "
                           "Loading runs its code: trust only what you wrote.")


def bundle_arg(path: Path, trust: list[str]):
    """The bundle as the commands take it: its folder, or loaded here when types are trusted beyond mlsmith's own."""
    if not trust:
        return path
    from ..deploy import ModelBundle

    return ModelBundle.load(path, trusted=trust)


@app.command()
def predict(
    bundle: Path = typer.Argument(..., help="A model bundle: the 'model' folder of a run."),
    data: Path = typer.Argument(..., help="Rows to score (.csv or .parquet)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the scores (.csv or .parquet)."),
    chunk_rows: int = typer.Option(50_000, "--chunk-rows", min=1, help="Rows scored at a time (memory follows it)."),
    explain: bool = typer.Option(False, "--explain", help="Add each column's contribution to each row's score."),
    trust: list[str] = _TRUST,
    json_out: Path = json_option("the summary (rows scored, refused and changed by each rule, the output path)"),
) -> None:
    """Score DATA with BUNDLE in chunks and write predictions (and probabilities) to OUTPUT.

    Rows are checked by the input rules 'serve' applies: a refused row keeps its place with no
    prediction and a 'reason'; one summary line counts the rows each rule refused or changed.
    """
    from ..deploy import predict_file
    from ._logging import spinner_wanted

    json_mode(json_out)
    columns = [TextColumn("scoring"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=True, disable=not spinner_wanted()) as bar:
        task = bar.add_task("scoring", total=None)
        result = predict_file(bundle_arg(bundle, trust), data, output, chunk_rows=chunk_rows, explain=explain,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))

    def render(summary, console) -> None:
        console.print(result.summary(), markup=False, highlight=False, soft_wrap=True)
        console.print(f"wrote {summary['path']}", markup=False, highlight=False, soft_wrap=True)

    show(result, json_out, render)


@app.command()
def serve(
    bundle: Path = typer.Argument(..., help="A model bundle: the 'model' folder of a run."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    runtime: str = typer.Option("sklearn", "--runtime", help="sklearn (the pipeline) or onnx (onnxruntime)."),
    challenger: Path | None = typer.Option(None, "--challenger", help="A second bundle to compare with the champion."),
    mode: str = typer.Option("shadow", "--mode", help="shadow (scored and logged, never returned) or canary."),
    canary_share: float = typer.Option(0.1, "--canary-share", help="Share of requests the canary answers."),
    log: Path | None = typer.Option(None, "--log", help="SQLite file to log every prediction to."),
    workers: int | None = typer.Option(None, "--workers", min=1,
                                help="Server processes sharing the port (default: one per CPU on Linux, else 1)."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="MLSMITH_API_KEY", show_default=False,
                                help="Require 'Authorization: Bearer KEY' on /predict and /metadata "
                                     "(prefer the environment variable: a command line shows in ps)."),
    docs: bool | None = typer.Option(None, "--docs/--no-docs", show_default=False,
                              help="Serve /docs, /redoc and /openapi.json (default: only without --api-key)."),
    max_inflight_mb: int = typer.Option(64, "--max-inflight-mb", min=1,
                                        help="Request body MB a server process holds at once; more waits (503)."),
    allow_host: list[str] | None = typer.Option(None, "--allow-host", show_default=False,
                                         help="On loopback, also answer requests for this host name (repeatable; "
                                              "e.g. the name a local reverse proxy forwards)."),
    trust: list[str] = _TRUST,
) -> None:
    """Serve BUNDLE over HTTP: POST /predict, GET /health, /metadata, /metrics."""
    from ..deploy import serve as serve_bundle
    from ..deploy._guard import exposure_warning
    from ..deploy._supervise import default_workers

    workers = workers or default_workers()
    docs_on = api_key is None if docs is None else docs
    console.print(f"serving {bundle} on http://{host}:{port} with {workers} worker process{'es' * (workers > 1)}"
                  f"{', API key required' if api_key is not None else ''}{' (docs at /docs)' if docs_on else ''}",
                  markup=False, highlight=False)
    warning = exposure_warning(host, api_key)
    if warning:
        err.print(f"Warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if challenger is not None:
        challenger = bundle_arg(challenger, trust)
    serve_bundle(bundle_arg(bundle, trust), host=host, port=port, workers=workers, runtime=runtime,
                 challenger=challenger, mode=mode, canary_share=canary_share, log=log, api_key=api_key, docs=docs,
                 max_inflight_bytes=max_inflight_mb * 1024 * 1024, allowed_hosts=tuple(allow_host or ()))


@app.command("compare-log")
def compare_log(
    log: Path = typer.Argument(..., help="The prediction log written by 'mlsmith serve --log'."),
    json_out: Path = json_option("the comparison"),
) -> None:
    """Compare champion and challenger from a prediction log: agreement, scores, latency."""
    from ..deploy import compare_log as compare
    from ..report import print_log_comparison

    show(compare(log), json_out, print_log_comparison)
