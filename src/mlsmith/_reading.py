"""How every command reads a user's CSV file: one set of missing-value markers, one sniffed format.

``mlsmith run`` reads a CSV with pandas; ``mlsmith quality`` and ``mlsmith eda`` stream it through
DuckDB so a file larger than memory can be profiled. Both take their options from here, so the same
file gives the same missing values, the same columns and the same column types on every path:

- the missing-value markers are pandas' defaults, written out (``NA``, ``NaN``, ``NULL``, empty,
  ...), so an R export's ``NA`` is missing everywhere;
- the delimiter (``,`` ``;`` tab ``|``) and the decimal mark (``1,5`` in a ``;`` file) are sniffed
  once from the start of the file by :func:`sniff_csv`.

Tables held in memory (pandas, Polars, Arrow) reach every stage through :func:`as_pandas`, and a
folder or glob of Parquet files is one table through :func:`parquet_files` and DuckDB's
``read_parquet``.

This module imports no stage, so the data loader and the profiling engine can both use it.
"""

from __future__ import annotations

import csv
import glob
import gzip
import io
import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["CSV_SUFFIXES", "EXCEL_SUFFIXES", "NA_VALUES", "PARQUET_SUFFIXES", "TRUE_FALSE", "CsvFormat",
           "arrow_to_pandas", "as_pandas", "file_kind", "lit", "parquet_batches", "parquet_files", "parquet_relation",
           "read_parquet_set", "release_arrow_memory", "sniff_csv", "source_name"]

#: pandas' default missing-value markers (``pandas._libs.parsers.STR_NA_VALUES``), fixed here so
#: pandas and DuckDB read the same cells as missing whatever pandas version is installed, less
#: ``None``: it is a real level in real tables (MASS Cars93's ``AirBags``, vcd Arthritis'
#: ``Improved``, where reading it as missing dropped a third of the target), and no writer we know
#: spells a missing cell that way (pandas writes '', R writes NA).
NA_VALUES = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
             "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")
#: The spellings pandas reads as booleans (its default ``true_values`` / ``false_values``).
TRUE_FALSE = ("True", "TRUE", "true", "False", "FALSE", "false")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xls")

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 200
_COMMA_DECIMAL = re.compile(r"^[-+]?\d*,\d+(?:[eE][-+]?\d+)?$")
_DOT_DECIMAL = re.compile(r"^[-+]?\d*\.\d+(?:[eE][-+]?\d+)?$")


def file_kind(path: str | Path) -> str | None:
    """``"csv"``, ``"parquet"``, ``"excel"`` or None, from the file name's suffixes.

    >>> file_kind("sales.csv.gz"), file_kind("x.XLSX"), file_kind("notes.md")
    ('csv', 'excel', None)
    """
    suffix = "".join(Path(path).suffixes[-2:]).lower()
    for kind, suffixes in (("parquet", PARQUET_SUFFIXES), ("csv", CSV_SUFFIXES), ("excel", EXCEL_SUFFIXES)):
        if suffix.endswith(suffixes):
            return kind
    return None


@dataclass(frozen=True)
class CsvFormat:
    """A CSV file's delimiter and decimal mark, and the reader options both engines take from them."""

    delimiter: str = ","
    decimal: str = "."

    def pandas_options(self) -> dict:
        """Keyword arguments for :func:`pandas.read_csv`."""
        return {"sep": self.delimiter, "decimal": self.decimal, "quotechar": '"', "na_values": list(NA_VALUES),
                "keep_default_na": False, "low_memory": False}

    def duckdb_options(self) -> str:
        """Options for DuckDB's ``read_csv``, as SQL text after the file name.

        The header is always the first row (as pandas reads it), and dates stay text: pandas does not
        parse them either, so a date column has one type on both paths and the stages parse it.
        """
        nulls = ", ".join(lit(v) for v in NA_VALUES)
        return (f"delim={lit(self.delimiter)}, decimal_separator={lit(self.decimal)}, quote='\"', escape='\"', "
                f"header=true, nullstr=[{nulls}], auto_type_candidates=['BIGINT', 'DOUBLE', 'VARCHAR']")


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


def sniff_csv(path: str | Path) -> CsvFormat:
    """Sniff a CSV file's delimiter and decimal mark from its first rows.

    The delimiter is the one of ``,`` ``;`` tab ``|`` that splits the header into the most columns
    with every sampled row as wide as the header (ties go to that order). A ``,`` decimal mark is
    read only in a file not delimited by ``,``, when numbers like ``1,5`` outnumber numbers like
    ``1.5``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "eu.csv"
    >>> _ = path.write_text("price;city\\n1,5;Lyon\\n2,25;Gent\\n")
    >>> sniff_csv(path)
    CsvFormat(delimiter=';', decimal=',')
    """
    text = _head(Path(path))
    best, best_key = ",", (False, 0.0, 1)
    for rank, delimiter in enumerate(_DELIMITERS):
        rows = _rows(text, delimiter)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        share = sum(len(r) == width for r in rows) / len(rows)
        key = (share == 1.0, share, width)
        if key > best_key:
            best, best_key = delimiter, key
    decimal = "."
    if best != ",":
        fields = [f.strip() for r in _rows(text, best) for f in r if f]
        commas = sum(bool(_COMMA_DECIMAL.match(f)) for f in fields)
        dots = sum(bool(_DOT_DECIMAL.match(f)) for f in fields)
        if commas and commas >= dots:
            decimal = ","
    return CsvFormat(best, decimal)


