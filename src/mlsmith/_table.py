"""A table DuckDB can read: a DataFrame (registered, no copy) or CSV/Parquet files read out of core.

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

from ._columns import finite_float
from ._reading import TRUE_FALSE, as_pandas, file_kind, lit, parquet_files, parquet_relation, sniff_csv
from .data import read_table
from .exceptions import DataError

__all__ = ["Table", "finite", "lit", "open_table", "q", "sql_labels"]

#: Rows drawn for figures and for the statistics that need rows in memory (Spearman, modes, AUC).
SAMPLE_ROWS = 50_000
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")


def q(name: str) -> str:
    """Quote a column name as an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


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
    _sample: dict[tuple[int, int], pd.DataFrame] = field(default_factory=dict)
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

    def sample(self, n: int = SAMPLE_ROWS, *, seed: int) -> pd.DataFrame:
        """A reproducible random sample of at most ``n`` rows (all rows when the table is smaller)."""
        if (n, seed) not in self._sample:  # a sample per seed: another seed is another draw
            if self.frame is not None:
                frame = self.frame if len(self.frame) <= n else self.frame.sample(n, random_state=seed)
                self._sample[n, seed] = frame.reset_index(drop=True)
            elif self.n_rows <= n:
                self._sample[n, seed] = self.con.execute("SELECT * FROM t").df()
            else:
                # Bernoulli sampling is one streaming pass (a reservoir is slower); it returns about n rows.
                pct = 100.0 * n / self.n_rows
                self._sample[n, seed] = self.con.execute(
                    f"SELECT * FROM t USING SAMPLE {pct:.6f}% (bernoulli, {int(seed)})").df()
        return self._sample[n, seed]

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


def open_table(data: Any, memory_limit: str = "1GB") -> Table:
    """Open a table, or a CSV / Parquet / Excel file, as a DuckDB view named ``t``.

    A table held in memory (pandas, Polars, pyarrow) is typed by :func:`mlsmith._reading.as_pandas`,
    as a run reads it. A folder or glob of Parquet files is one table, read out of core.

    A CSV file is converted once to a temporary Parquet file (streamed, within ``memory_limit``), so
    later queries scan columns instead of re-parsing text; DuckDB spills to disk beyond the limit.
    It is read as :func:`mlsmith.data.read_table` reads it: the same delimiter, decimal mark,
    missing values, column names and column types. An Excel sheet is read by that function.
    """
    _bytes(memory_limit)
    con, tmpdir = _connect(memory_limit)
    frame, file_mb, kind = None, None, None
    try:
        files = parquet_files(data) if isinstance(data, (str, os.PathLike)) else None
        if files is not None:
            file_mb = sum(f.stat().st_size for f in files) / 2**20
            source, kind, relation = str(data), "parquet", parquet_relation(files)
        elif not isinstance(data, (str, os.PathLike)):
            frame = as_pandas(data)
            if not all(isinstance(c, str) for c in frame.columns):
                frame = frame.rename(columns=str)
            con.register("source_frame", frame)
            source, relation = "DataFrame", "source_frame"
        else:
            path = Path(data)
            if not path.is_file():
                raise DataError(f"data file '{path}' does not exist; check the path.")
            file_mb = path.stat().st_size / 2**20
            source, kind = str(path), file_kind(path)
            literal = lit(str(path))
            if kind == "parquet":
                relation = f"read_parquet({literal})"
            elif kind == "csv":
                parquet = Path(tmpdir) / "data.parquet"
                _csv_to_parquet(con, literal, parquet, path)
                relation = f"read_parquet({lit(str(parquet))})"
            elif kind == "excel":
                # A sheet holds at most about a million rows: it is read whole, as `run` reads it.
                frame = read_table(path).rename(columns=str)
                con.register("source_frame", frame)
                relation = "source_frame"
            else:
                raise DataError(f"data file '{path}' has an unsupported type '{path.suffix}'; "
                                "use .csv, .parquet or .xlsx.")
        described = {n: t for n, t, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}
        # ENUM (a pandas Categorical) is read as text, so every string-like column has one SQL type.
        types = {n: ("VARCHAR" if t.upper().startswith("ENUM") else t) for n, t in described.items()}
        if kind == "csv":
            types = _as_pandas_types(con, relation, types)
        select = ", ".join(q(n) if t == described[n] else f"CAST({q(n)} AS {t}) AS {q(n)}" for n, t in types.items())
        con.execute(f"CREATE VIEW t AS SELECT {select} FROM {relation}")
        n_rows = int(con.execute("SELECT count(*) FROM t").fetchone()[0])
        if n_rows == 0 and frame is None:
            raise DataError(f"data file '{source}' has a header ({', '.join(list(types)[:6])}) but no rows; "
                            "check that the export finished.")
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
    """Convert a CSV file in one streamed pass, read as `mlsmith run` reads it (pandas).

    The delimiter, decimal mark, missing-value markers and column names are the ones pandas uses
    (:mod:`mlsmith._reading`). Column types are sniffed from the first rows; when a later row
    contradicts them, the conversion is redone with types sniffed from every row.
    """
    fmt = sniff_csv(path)
    try:  # pandas names the columns (an empty header is 'Unnamed: 0', a repeated one 'a.1'), DuckDB reads them
        names = [str(c) for c in pd.read_csv(path, nrows=0, **fmt.pandas_options()).columns]
    except pd.errors.EmptyDataError:
        raise DataError(f"data file '{path}' is empty: it has no header and no rows.") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
    base = f"{fmt.duckdb_options()}, names=[{', '.join(lit(n) for n in names)}]"
    for options in ("", ", sample_size=-1"):
        try:
            con.execute(f"COPY (SELECT * FROM read_csv({literal}, {base}{options})) TO {lit(str(parquet))} (FORMAT parquet)")
            return
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            error = exc
        except duckdb.Error as exc:
            raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
    raise DataError(f"could not read '{path}': {str(error).splitlines()[0]}") from None


