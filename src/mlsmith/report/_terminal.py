from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _f(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def print_run(result, console: Console | None = None) -> None:
    """Print the leaderboard, the tuning result and the verdict of a run."""
    console = console or Console()
    lb = result.leaderboard
    table = Table(title=f"Leaderboard — {lb.metric} ({'higher' if lb.greater_is_better else 'lower'} is better), {lb.cv}")
    console.print(f"Ranked by {lb.selection}", markup=False)
    for col in ("model", "rank score", f"cv {lb.metric}", "± std", "train", "fit s", "score s", "status"):
        table.add_column(col, justify="left" if col in ("model", "status") else "right")
    for row in lb.rows:
        table.add_row(row.label, _f(row.selection_score), _f(row.cv_mean), _f(row.cv_std), _f(row.train_mean), _f(row.fit_time_s, 2),
                      _f(row.predict_time_s, 2), row.status if not row.note else f"{row.status}: {row.note[:40]}")
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
