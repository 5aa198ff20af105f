from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _f(v, digits=4):
    return "—" if v is None else f"{v:.{digits}f}" if isinstance(v, float) else str(v)


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_findings(findings, console: Console | None = None) -> None:
    """Print guard findings, most severe first: severity, check, message, then the fix."""
    console = console or Console()
    for f in findings:
        console.print(f"[{_STYLE[f.severity]}]{f.severity.upper()}[/] [bold]{f.check}[/]: ", end="")
        console.print(f.message, markup=False, highlight=False)
        console.print(f"  fix: {f.fix}", markup=False, highlight=False)


#: A run within this share over its time budget has kept it (the issue's "within 10 %").
BUDGET_TOLERANCE = 0.10


def budget_line(budget: dict | None) -> str | None:
    """How the run kept its time budget (results.json's ``budget``), in one line; None without a budget.

    Over it by more than :data:`BUDGET_TOLERANCE`, the line names the stages that spent more than they
    were allotted, and the fix.

    >>> budget_line({"seconds": 500.0, "spent_s": 410.2, "stages": {}})
    'Time budget: the run took 410 s of its 500 s.'
    >>> budget_line({"seconds": 60.0, "spent_s": 71.4, "stages": {
    ...     "quality": {"allotted_s": None, "spent_s": 4.7}, "selection": {"allotted_s": 18.0, "spent_s": 21.6},
    ...     "evaluation": {"allotted_s": 22.8, "spent_s": 26.8}, "tuning": {"allotted_s": 0.0, "spent_s": 0.0}}})
    'Time budget: the run took 71 s of its 60 s, 19 % over (over their share: selection 21.6 s of 18 s, evaluation 26.8 s of 22.8 s); the stages could not shrink to fit it: raise constraints.time_budget_s.'
    """
    if not budget or budget.get("seconds") is None or budget.get("spent_s") is None:
        return None
    seconds, spent = float(budget["seconds"]), float(budget["spent_s"])
    line = f"Time budget: the run took {spent:.0f} s of its {seconds:g} s"
    if spent <= seconds * (1 + BUDGET_TOLERANCE):
        return line + "."
    over = [f"{name} {stage['spent_s']:g} s of {stage['allotted_s']:g} s" for name, stage in budget["stages"].items()
            if stage.get("allotted_s") is not None and stage.get("spent_s", 0.0) > stage["allotted_s"]]
    share = f" (over their share: {', '.join(over)})" if over else ""
    return (f"{line}, {100 * (spent / seconds - 1):.0f} % over{share}; the stages could not shrink to fit it: "
            "raise constraints.time_budget_s.")


def print_run(result, console: Console | None = None) -> None:
    """Print the guards' findings, the leaderboard, the tuning result and the verdict of a run."""
    console = console or Console()
    print_findings(result.guards, console)
    if result.features is not None:
        from ._features import print_features

        print_features(result.features.to_dict(), console)
    lb = result.leaderboard
    if lb.recommendation is not None:
        console.print(f"Try first: {', '.join(lb.recommendation.order)}", markup=False)
    table = Table(title=f"Leaderboard — {lb.cv}", caption=f"ranked by {lb.selection}")
    n_folds = max((row.folds for row in lb.rows), default=0)
    for col in ("model", "rank score", f"CV {lb.metric} ± std", "train", "fit s/fold", "folds"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in lb.rows:
        if row.cv_mean is None:  # failed, or over budget: no score
            table.add_row(row.model, "—", f"{row.status}: {row.note[:40]}", "—", "—", "—")
            continue
        name = row.model if row.status in ("ok", "stopped early") else f"{row.model} ({row.status})"
        table.add_row(name, _f(row.selection_score), f"{_f(row.cv_mean)} ± {_f(row.cv_std)}",
                      _f(row.train_mean), _f(row.fit_time_s, 2), f"{row.folds}/{n_folds}")
    console.print(table)
    stopped = [row.model for row in lb.rows if row.status == "stopped early"]
    if stopped:
        console.print(f"  stopped early, significantly behind the leader on the first folds: {', '.join(stopped)}",
                      markup=False)
    for name, why in lb.skipped.items():
        console.print(f"  skipped {name}: {why}")
    t = result.tuning
    console.print(f"Tuning ({t.method}: {t.trials_done} trials, {t.trials_pruned} pruned) of {t.model} on {t.metric}: "
                  f"default {_f(t.default_score)} -> best {_f(t.best_score)}, gain {_f(t.gain)} ({t.kept})", markup=False)
    if t.budget_note:
        console.print(f"  {t.budget_note}", markup=False)
    if t.learning_curve is not None:
        lc = t.learning_curve
        console.print(f"Learning curves: {lc.diagnosis} -> {lc.fix}", markup=False)
    ev = result.evaluation
    metrics = Table(title=f"Scores: train, CV, test ({ev.n_test} rows) and baselines on the same rows")
    heads = ["metric", "train", "CV mean ± std", "test"] + ["baseline" if b.name == "spec" else "dummy" for b in ev.baselines]
    for col in heads:
        metrics.add_column(col, justify="left" if col == "metric" else "right")
    for name, value in ev.test_metrics.items():
        cv = _f(ev.cv_metrics.get(name))
        if ev.cv_std.get(name) is not None:
            cv += f" ± {_f(ev.cv_std[name])}"
        metrics.add_row(name, _f(ev.train_metrics.get(name)), cv, _f(value), *(_f(b.metrics.get(name)) for b in ev.baselines))
    console.print(metrics)
    for b in ev.baselines:
        console.print(f"  {'baseline' if b.name == 'spec' else 'dummy'}: {b.description}", markup=False)
    if ev.decision_threshold is not None:
        console.print(f"Decision threshold {ev.decision_threshold:.4f} (out of fold, training rows only): {ev.threshold_reason}",
                      markup=False)
    latency = ev.constraints.get("latency")
    if latency:
        judged = "" if latency["met"] is None else f" vs {latency['target_ms']} ms: {'met' if latency['met'] else 'NOT met'}"
        console.print(f"Latency, one row: p50 {latency['p50_ms']:.1f} ms, p95 {latency['p95_ms']:.1f} ms, "
                      f"p99 {latency['p99_ms']:.1f} ms{judged}", markup=False)
    for col, f in (ev.fairness or {}).items():
        if f["gap"] is not None:
            console.print(f"Fairness: {f['metric']} gap across {col} = {f['gap']:.4f} (worst group {f['worst_group']})",
                          markup=False)
    v = ev.verdict
    status = v.status or ("met" if v.met else "not met" if v.met is False else None)
    style = {"met": "bold green", "not met": "bold red", "inconclusive": "bold yellow", "invalid": "bold red"}.get(status or "", "bold")
    console.print(f"Verdict: {v.sentence()}", style=style, markup=False)
    for note in result.notes:
        console.print(f"note: {note}")
    kept = budget_line(result.budget)
    if kept:
        console.print(kept, markup=False, highlight=False)
