from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _f(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def print_run(result, console: Console | None = None) -> None:
    """Print the leaderboard, the tuning result and the verdict of a run."""
    console = console or Console()
    lb = result.leaderboard
    table = Table(title=f"Leaderboard — {lb.cv}", caption=f"ranked by {lb.selection}")
    for col in ("model", "rank score", f"CV {lb.metric} ± std", f"train {lb.metric}", "fit s/fold"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in lb.rows:
        if row.status != "ok":
            table.add_row(row.model, "—", f"{row.status}: {row.note[:40]}", "—", "—")
            continue
        table.add_row(row.model, _f(row.selection_score), f"{_f(row.cv_mean)} ± {_f(row.cv_std)}",
                      _f(row.train_mean), _f(row.fit_time_s, 2))
    console.print(table)
    for name, why in lb.skipped.items():
        console.print(f"  skipped {name}: {why}")
    t = result.tuning
    console.print(f"Tuning ({t.method}, {t.n_trials} trials) of {t.model}: default {_f(t.default_score)} -> "
                  f"best {_f(t.best_score)} ({t.kept})")
    ev = result.evaluation
    metrics = Table(title=f"Test split ({ev.n_test} rows) vs baseline ({ev.baseline})")
    for col in ("metric", "train", "test", "baseline"):
        metrics.add_column(col, justify="left" if col == "metric" else "right")
    for name, value in ev.test_metrics.items():
        metrics.add_row(name, _f(ev.train_metrics.get(name)), _f(value), _f(ev.baseline_metrics.get(name)))
    console.print(metrics)
    if ev.decision_threshold is not None:
        console.print(f"Decision threshold {ev.decision_threshold:.4f}: {ev.threshold_reason}")
    v = ev.verdict
    style = "bold green" if v.met else "bold red" if v.met is False else "bold"
    console.print(f"[{style}]Verdict: {v.sentence()}[/]")
    for note in result.notes:
        console.print(f"note: {note}")
