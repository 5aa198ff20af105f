"""Run history: an SQLite index (``<runs_dir>/index.db``) beside the run folders.

Every run registers itself from its ``results.json``; a folder the index does not know yet (a run
from before the index, or copied in) is registered the next time the index is read, so the index
can always be rebuilt from the folders.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import MlsmithError

__all__ = ["RunComparison", "compare_runs", "list_runs", "register_run", "show_run"]

INDEX_FILE = "index.db"
_COLUMNS = ["id", "name", "created", "task", "model", "metric", "value", "threshold", "met", "status",
            "data_fingerprint", "n_train", "n_test", "seed", "path"]
_SCHEMA = f"""CREATE TABLE IF NOT EXISTS runs (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "id" else "") for c in _COLUMNS)},
    params TEXT, metrics TEXT)"""


def _connect(runs_dir: Path) -> sqlite3.Connection:
    runs_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(runs_dir / INDEX_FILE, timeout=30)
    conn.execute(_SCHEMA)
    if "status" not in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}:  # an index from before it
        conn.execute("ALTER TABLE runs ADD COLUMN status TEXT")
    return conn


def _row_from_results(run_dir: Path, results: dict[str, Any]) -> dict[str, Any]:
    problem, evaluation = results.get("problem", {}), results.get("evaluation", {})
    verdict, split = evaluation.get("verdict", {}), results.get("split", {})
    bundle, tuning = results.get("bundle", {}), results.get("tuning", {})
    created = run_dir.name[:15]
    tuned = (tuning.get("best_params") or {}) if tuning.get("kept") == "tuned" else {}
    return {
        "id": run_dir.name, "name": problem.get("name"), "created": created, "task": problem.get("type"),
        "model": bundle.get("model"), "metric": verdict.get("metric"), "value": verdict.get("value"),
        "threshold": verdict.get("threshold"), "met": verdict.get("met"), "status": verdict.get("status"),
        "data_fingerprint": bundle.get("data_fingerprint"), "n_train": split.get("n_train"),
        "n_test": split.get("n_test"), "seed": problem.get("seed"), "path": str(run_dir.resolve()),
        "params": json.dumps({"model": bundle.get("model"), "tuned": tuning.get("kept"),
                              "decision_threshold": bundle.get("decision_threshold"), **tuned}, default=str),
        "metrics": json.dumps(evaluation.get("test_metrics", {})),
    }


def register_run(run_dir: str | Path) -> str:
    """Add (or refresh) a finished run folder in the index of its parent folder; return its id."""
    run_dir = Path(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    row = _row_from_results(run_dir, results)
    with closing(_connect(run_dir.parent)) as conn, conn:
        names = list(row)
        conn.execute(f"INSERT OR REPLACE INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [row[k] for k in names])
    return row["id"]


def _sync(runs_dir: Path) -> None:
    """Register run folders the index does not hold yet (skipping temporary and unreadable ones)."""
    with closing(_connect(runs_dir)) as conn:
        known = {r[0] for r in conn.execute("SELECT id FROM runs")}
    for folder in sorted(runs_dir.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and folder.name not in known \
                and (folder / "results.json").is_file():
            try:
                register_run(folder)
            except (ValueError, OSError):
                continue


def _check(runs_dir: str | Path) -> Path:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise MlsmithError(f"runs folder '{runs_dir}' does not exist; pass the folder given to 'mlsmith run "
                           "--runs-dir' (default: runs).")
    return runs_dir


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """An index row as the run gave it: SQLite keeps a boolean as 0/1."""
    if row["met"] is not None:
        row["met"] = bool(row["met"])
    return row


def list_runs(runs_dir: str | Path = "runs") -> list[dict[str, Any]]:
    """Every indexed run, newest first (without parameters and metrics)."""
    runs_dir = _check(runs_dir)
    _sync(runs_dir)
    with closing(_connect(runs_dir)) as conn:
        cursor = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs ORDER BY id DESC")
        return [_typed(dict(zip(_COLUMNS, r))) for r in cursor]


def show_run(runs_dir: str | Path, run_id: str) -> dict[str, Any]:
    """One run: its index row with parameters and test metrics; ``run_id`` may be a unique prefix."""
    runs_dir = _check(runs_dir)
    _sync(runs_dir)
    with closing(_connect(runs_dir)) as conn:
        cursor = conn.execute(f"SELECT {', '.join(_COLUMNS)}, params, metrics FROM runs WHERE id LIKE ? ORDER BY id",
                              [run_id.replace("%", "") + "%"])
        rows = [_typed(dict(zip([*_COLUMNS, "params", "metrics"], r))) for r in cursor]
    exact = [r for r in rows if r["id"] == run_id]
    if exact:
        rows = exact
    if len(rows) != 1:
        known = ", ".join(r["id"] for r in list_runs(runs_dir)[:5]) or "none"
        what = "matches no run" if not rows else f"matches {len(rows)} runs"
        raise MlsmithError(f"run id '{run_id}' {what} in '{runs_dir}'; give a full id from 'mlsmith runs list' "
                           f"(latest: {known}).")
    row = rows[0]
    row["params"], row["metrics"] = json.loads(row["params"]), json.loads(row["metrics"])
    decision = Path(row["path"]) / "retrain.json"
    row["retrain"] = json.loads(decision.read_text()) if decision.is_file() else None
    return row


@dataclass
class RunComparison:
    """Runs side by side: verdicts, test metrics, parameters and data fingerprints; the first is the reference."""

    runs: list[dict[str, Any]]
    #: one row per test metric: each run's value and its difference from the first run's
    metrics: list[dict[str, Any]]
    #: one row per parameter: each run's value, and whether all runs agree
    params: list[dict[str, Any]]
    same_data: bool
    #: one row per key of problem.yaml (dotted: ``split.cv_folds``) whose value is not the same in every run
    spec: list[dict[str, Any]] = field(default_factory=list)
    #: each run's leaderboard (``{metric, rows: [{model, label, cv_mean, cv_std, fit_time_s, status}]}``),
    #: None for a run whose folder no longer holds its results.json
    leaderboards: list[dict[str, Any] | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def compare_runs(runs_dir: str | Path, *run_ids: str) -> RunComparison:
    """Compare two or more runs: every test metric (with its difference from the first run), every
    parameter, the verdicts, the data, each run's leaderboard and the keys of problem.yaml that differ.

    Raises
    ------
    MlsmithError
        For fewer than two ids, or an id (a unique prefix is enough) that matches no run or several.
    """
    if len(run_ids) < 2:
        raise MlsmithError(f"comparing needs two runs or more; got {len(run_ids)} ({', '.join(run_ids) or 'none'}): "
                           "give the ids from 'mlsmith runs list'.")
    shown = [show_run(runs_dir, run_id) for run_id in run_ids]
    first = shown[0]
    metrics = []
    for name in sorted(set().union(*(r["metrics"] for r in shown))):
        values = [r["metrics"].get(name) for r in shown]
        ref = values[0]
        metrics.append({"metric": name, "values": values,
                        "minus_first": [v - ref if isinstance(v, (int, float)) and isinstance(ref, (int, float))
                                        else None for v in values]})
    params = []
    for key in sorted(set().union(*(r["params"] for r in shown))):
        values = [r["params"].get(key) for r in shown]
        params.append({"param": key, "values": values, "same": all(v == values[0] for v in values)})
    fields = ["id", "name", "task", "model", "metric", "value", "threshold", "status", "met", "data_fingerprint",
              "n_train", "n_test", "seed", "path"]
    results = [_results(Path(runs_dir) / r["id"]) for r in shown]  # beside the index, even if the folder moved
    specs = [_flat(r.get("problem") or {}) if r is not None else None for r in results]
    spec = []
    for key in sorted(set().union(*(s for s in specs if s is not None))):
        values = [None if s is None else s.get(key) for s in specs]
        known = [v for v, s in zip(values, specs) if s is not None]  # a run without its folder differs in nothing
        if any(v != known[0] for v in known):
            spec.append({"key": key, "values": values})
    return RunComparison([{k: r.get(k) for k in fields} for r in shown], metrics, params,
                         len({r["data_fingerprint"] for r in shown}) == 1 and first["data_fingerprint"] is not None,
                         spec, [_leaderboard(r) for r in results])


def _results(run_dir: Path) -> dict[str, Any] | None:
    """A run folder's results.json; None when it is gone or unreadable (the index row still compares)."""
    try:
        return json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None


def _flat(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """problem.yaml as dotted keys: ``{"split": {"cv_folds": 5}}`` -> ``{"split.cv_folds": 5}``."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _leaderboard(results: dict[str, Any] | None) -> dict[str, Any] | None:
    if results is None or "leaderboard" not in results:
        return None
    keep = ("model", "label", "cv_mean", "cv_std", "fit_time_s", "status")
    return {"metric": (results.get("leaderboard_meta") or {}).get("metric"),
            "rows": [{k: row.get(k) for k in keep} for row in results["leaderboard"]]}