def _rows(text: str, delimiter: str) -> list[list[str]]:
    """The first non-empty rows, parsed lazily: a 64 KiB head is not split whole four times over."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar='"')
    return list(itertools.islice((r for r in reader if r), _SNIFF_ROWS))


def _head(path: Path) -> str:
    """The file's first whole lines (at most 64 KiB), decoded leniently: sniffing must not fail."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(_SNIFF_BYTES + 1)
    except OSError:  # not gzip after all, or unreadable: the reader's own error says which
        return ""
    if len(raw) > _SNIFF_BYTES:
        raw = raw[: raw.rfind(b"\n", 0, _SNIFF_BYTES) + 1] or raw[:_SNIFF_BYTES]
    return raw.decode("utf-8-sig", errors="replace")


# ---- Tables held in memory, and sets of Parquet files -------------------------------------------

#: Characters that make ``data.path`` a pattern of files rather than one file.
_GLOB_CHARS = ("*", "?", "[")


def as_pandas(data: Any, owned: bool = False) -> pd.DataFrame:
    """Any table a user holds as the pandas frame the CSV reader would give for the same rows.

    The one entry every stage and command calls with an in-memory table. A pandas frame is returned
    as it is. A Polars frame (eager or lazy), a pyarrow Table or RecordBatch, a DuckDB relation, or
    any object with the Arrow C stream interface (``__arrow_c_stream__``) is converted column by
    column through Arrow, never element by element, to the types :func:`mlsmith.data.read_table`
    gives a CSV of the same rows: integers as ``int64`` (``float64`` once a value is missing, as NaN
    has no integer), other numbers as ``float64``, text as pandas' ``str``, a categorical column as
    its text, booleans as ``bool`` (``object`` with a missing value), and a date/time with a time zone
    as naive UTC (:func:`mlsmith._columns.parse_dates`, the time-zone policy). An Arrow table the
    caller ``owned`` (read from a file for this call) is freed as it is converted
    (:func:`arrow_to_pandas`).

    Raises
    ------
    DataError
        ``data`` is not a table of a supported kind, or a column holds nested values (lists, structs).

    Examples
    --------
    >>> import pyarrow as pa
    >>> frame = as_pandas(pa.table({"n": pa.array([1, None], pa.int8()), "c": pa.array(["a", "b"]).dictionary_encode()}))
    >>> [str(t) for t in frame.dtypes]
    ['float64', 'str']
    >>> as_pandas([1, 2])
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: data must be a table (a pandas or Polars DataFrame, a pyarrow Table) or a file path; got builtins.list.
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    table = _csv_types(_as_arrow(data))
    del data  # an owned table's buffers are then held by ``table`` alone, and freed as they are converted
    frame = arrow_to_pandas(table, owned=owned, date_as_object=False)
    from ._columns import parse_dates

    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = parse_dates(frame[name])
    return frame


def arrow_to_pandas(table: pa.Table, owned: bool = False, **options: Any) -> pd.DataFrame:
    """An Arrow table as a pandas frame, without holding the table a second time while converting.

    pyarrow's default conversion gathers the columns of one type into one 2-D block, a second copy
    of them all: here each column becomes a block of its own (``split_blocks``), and a table the
    caller ``owned`` (read from a file, seen by no one else) gives its buffers back as they are
    converted (``self_destruct``; it must not be used afterwards). The values and types are those of
    ``table.to_pandas(**options)``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> arrow_to_pandas(pa.table({"a": [1, 2], "b": [0.5, None]})).dtypes.astype(str).tolist()
    ['int64', 'float64']
    """
    return table.to_pandas(split_blocks=True, self_destruct=owned, **options)


def release_arrow_memory() -> None:
    """Return to the system the memory Arrow's pool kept after a table was read and freed.

    The pool (mimalloc or jemalloc) keeps freed pages for reuse: after a Parquet file is read into
    pandas, as much as the table's size stays resident for the whole run unless it is released.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def source_name(data: Any) -> str:
    """How messages and reports name a source of data: its path, or the type of the table given.

    >>> source_name("data/*.parquet"), source_name([1])
    ('data/*.parquet', '<builtins.list>')
    """
    if isinstance(data, (str, os.PathLike)):
        return str(data)
    return f"<{type(data).__module__.split('.')[0]}.{type(data).__name__}>"