def _as_pandas_types(con: duckdb.DuckDBPyConnection, relation: str, types: dict[str, str]) -> dict[str, str]:
    """The SQL types pandas would give a CSV's columns, from DuckDB's: an integer column with a missing
    value is a float (NaN has no integer), and a text column of True/False spellings is boolean."""
    integers = [c for c, t in types.items() if t.upper() in ("BIGINT", "INTEGER")]
    texts = [c for c, t in types.items() if t.upper() == "VARCHAR"]
    spellings = ", ".join(lit(v) for v in TRUE_FALSE)
    exprs = [f"bool_or({q(c)} IS NULL)" for c in integers]
    exprs += [f"bool_and({q(c)} IN ({spellings})) AND count({q(c)}) > 0" for c in texts]
    if not exprs:
        return types
    answers = con.execute(f"SELECT {', '.join(exprs)} FROM {relation}").fetchone()
    out = dict(types)
    for c, has_null in zip(integers, answers[: len(integers)]):
        if has_null:
            out[c] = "DOUBLE"
    for c, is_bool in zip(texts, answers[len(integers):]):
        if is_bool:
            out[c] = "BOOLEAN"
    return out


def finite(values: pd.Series) -> np.ndarray:
    """The finite values of a numeric sample column, as floats, by the models' float rule
    (:func:`mlsmith._columns.finite_float`: magnitudes past float32's count as infinite)."""
    arr = finite_float(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan))
    return arr[np.isfinite(arr)]


def sql_labels(values: pd.Series) -> pd.Series:
    """Labels spelled as SQL's ``CAST(... AS VARCHAR)`` spells them (booleans as 'true' / 'false')."""
    if pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: None if pd.isna(v) else str(bool(v)).lower())
    return values.map(lambda v: None if pd.isna(v) else str(v))
