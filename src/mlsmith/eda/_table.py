"""A table DuckDB can read: a DataFrame (registered, no copy) or a CSV/Parquet file read out of core.

Both stages 2 and 3 compute their statistics with SQL aggregates over this table, so a file larger
than memory streams through DuckDB; only a row sample (whose size the reports state) reaches pandas.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ..exceptions import DataError

__all__ = ["Table", "finite", "lit", "open_table", "q", "sql_labels"]

#: Rows drawn for figures and for the statistics that need rows in memory (Spearman, modes, AUC).
SAMPLE_ROWS = 50_000
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")


def q(name: str) -> str:
    """Quote a column name as an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(value: Any) -> str:
    """A value as an SQL literal: text quoted (quotes doubled), numbers spelled exactly, None as NULL.

    Every value that reaches an SQL string goes through here (column names through :func:`q`), so a
    label such as ``O'Yes`` is data, never syntax. DuckDB's string literals have no backslash escapes.

    Examples
    --------
    >>> lit("O'Yes"), lit(2.5), lit(None), lit(True)
    ("'O''Yes'", '2.5', 'NULL', 'TRUE')
    """
    if value is None:
        return "NULL"
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            return f"CAST('{value}' AS DOUBLE)"
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t in _NUMERIC or t.startswith("DECIMAL"):
        return "numeric"
    if t == "BOOLEAN":
        return "boolean"
    if t.startswith(("DATE", "TIMESTAMP")):
        return "datetime"
    if t == "VARCHAR" or t.startswith("ENUM"):
        return "string"
    return "other"


@dataclass
class Table:
    """A DuckDB view ``t`` over the data, its column kinds and row count."""

    con: duckdb.DuckDBPyConnection
    n_rows: int
    types: dict[str, str]
    source: str
    frame: pd.DataFrame | None = None
    file_mb: float | None = None
    memory_limit_bytes: int = 2**30
    _tmpdir: str | None = None
    _sample: dict[int, pd.DataFrame] = field(default_factory=dict)
    #: Results shared by the stages that read this table (the per-column statistics).
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> dict[str, str]:
        return {c: _kind(t) for c, t in self.types.items()}

    def columns(self, kind: str | None = None, exclude: tuple[str, ...] = ()) -> list[str]:
        return [c for c, k in self.kinds.items() if (kind is None or k == kind) and c not in exclude]

    def is_float(self, column: str) -> bool:
        return self.types[column].upper() in ("FLOAT", "DOUBLE", "REAL")

    def one(self, sql: str, params: list | None = None) -> tuple:
        return self.con.execute(sql, params or []).fetchall()[0]

    def all(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    def sample(self, n: int = SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
        """A reproducible random sample of at most ``n`` rows (all rows when the table is smaller)."""
        if n not in self._sample:
            if self.frame is not None:
                frame = self.frame if len(self.frame) <= n else self.frame.sample(n, random_state=seed)
                self._sample[n] = frame.reset_index(drop=True)
            elif self.n_rows <= n:
                self._sample[n] = self.con.execute("SELECT * FROM t").df()
            else:
                # Bernoulli sampling is one streaming pass (a reservoir is slower); it returns about n rows.
                pct = 100.0 * n / self.n_rows
                self._sample[n] = self.con.execute(
                    f"SELECT * FROM t USING SAMPLE {pct:.6f}% (bernoulli, {int(seed)})").df()
        return self._sample[n]

    def close(self) -> None:
        self.con.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _connect(memory_limit: str) -> tuple[duckdb.DuckDBPyConnection, str]:
    tmpdir = tempfile.mkdtemp(prefix="mlsmith-profile-")
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": tmpdir,
                                 "threads": max(1, min(4, os.cpu_count() or 1))})
    return con, tmpdir


def open_table(data: pd.DataFrame | str | Path, memory_limit: str = "1GB") -> Table:
    """Open a DataFrame, or a CSV / Parquet file, as a DuckDB view named ``t``.

    A CSV file is converted once to a temporary Parquet file (streamed, within ``memory_limit``), so
    later queries scan columns instead of re-parsing text; DuckDB spills to disk beyond the limit.
    """
    _bytes(memory_limit)
    con, tmpdir = _connect(memory_limit)
    frame, file_mb = None, None
    try:
        if isinstance(data, pd.DataFrame):
            frame = data
            if not all(isinstance(c, str) for c in frame.columns):
                frame = frame.rename(columns=str)
            con.register("source_frame", frame)
            source, relation = "DataFrame", "source_frame"
        else:
            path = Path(data)
            if not path.is_file():
                raise DataError(f"data file '{path}' does not exist; check the path.")
            file_mb = path.stat().st_size / 2**20
            source, suffix = str(path), "".join(path.suffixes[-2:]).lower()
            literal = lit(str(path))
            if suffix.endswith((".parquet", ".pq")):
                relation = f"read_parquet({literal})"
            elif suffix.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
                parquet = Path(tmpdir) / "data.parquet"
                _csv_to_parquet(con, literal, parquet, path)
                relation = f"read_parquet({lit(str(parquet))})"
            else:
                raise DataError(f"data file '{path}' has an unsupported type '{path.suffix}'; use .csv or .parquet.")
        described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        # ENUM (a pandas Categorical) is read as text, so every string-like column has one SQL type.
        select = ", ".join(f"CAST({q(n)} AS VARCHAR) AS {q(n)}" if t.upper().startswith("ENUM") else q(n)
                           for n, t, *_ in described)
        con.execute(f"CREATE VIEW t AS SELECT {select} FROM {relation}")
        types = {n: ("VARCHAR" if t.upper().startswith("ENUM") else t) for n, t, *_ in described}
        n_rows = int(con.execute("SELECT count(*) FROM t").fetchone()[0])
    except BaseException:
        con.close()
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    return Table(con, n_rows, types, source, frame, file_mb, _bytes(memory_limit), tmpdir)


def _bytes(size: str) -> int:
    """'1GB' -> 1073741824 (DuckDB's units: KB, MB, GB, TB, powers of 1024 as DuckDB reads them)."""
    units = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
    text = size.strip().upper().replace(" ", "")
    for unit, factor in units.items():
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return int(float(text[: -len(unit)]) * factor)
    raise DataError(f"memory limit '{size}' is not a size; write it like '1GB' or '512MB'.")


def _csv_to_parquet(con: duckdb.DuckDBPyConnection, literal: str, parquet: Path, path: Path) -> None:
    """Convert a CSV file in one streamed pass. Column types are sniffed from the first rows; when a
    later row contradicts them, the conversion is redone with types sniffed from every row."""
    for options in ("", ", sample_size=-1"):
        try:
            con.execute(f"COPY (SELECT * FROM read_csv({literal}{options})) TO {lit(str(parquet))} (FORMAT parquet)")
            return
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            error = exc
        except duckdb.Error as exc:
            raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
    raise DataError(f"could not read '{path}': {str(error).splitlines()[0]}") from None


def finite(values: pd.Series) -> np.ndarray:
    """The finite values of a numeric sample column, as floats."""
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return arr[np.isfinite(arr)]


def sql_labels(values: pd.Series) -> pd.Series:
    """Labels spelled as SQL's ``CAST(... AS VARCHAR)`` spells them (booleans as 'true' / 'false')."""
    if pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: None if pd.isna(v) else str(bool(v)).lower())
    return values.map(lambda v: None if pd.isna(v) else str(v))
