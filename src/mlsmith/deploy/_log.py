"""The prediction log (SQLite, WAL mode): written by the server, read back here for the champion/challenger
comparison and, through :func:`log_chunks`, by the monitoring stage. This module is the one that knows
the table::

    predictions(request_id TEXT, ts REAL /* unix seconds */, model_version TEXT,
                role TEXT /* champion | challenger */, inputs TEXT /* JSON object of one record */,
                prediction TEXT /* JSON */, probability REAL /* NULL if none */, latency_ms REAL)

A request with one record logs ``request_id``; a request with a list logs ``<request_id>/<i>`` per
record, so a champion row and its shadow challenger row share their id.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from pydantic_core import to_json

from ..exceptions import DataError

__all__ = ["LogComparison", "PredictionLog", "compare_log", "log_chunks"]

logger = logging.getLogger("mlsmith.serve")
#: Seconds a writer waits for another process's transaction (``serve --workers``: one writer each).
BUSY_TIMEOUT_S = 30.0

TABLE_SQL = """CREATE TABLE IF NOT EXISTS predictions (
    request_id TEXT, ts REAL, model_version TEXT, role TEXT, inputs TEXT,
    prediction TEXT, probability REAL, latency_ms REAL)"""
_INSERT = "INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
Row = tuple[str, float, str, str, str, str, "float | None", float]


class PredictionLog:
    """Appends prediction rows from a background thread, so logging never holds up a response.

    Examples
    --------
    >>> import tempfile, os
    >>> log = PredictionLog(os.path.join(tempfile.mkdtemp(), "p.db"))
    >>> log.write([("r1", 1.0, "v1", "champion", '{"x": 1}', "1", 0.9, 2.5)])
    >>> log.flush(); log.count()
    1
    >>> log.close()
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(TABLE_SQL)
        conn.close()
        self._queue: queue.Queue[list[Row] | Callable[[], list[Row]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="mlsmith-prediction-log", daemon=True)
        self._thread.start()

    def write(self, rows: list[Row] | Callable[[], list[Row]]) -> None:
        """Queue rows for the log; a callable is called on the log's thread to make them."""
        self._queue.put(rows)

    def _drain(self) -> None:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA synchronous=NORMAL")
        try:
            while True:
                batch = self._queue.get()
                rows = [] if batch is None else _rows(batch)
                done = 1
                while batch is not None:  # gather whatever else is waiting into one transaction
                    try:
                        batch = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    done += 1
                    if batch is not None:
                        rows.extend(_rows(batch))
                if rows:
                    with conn:
                        conn.executemany(_INSERT, rows)
                for _ in range(done):
                    self._queue.task_done()
                if batch is None:
                    return
        finally:
            conn.close()

    def flush(self) -> None:
        """Wait until every row written so far is committed."""
        self._queue.join()

    def count(self) -> int:
        with sqlite3.connect(self.path) as conn:
            n = conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        conn.close()
        return int(n)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def _rows(batch: list[Row] | Callable[[], list[Row]]) -> list[Row]:
    try:
        return batch() if callable(batch) else list(batch)
    except Exception:  # a row that cannot be encoded must not stop the log's thread
        logger.exception("prediction log: could not encode a request's rows; they are not logged")
        return []


def log_rows(request_id: str, ts: float, version: str, role: str, records: Iterable[dict[str, Any]],
             results: list[dict[str, Any]], latency_ms: float, many: bool) -> list[Row]:
    """The log rows of one scored request (JSON by pydantic-core's serializer: dates in ISO 8601)."""
    rows = []
    for i, (record, result) in enumerate(zip(records, results)):
        rid = f"{request_id}/{i}" if many else request_id
        rows.append((rid, ts, version, role, to_json(record).decode(), to_json(result["prediction"]).decode(),
                     result["probability"], latency_ms))
    return rows


@dataclass
class LogComparison:
    """Champion versus challenger, from the prediction log."""

    path: str
    roles: dict[str, dict[str, Any]]
    n_paired: int
    agreement: float | None
    mean_abs_probability_diff: float | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _summary(rows: pd.DataFrame) -> dict[str, Any]:
    p = rows["probability"].dropna().to_numpy(dtype=float)
    lat = rows["latency_ms"].to_numpy(dtype=float)

    def q(a: np.ndarray, k: float) -> float | None:
        return float(np.percentile(a, k)) if len(a) else None

    return {
        "n": int(len(rows)),
        "versions": sorted(rows["model_version"].unique().tolist()),
        "prediction_shares": {str(k): float(v) for k, v in rows["prediction"].value_counts(normalize=True).sort_index().items()},
        "probability": {"mean": float(p.mean()) if len(p) else None, "p10": q(p, 10), "p50": q(p, 50), "p90": q(p, 90)},
        "latency_ms": {"p50": q(lat, 50), "p95": q(lat, 95), "p99": q(lat, 99)},
    }


def compare_log(path: str | Path) -> LogComparison:
    """Compare the champion's and the challenger's predictions recorded in a prediction log.

    Agreement is the share of shadowed records (same request id, both roles) on which the two
    predicted the same value; score distributions and latencies cover every logged row.

    Parameters
    ----------
    path : str or pathlib.Path
        The SQLite prediction log (the file given to ``mlsmith serve --log``).

    Returns
    -------
    LogComparison
        Per role, the rows, versions, score and latency distributions; the agreement on shadowed
        records.

    Examples
    --------
    >>> compare_log("no/such.db")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: prediction log 'no/such.db' does not exist; pass the file given to 'mlsmith serve --log'.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"prediction log '{path}' does not exist; pass the file given to 'mlsmith serve --log'.")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        try:
            rows = pd.read_sql_query("SELECT request_id, model_version, role, prediction, probability, latency_ms "
                                     "FROM predictions", conn)
        except Exception:
            raise DataError(f"'{path}' is not a prediction log (no 'predictions' table); pass the file given to "
                            "'mlsmith serve --log'.") from None
    conn.close()
    roles = {role: _summary(group) for role, group in rows.groupby("role", sort=True)}
    notes = []
    champion, challenger = rows[rows["role"] == "champion"], rows[rows["role"] == "challenger"]
    pairs = champion.merge(challenger, on="request_id", suffixes=("_a", "_b"))
    agreement = diff = None
    if len(pairs):
        agreement = float((pairs["prediction_a"] == pairs["prediction_b"]).mean())
        both = pairs[["probability_a", "probability_b"]].dropna()
        diff = float((both["probability_a"] - both["probability_b"]).abs().mean()) if len(both) else None
    elif len(challenger):
        notes.append("no request was scored by both models (canary mode): agreement needs shadow mode")
    if not len(challenger):
        notes.append("the log has no challenger rows: serve with --challenger to compare")
    return LogComparison(str(path), roles, int(len(pairs)), agreement, diff, notes)


def log_chunks(db: str | Path, since: float | None, until: float | None, role: str = "champion",
               chunk_rows: int = 50_000) -> tuple[int, Iterator[pd.DataFrame]]:
    """Rows of the serving log in ``[since, until)`` for one role: their count and their inputs, in chunks."""
    db = Path(db)
    if not db.is_file():
        raise DataError(f"prediction log '{db}' does not exist; pass the SQLite file the server writes with --log.")
    where = "role = ?"
    params: list[Any] = [role]
    if since is not None:
        where += " AND ts >= ?"
        params.append(since)
    if until is not None:
        where += " AND ts < ?"
        params.append(until)
    # read by one thread at a time, but not the one that opened it (chunks are read ahead)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    try:
        n = conn.execute(f"SELECT COUNT(*) FROM predictions WHERE {where}", params).fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise DataError(f"'{db}' is not a prediction log with a 'predictions' table: {exc}.") from None

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            cursor = conn.execute(f"SELECT inputs FROM predictions WHERE {where} ORDER BY ts", params)
            while rows := cursor.fetchmany(chunk_rows):
                yield pd.DataFrame.from_records([json.loads(r[0]) for r in rows])
        finally:
            conn.close()

    return int(n), chunks()
