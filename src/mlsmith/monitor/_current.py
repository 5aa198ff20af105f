"""The current data, read in chunks, and the per-column counts accumulated from it.

Nothing here holds more than one chunk of rows: a file larger than memory can be monitored.
Sources are CSV and Parquet files (one, or a folder or glob of them), tables held in memory (pandas,
Polars, pyarrow), and the serving prediction log (SQLite table ``predictions``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .._columns import parse_dates
from .._reading import as_pandas, parquet_batches, parquet_files, sniff_csv
from ..exceptions import DataError
from ._reference import category_strings, numeric_values

__all__ = ["CategoricalCounts", "DateCounts", "NumericCounts", "PresenceCounts", "count_chunks", "counts_for",
           "file_chunks", "parse_time"]

CHUNK_ROWS = 250_000


def file_chunks(path: Any, wanted: list[str], chunk_rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """The data's column names, and an iterator over chunks holding the ``wanted`` columns it has.

    ``path`` is a CSV or Parquet file, a folder or glob of Parquet files (streamed as one table), or a
    table held in memory (pandas, Polars, pyarrow; typed by :func:`mlsmith._reading.as_pandas`).
    """
    if not isinstance(path, (str, os.PathLike)):
        frame = as_pandas(path)
        keep = [c for c in frame.columns if c in wanted]
        return list(frame.columns), (frame.iloc[i:i + chunk_rows][keep] for i in range(0, len(frame), chunk_rows))
    files = parquet_files(os.fspath(path))
    if files is not None:
        columns, _, chunks = parquet_batches(files, wanted, chunk_rows)
        return columns, chunks
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file '{path}' does not exist; pass the CSV or Parquet file to monitor.")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        try:
            handle = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several error types for a bad file
            raise DataError(f"could not read '{path}' as Parquet: {str(exc).splitlines()[0]}") from None
        columns = list(handle.schema_arrow.names)
        keep = [c for c in columns if c in wanted]
        chunks = (batch.to_pandas() for batch in handle.iter_batches(batch_size=chunk_rows, columns=keep))
        return columns, chunks
    if suffix.endswith((".csv", ".csv.gz", ".tsv")):
        options = sniff_csv(path).pandas_options()  # read as training read it (mlsmith._reading)
        try:
            columns = list(pd.read_csv(path, nrows=0, **options).columns)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
        keep = [c for c in columns if c in wanted]
        return columns, _csv_chunks(path, keep, options, chunk_rows)
    raise DataError(f"data file '{path}' has an unsupported type '{path.suffix}'; use .csv or .parquet.")


def _csv_chunks(path: Path, keep: list[str], options: dict, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        with pd.read_csv(path, usecols=keep, chunksize=chunk_rows, **options) as reader:
            yield from reader
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | float | None, name: str, now: float | None = None) -> float | None:
    """Unix seconds from unix seconds, a date/time or an age ('7d').

    A date/time is read as training reads dates (:func:`mlsmith._columns.parse_dates`): one with
    a time zone is converted to UTC, one without is UTC.

    Examples
    --------
    >>> parse_time("2026-01-01", "--since")
    1767225600.0
    >>> parse_time("2h", "--since", now=10_000.0)
    2800.0
    >>> parse_time("2026-01-01T02:00:00+02:00", "--since")
    1767225600.0
    """
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    match = _RELATIVE.match(text)
    if match:
        return (time.time() if now is None else now) - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    stamp = parse_dates(pd.Series([text], dtype=object)).iloc[0]
    if stamp is pd.NaT:
        raise DataError(
            f"{name} '{text}' is not a time; use an ISO date such as 2026-01-31 or 2026-01-31T12:00, "
            "unix seconds, or an age such as 24h or 7d."
        )
    return float(stamp.timestamp())  # a naive Timestamp's seconds are UTC's


class NumericCounts:
    """Counts of the current values ``<=`` and ``<`` each reference grid point, plus missing, range, invalid."""

    def __init__(self, points: list[float]):
        self.points = np.asarray(points, dtype=float)
        self.le = np.zeros(len(self.points), dtype=np.int64)
        self.lt = np.zeros(len(self.points), dtype=np.int64)
        self.n = self.n_missing = self.n_invalid = 0
        self.min, self.max = np.inf, -np.inf

    def add_values(self, values: np.ndarray) -> None:
        present = values[~np.isnan(values)]
        self.n_missing += len(values) - len(present)
        if not len(present):
            return
        present = np.sort(present)
        self.n += len(present)
        self.le += np.searchsorted(present, self.points, side="right")
        self.lt += np.searchsorted(present, self.points, side="left")
        self.min, self.max = min(self.min, present[0]), max(self.max, present[-1])

    def add(self, s: pd.Series) -> None:
        values, invalid = numeric_values(s)
        self.n_invalid += invalid
        self.add_values(values)


class CategoricalCounts:
    """Counts of each current category, and of missing values."""

    def __init__(self):
        self.counts = pd.Series(dtype="int64")
        self.n_missing = 0

    def add(self, s: pd.Series) -> None:
        strings = category_strings(s)
        self.n_missing += int(strings.isna().sum())
        counts = strings.value_counts()
        self.counts = counts if self.counts.empty else self.counts.add(counts, fill_value=0)

    @property
    def n(self) -> int:
        return int(self.counts.sum())


class PresenceCounts:
    """For columns whose drift is not tested (dates, free text): present and missing counts only."""

    def __init__(self):
        self.n = self.n_missing = 0

    def add(self, s: pd.Series) -> None:
        missing = int(s.isna().sum())
        self.n_missing += missing
        self.n += len(s) - missing


class DateCounts(PresenceCounts):
    """Present, missing and invalid counts of a date column, its values read as training and the
    model read them (:func:`mlsmith._columns.parse_dates`: any time zone converted to UTC); a value
    that is not a date is invalid (the model scores it as missing)."""

    def __init__(self):
        super().__init__()
        self.n_invalid = 0

    def add(self, s: pd.Series) -> None:
        dates = parse_dates(s)
        invalid = int((dates.isna() & s.notna()).sum())
        self.n_invalid += invalid
        missing = int(s.isna().sum())
        self.n_missing += missing + invalid
        self.n += len(s) - missing - invalid


def counts_for(reference: dict[str, Any]) -> NumericCounts | CategoricalCounts | PresenceCounts:
    """An empty accumulator matching a column's reference."""
    if reference["kind"] == "numeric":
        return NumericCounts(reference["points"])
    if reference["kind"] == "categorical":
        return CategoricalCounts()
    if reference.get("role") == "datetime":
        return DateCounts()
    return PresenceCounts()


def _read_ahead(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Yield the chunks while the next one is read in a background thread (decoding releases the GIL)."""
    slot: dict[str, Any] = {}

    def fetch() -> None:
        try:
            slot["chunk"] = next(chunks)
        except StopIteration:
            slot["chunk"] = None
        except BaseException as exc:  # re-raised in the consumer's thread
            slot["error"] = exc

    worker = threading.Thread(target=fetch)
    worker.start()
    while True:
        worker.join()
        if "error" in slot:
            raise slot.pop("error")
        chunk = slot.pop("chunk")
        if chunk is None:
            return
        worker = threading.Thread(target=fetch)
        worker.start()
        yield chunk


def count_chunks(chunks: Iterator[pd.DataFrame], counts: dict[str, Any]) -> Iterator[pd.DataFrame]:
    """Add every chunk to the per-column accumulators, columns in parallel; yield each chunk once counted.

    Sorting and searching release the GIL, so the columns of a chunk are counted on all cores while
    the next chunk is read.
    """
    workers = max(1, min(len(counts), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for chunk in _read_ahead(iter(chunks)):
            list(pool.map(lambda item: item[1].add(chunk[item[0]]), counts.items()))
            yield chunk
