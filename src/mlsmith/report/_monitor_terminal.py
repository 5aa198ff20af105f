"""Terminal rendering of monitoring, retraining and run history (rich tables from result data)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
    for col in ("id", "task", "model", "metric", "value", "verdict", "data"):
        # on a narrow terminal an id wraps and the verdict stays whole; other cells may be cut
        table.add_column(col, justify="right" if col == "value" else "left", overflow="fold" if col == "id" else "ellipsis",
                         no_wrap=col == "verdict", min_width=len("INCONCLUSIVE") if col == "verdict" else None)
    for r in rows:
        table.add_row(r["id"], (r["task"] or "").replace("_classification", ""), r["model"] or "—", r["metric"] or "—",
                      _f(r["value"]), verdict_status(r), (r["data_fingerprint"] or "")[:12])
    console.print(table)


def verdict_status(row: dict[str, Any]) -> str:
    """The verdict as the report's headline gives it (MET, NOT MET, INCONCLUSIVE, INVALID).

    The point estimate's ``met`` says only which side of the threshold the score fell; an interval
    across the threshold is INCONCLUSIVE. An index row from before the status was stored falls back
    to ``met``, marked with ``?``.
    """
    if row.get("status"):
        return str(row["status"]).upper()
    if row.get("met") is None:
        return "—"
    return ("MET" if row["met"] else "NOT MET") + " ?"


def print_run_detail(row: dict[str, Any], console: Console) -> None:
    console.print(f"{'verdict':>16}: {verdict_status(row)}", markup=False, highlight=False)
    for key in ("id", "name", "task", "model", "metric", "value", "threshold", "data_fingerprint",
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
    runs = data["runs"]
    names = run_names(len(runs))
    for name, run in zip(names, runs):
        console.print(f"{name} = {run['id']}: {verdict_status(run)}, data {(run['data_fingerprint'] or '')[:16]}",
                      markup=False, highlight=False)
    table = Table(title="test metrics (difference from A)")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="right")
    for m in data["metrics"]:
        cells = [_f(m["values"][0])] + [f"{_f(v)} ({_signed(d)})" for v, d in zip(m["values"][1:], m["minus_first"][1:])]
        table.add_row(m["metric"], *cells)
    console.print(table)
    params = Table(title="parameters")
    for col in ("parameter", *names, ""):
        params.add_column(col)
    for p in data["params"]:
        params.add_row(p["param"], *(_f(v) for v in p["values"]), "" if p["same"] else "differs")
    console.print(params)
    if data.get("spec"):
        spec = Table(title="problem.yaml: the keys that differ")
        for col in ("key", *names):
            spec.add_column(col)
        for row in data["spec"]:  # Text: a spec value such as [linear, knn] is not rich markup
            spec.add_row(Text(row["key"]), *(Text(spec_value(v)) for v in row["values"]))
        console.print(spec)
    boards = data.get("leaderboards") or []
    if any(boards):
        table = Table(title="leaderboards: CV score ± std by model (* the model each run kept)")
        table.add_column("model")
        for name, board in zip(names, boards):
            table.add_column(f"{name} ({board['metric']})" if board else name, justify="right")
        for model in leaderboard_models(boards):
            table.add_row(Text(model), *(Text(leaderboard_cell(board, model, run["model"]))
                                         for board, run in zip(boards, runs)))
        console.print(table)
    console.print("the same data" if data["same_data"] else "different data", markup=False, highlight=False)


def spec_value(value: Any) -> str:
    """A problem.yaml value as YAML's flow style would write it (lists and maps as JSON)."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def leaderboard_models(boards: list[dict[str, Any] | None]) -> list[str]:
    """Every model in the compared leaderboards, in the order the runs ranked them."""
    return list(dict.fromkeys(row["model"] for board in boards if board for row in board["rows"]))


def leaderboard_cell(board: dict[str, Any] | None, model: str, kept: str | None) -> str:
    """``mean ± std`` of ``model`` in one run's leaderboard (its status when it has no score)."""
    row = next((r for r in (board or {"rows": []})["rows"] if r["model"] == model), None)
    if row is None:
        return "—"
    text = row["status"] if row["cv_mean"] is None else f"{_f(row['cv_mean'])} ± {_f(row['cv_std'])}"
    return text + (" *" if model == kept else "")


def run_names(n: int) -> list[str]:
    """A, B, C, ... for the compared runs (numbers past Z)."""
    return [chr(ord("A") + i) if i < 26 else str(i + 1) for i in range(n)]


def _signed(value: Any) -> str:
    return "—" if value is None else f"{value:+.4f}"