def _as_arrow(data: Any) -> pa.Table:
    import pyarrow as pa

    from .exceptions import DataError

    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.Table):
        return data
    kind = f"{type(data).__module__}.{type(data).__qualname__}"
    if kind.startswith("polars.") and hasattr(data, "collect") and not hasattr(data, "__arrow_c_stream__"):
        data = data.collect()  # a Polars LazyFrame: its query runs once, here
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    if kind.startswith("polars.") and hasattr(data, "to_arrow"):  # a Polars older than the C stream (1.2)
        return data.to_arrow()
    raise DataError(f"data must be a table (a pandas or Polars DataFrame, a pyarrow Table) or a file path; got {kind}.")


def _csv_types(table: pa.Table) -> pa.Table:
    """The Arrow types the CSV reader's pandas types come from (see :func:`as_pandas`)."""
    import pyarrow as pa
    import pyarrow.types as pt

    from .exceptions import DataError

    columns = []
    for name, column in zip(table.column_names, table.columns):
        if pt.is_dictionary(column.type):
            column = _decoded(column)
        kind = column.type
        if pt.is_integer(kind) and kind != pa.int64():
            try:
                column = column.cast(pa.int64())
            except pa.ArrowInvalid:  # a uint64 past int64's range keeps its type
                pass
        elif pt.is_floating(kind) or pt.is_decimal(kind) or pt.is_null(kind):
            column = column.cast(pa.float64())
        elif pt.is_nested(kind):
            raise DataError(f"column '{name}' holds nested values ({kind}); mlsmith reads flat tables of numbers, "
                            "text, booleans and dates: flatten the column or drop it before passing the table.")
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A dictionary column as its values. A view-typed dictionary (Polars' categoricals) has no take
    kernel in Arrow, so its values are made plain strings (or bytes) first."""
    import pyarrow as pa

    values = column.type.value_type
    plain = {"string_view": pa.string(), "binary_view": pa.binary()}.get(str(values), values)
    chunks = [pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(plain)).dictionary_decode()
              for c in column.chunks]
    return pa.chunked_array(chunks, type=plain)


def parquet_files(path: str | Path) -> list[Path] | None:
    """The Parquet files a folder or a glob pattern names, sorted; None when ``path`` is neither.

    A folder stands for every Parquet file under it, at any depth (hive partitions such as
    ``year=2011/part-0.parquet``); a pattern (``data/*.parquet``, ``data/year=*/part-*.parquet``,
    ``data/**/*.parquet``) for the files it matches, which must all be Parquet.

    Raises
    ------
    DataError
        The folder or the pattern holds no Parquet file, or the pattern matches other files.
    """
    from .exceptions import DataError

    text = str(path)
    if Path(path).is_file():  # one file, even one named like a pattern ('sales[2024].csv')
        return None
    if any(ch in text for ch in _GLOB_CHARS):
        files = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
        other = [f.name for f in files if file_kind(f) != "parquet"]
        if other:
            raise DataError(f"the pattern '{text}' matches files that are not Parquet ({', '.join(other[:3])}); "
                            "narrow it, e.g. 'data/*.parquet'.")
    elif Path(path).is_dir():
        text = str(Path(path) / "**" / "*")
        files = sorted(f for f in Path(path).rglob("*") if f.is_file() and file_kind(f) == "parquet")
    else:
        return None
    if not files:
        raise DataError(f"'{text}' matches no Parquet file; check the folder or the pattern "
                        "(e.g. 'data/*.parquet' or 'data/year=*/part-*.parquet').")
    return files


def parquet_relation(files: list[Path]) -> str:
    """DuckDB's ``read_parquet`` over the files as one table: columns matched by name, and the
    ``key=value`` folders of hive partitions read as columns."""
    listed = ", ".join(lit(str(f)) for f in files)
    return f"read_parquet([{listed}], hive_partitioning=true, union_by_name=true)"


def parquet_batches(files: list[Path], columns: list[str] | None = None,
                    chunk_rows: int = 250_000) -> tuple[list[str], int, Iterator[pd.DataFrame]]:
    """A set of Parquet files streamed as one table: its column names, its row count, and chunks of
    at most ``chunk_rows`` rows (as :func:`as_pandas` types them) holding the ``columns`` it has."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    relation = parquet_relation(files)
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    n_rows = int(con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0])
    keep = names if columns is None else [c for c in names if c in columns]
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in keep) or "*"

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            # Arrow's C stream, which every DuckDB version gives; its batches are cut to chunk_rows.
            for batch in pa.RecordBatchReader.from_stream(con.sql(f"SELECT {select} FROM {relation}")):
                for start in range(0, batch.num_rows, chunk_rows):
                    yield as_pandas(batch.slice(start, chunk_rows))
        finally:
            con.close()

    return names, n_rows, chunks()


def read_parquet_set(files: list[Path]) -> pd.DataFrame:
    """A set of Parquet files read whole as one table (see :func:`parquet_relation`)."""
    import duckdb
    import pyarrow as pa

    with duckdb.connect() as con:
        table = pa.table(con.sql(f"SELECT * FROM {parquet_relation(files)}"))
    return as_pandas(table, owned=True)
