"""How every command reads a user's CSV file: one set of missing-value markers, one sniffed format.

``mlsmith run`` reads a CSV with pandas; ``mlsmith quality`` and ``mlsmith eda`` stream it through
DuckDB so a file larger than memory can be profiled. Both take their options from here, so the same
file gives the same missing values, the same columns and the same column types on every path:

- the missing-value markers are pandas' defaults, written out (``NA``, ``NaN``, ``NULL``, empty,
  ...), so an R export's ``NA`` is missing everywhere;
- the delimiter (``,`` ``;`` tab ``|``) and the decimal mark (``1,5`` in a ``;`` file) are sniffed
  once from the start of the file by :func:`sniff_csv`.

This module imports no stage, so the data loader and the profiling engine can both use it.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CSV_SUFFIXES", "EXCEL_SUFFIXES", "NA_VALUES", "PARQUET_SUFFIXES", "TRUE_FALSE", "CsvFormat",
           "file_kind", "lit", "sniff_csv"]

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
