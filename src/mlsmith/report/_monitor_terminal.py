"""Terminal rendering of monitoring, retraining and run history (rich tables from result data)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from ._terminal import _f

_STYLE = {"ok": "bold green", "watch": "bold yellow", "retrain": "bold red"}


def print_monitor(data: dict[str, Any], console: Console) -> None:
    """Drift table, prediction drift, performance and the verdict."""
    table = Table(title=f"Data drift — {data['n_rows']} current rows (flag: Holm p < {data['alpha']} and PSI >= 0.1; "
                        "a category: Jensen-Shannon distance net of noise >= 0.07)")
    for col in ("feature", "test", "statistic", "p (Holm)", "PSI", "JS net", "band", "missing now", "flag"):
        table.add_column(col, justify="left" if col in ("feature", "test", "band", "flag") else "right")
    for r in data["features"]:
        table.add_row(r["name"], r["test"] or "—", _f(r["statistic"]), _f(r["p_adjusted"]), _f(r["psi"]),
                      _f(r.get("js_net")), r.get("band", r["psi_band"]) or "—", f"{r['missing']['current']:.1%}",
                      "DRIFT" if r["drifted"] else "")
    console.print(table)
    q = data["prediction"]
    console.print(f"Prediction drift ({q['what']}): PSI {_f(q['psi'])}, p {_f(q['p_value'])}"
                  f"{' — DRIFTED' if q['drifted'] else ''}", markup=False)
    p = data.get("performance")
    if p:
        lo, hi = p["change_ci"]
        console.print(f"Performance: {p['metric']} {p['current']:.4f} now vs {p['reference']:.4f} at training "
                      f"(change {p['change']:+.4f}, {p['level']:.0%} interval [{lo:+.4f}, {hi:+.4f}])", markup=False)
    v = data["verdict"]
    console.print(f"[{_STYLE[v['status']]}]{v['summary']}[/]")
    for reason in v["reasons"]:
        console.print(f"  - {reason}", markup=False, highlight=False)


def print_retrain(data: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Champion vs challenger on the same hold-out ({data['n_holdout']} rows: {data['holdout']})")
    for col in ("model", data["metric"], "bundle"):
        table.add_column(col, justify="right" if col == data["metric"] else "left")
    table.add_row("champion", _f(data["champion_value"]), data["champion"])
    table.add_row("challenger", _f(data["challenger_value"]), data["challenger"])
    console.print(table)
    style = "bold green" if data["promoted"] else "bold"
    console.print(f"[{style}]{data['decision']}[/]", highlight=False)
    for note in data["notes"]:
        console.print(f"note: {note}", markup=False, highlight=False)


def print_runs(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title=f"{len(rows)} run(s)")
    for col in ("id", "task", "model", "metric", "value", "met", "data"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in rows:
        met = "—" if r["met"] is None else ("yes" if r["met"] else "no")
        met = "INVALID" if r.get("status") == "invalid" else met
        table.add_row(r["id"], (r["task"] or "").replace("_classification", ""), r["model"] or "—", r["metric"] or "—",
                      _f(r["value"]), met, (r["data_fingerprint"] or "")[:12])
    console.print(table)


def print_run_detail(row: dict[str, Any], console: Console) -> None:
    for key in ("id", "name", "task", "model", "metric", "value", "threshold", "met", "status", "data_fingerprint",
                "n_train", "n_test", "seed", "path"):
        console.print(f"{key:>16}: {_f(row[key])}", markup=False, highlight=False)
    table = Table(title="test metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in row["metrics"].items():
        table.add_row(name, _f(value))
    console.print(table)
    console.print("parameters: " + ", ".join(f"{k}={_f(v)}" for k, v in row["params"].items()), markup=False)
    if row.get("retrain"):
        console.print(f"retrain decision: {row['retrain']['decision']}", markup=False, highlight=False)


def print_comparison(data: dict[str, Any], console: Console) -> None:
    a, b = data["a"], data["b"]
    table = Table(title=f"A = {a['id']}   B = {b['id']}")
    for col in ("", "A", "B", "B - A"):
        table.add_column(col, justify="left" if not col else "right")
    for m in data["metrics"]:
        table.add_row(m["metric"], _f(m["a"]), _f(m["b"]), _f(m["b_minus_a"]))
    console.print(table)
    params = Table(title="parameters")
    for col in ("parameter", "A", "B", ""):
        params.add_column(col)
    for p in data["params"]:
        params.add_row(p["param"], _f(p["a"]), _f(p["b"]), "" if p["same"] else "differs")
    console.print(params)
    same = "the same data" if data["same_data"] else "different data"
    console.print(f"data fingerprints: A {(a['data_fingerprint'] or '')[:16]}, B {(b['data_fingerprint'] or '')[:16]}"
                  f" — {same}", markup=False, highlight=False)
