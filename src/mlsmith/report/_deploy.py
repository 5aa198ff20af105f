from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ._terminal import _f


def print_log_comparison(data: dict[str, Any], console: Console | None = None) -> None:
    """Print a champion/challenger comparison (``LogComparison.to_dict()``) as a table."""
    console = console or Console()
    table = Table(title=f"Prediction log {data['path']}")
    roles = list(data["roles"])
    table.add_column("")
    for role in roles:
        table.add_column(role, justify="right")
    rows = {
        "rows": lambda r: _f(r["n"]),
        "versions": lambda r: ", ".join(r["versions"]),
        "mean probability": lambda r: _f(r["probability"]["mean"]),
        "probability p10 / p50 / p90": lambda r: " / ".join(_f(r["probability"][k], 3) for k in ("p10", "p50", "p90")),
        "latency ms p50 / p95 / p99": lambda r: " / ".join(_f(r["latency_ms"][k], 2) for k in ("p50", "p95", "p99")),
        "prediction shares": lambda r: ", ".join(f"{k}: {v:.1%}" for k, v in r["prediction_shares"].items()),
    }
    for label, get in rows.items():
        table.add_row(label, *(get(data["roles"][role]) for role in roles))
    console.print(table)
    if data["agreement"] is not None:
        console.print(f"Agreement on {data['n_paired']} shadowed records: {data['agreement']:.1%}; mean |Δ probability| "
                      f"{_f(data['mean_abs_probability_diff'])}", markup=False)
    for note in data["notes"]:
        console.print(f"note: {note}", markup=False)
