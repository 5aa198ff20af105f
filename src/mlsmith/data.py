"""Data loading and the schema: what each column is and how the pipeline will treat it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._columns import as_time, evenly_spaced, looks_like_dates
from ._reading import (
    NA_VALUES,
    arrow_to_pandas,
    as_pandas,
    file_kind,
    parquet_files,
    read_parquet_set,
    release_arrow_memory,
    sniff_csv,
    source_name,
)
from .exceptions import DataError
from .problem import DataSpec, Problem

__all__ = ["ColumnInfo", "Schema", "compact_categories", "describe_frame", "fingerprint", "infer_schema", "load_data",
           "read_table"]

ROLES = ("numeric", "categorical", "boolean", "datetime", "text", "id")
_ID_NAME = re.compile(r"(^id$|_id$|^id_|uuid|guid|(?<![a-z])key$)", re.IGNORECASE)


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or Excel file, or a set of Parquet files, into a DataFrame, with a clear
    error when it cannot be read.

    A CSV file's delimiter and decimal mark are sniffed, and its missing-value markers are pandas'
    defaults (``NA``, ``NaN``, empty, ...), exactly as the profiling engine reads it (see
    :mod:`mlsmith._reading`). An Excel file's first sheet is read (``pip install 'mlsmith[excel]'``).
    A folder of Parquet files, or a glob such as ``data/year=*/part-*.parquet``, is read as one table
    (hive partition folders become columns; :func:`mlsmith._reading.parquet_files`).

    Examples
    --------
    >>> read_table("missing.csv")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: data file 'missing.csv' does not exist; check the path (relative paths are read from the problem file's folder).
    """
    files = parquet_files(path)
    if files is not None:
        df = read_parquet_set(files)
        release_arrow_memory()
        return df if columns is None else df[[c for c in df.columns if c in columns]]
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"data file '{path}' does not exist; check the path (relative paths are read from the problem file's folder)."
        )
    kind = file_kind(path)
    if kind is None:
        raise DataError(f"data file '{path}' has an unsupported type '{path.suffix}'; use .csv, .parquet or .xlsx.")
    try:
        if kind == "parquet":
            df = _read_parquet(path, columns)
            release_arrow_memory()  # the Arrow table is freed now; its pages are not needed again
        elif kind == "excel":
            df = _read_excel(path, columns)
        else:
            df = pd.read_csv(path, usecols=columns, **sniff_csv(path).pandas_options())
    except pd.errors.EmptyDataError:
        raise DataError(f"data file '{path}' is empty: it has no header and no rows.") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
    if df.empty:
        raise DataError(f"data file '{path}' has a header ({', '.join(map(str, df.columns[:6]))}) but no rows; "
                        "check that the export finished.")
    return df


def _read_parquet(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """A Parquet file pandas wrote comes back with its pandas types; one another tool wrote (Polars,
    Spark, DuckDB) is typed as the CSV reader types the same rows, as a frame is (``as_pandas``)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    if table.schema.pandas_metadata:
        return arrow_to_pandas(table, owned=True)
    return as_pandas(table, owned=True)


def _read_excel(path: Path, columns: list[str] | None) -> pd.DataFrame:
    engine = "xlrd" if path.suffix.lower() == ".xls" else "openpyxl"
    try:
        __import__(engine)
    except ImportError:
        raise DataError(f"reading '{path.name}' needs {engine}, which is not installed; "
                        "install it with pip install 'mlsmith[excel]', or save the sheet as .csv.") from None
    try:
        # The same missing-value markers as a CSV, for a sheet exported from a program that wrote "NA".
        return pd.read_excel(path, usecols=columns, engine=engine, na_values=list(NA_VALUES), keep_default_na=False)
    except Exception as exc:  # a damaged workbook fails in the zip, XML or xlrd layer, each with its own type
        raise DataError(f"could not read '{path}' as an Excel workbook: {str(exc).splitlines()[0]}; "
                        "open it in a spreadsheet program and save it again, or save it as .csv.") from None


def load_data(spec: DataSpec, base_dir: str | Path = ".", data: Any = None) -> pd.DataFrame:
    """Load the data named by a problem's ``data:`` section, or the table given instead.

    Parameters
    ----------
    spec : DataSpec
        ``path`` (CSV, Parquet or Excel, a folder or glob of Parquet files) or ``url`` + ``query`` or
        ``table`` (SQLite and DuckDB files work with nothing extra; other databases through SQLAlchemy).
    base_dir : path
        The folder relative paths are read from (the problem file's).
    data : DataFrame, optional
        A table held in memory (pandas, Polars, pyarrow; :func:`mlsmith._reading.as_pandas`). Given,
        it is the data, and the spec's source, if any, is not read.

    Returns
    -------
    pandas.DataFrame
        The table as read, every column kept.

    Examples
    --------
    >>> from mlsmith.problem import DataSpec
    >>> load_data(DataSpec())
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: the problem gives no data source; add one to its data section (e.g. 'data: {path: churn.csv}'), or pass the table: mlsmith.run(problem, data=df).
    """
    if data is not None:
        return as_pandas(data)
    if spec.path:
        path = Path(spec.path)
        return read_table(path if path.is_absolute() else Path(base_dir) / path)
    if spec.url:
        return _read_sql(spec.url, spec.query, Path(base_dir), spec.table)
    if spec.frame:
        raise DataError(f"the problem's data was a table held in memory ({spec.frame}), which a run does not "
                        "store; pass the table again: mlsmith.run(problem, data=df), or give 'data.path'.")
    raise DataError("the problem gives no data source; add one to its data section (e.g. 'data: {path: churn.csv}'), "
                    "or pass the table: mlsmith.run(problem, data=df).")


def describe_frame(data: Any, df: pd.DataFrame) -> str:
    """How a run records a table it was given in memory: its type, shape and fingerprint.

    >>> describe_frame(pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1, 2]}))
    '<pandas.DataFrame 2 x 1, fingerprint 856f5981aaf1b54c>'
    """
    return f"{source_name(data)[:-1]} {len(df):,} x {df.shape[1]}, fingerprint {fingerprint(df)[:16]}>"


def _read_sql(url: str, query: str | None, base_dir: Path, table: str | None = None) -> pd.DataFrame:
    """Run the one SELECT of ``data.query`` (or of ``data.table``'s rows) read-only, rolled back after.

    The source is never changed: the query must be one SELECT (or WITH ... SELECT) statement with no
    writing keyword (:func:`read_only_query`), SQLite files are opened read-only (``mode=ro`` and
    ``PRAGMA query_only``), DuckDB files read-only with no access to other files, PostgreSQL and
    MySQL get ``SET TRANSACTION READ ONLY``, and every connection ends in a rollback.
    ``${VARIABLE}`` in the URL is read from the environment here, and the URL is shown with its
    password masked.
    """
    from .problem import mask_url, resolve_url

    if table is not None:  # each dotted part an identifier: 'main.customers', never SQL text
        query = "SELECT * FROM " + ".".join('"' + part.replace('"', '""') + '"' for part in table.split("."))
    statement = read_only_query(query)
    shown = mask_url(url)
    url = resolve_url(url)
    if url.startswith("duckdb:///"):
        return _read_duckdb(Path(url.removeprefix("duckdb:///")), statement, base_dir)
    if url.startswith("sqlite:///"):
        import sqlite3

        db = Path(url.removeprefix("sqlite:///"))
        db = db if db.is_absolute() else base_dir / db
        if not db.is_file():
            raise DataError(f"SQLite database '{db}' does not exist; check 'data.url' in the problem file.")
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA query_only = ON")
            return pd.read_sql_query(statement, conn)
        except Exception as exc:  # sqlite3 raises DatabaseError subclasses and pandas wraps them
            raise DataError(f"the query in 'data.query' failed on {db.name}: {_first_line(exc)}.") from None
        finally:
            conn.rollback()
            conn.close()
    try:
        import sqlalchemy
    except ImportError:
        raise DataError(
            f"reading from '{url.split(':')[0]}' needs SQLAlchemy and the database's driver; "
            "install them with 'pip install mlsmith[sql] <driver>', or use a sqlite:/// URL."
        ) from None
    try:
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as conn:
                try:
                    dialect = engine.dialect.name
                    if dialect in ("postgresql", "mysql", "mariadb"):
                        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    elif dialect == "sqlite":
                        conn.exec_driver_sql("PRAGMA query_only = ON")
                    return pd.read_sql_query(sqlalchemy.text(statement), conn)
                finally:
                    conn.rollback()
        finally:
            engine.dispose()
    except Exception as exc:
        raise DataError(f"the query in 'data.query' failed on '{shown}': {_first_line(exc, url, shown)}.") from None


def _read_duckdb(db: Path, statement: str, base_dir: Path) -> pd.DataFrame:
    """One SELECT on a DuckDB file opened read-only, with file access off (no read_csv('/etc/...'))."""
    import duckdb
    import pyarrow as pa

    db = db if db.is_absolute() else base_dir / db
    if not db.is_file():
        raise DataError(f"DuckDB database '{db}' does not exist; check 'data.url' in the problem file.")
    try:
        conn = duckdb.connect(str(db), read_only=True, config={"enable_external_access": False})
    except duckdb.Error as exc:
        raise DataError(f"could not open '{db}' as a DuckDB database: {_first_line(exc)}.") from None
    try:
        return as_pandas(pa.table(conn.sql(statement)))
    except duckdb.Error as exc:
        raise DataError(f"the query in 'data.query' failed on {db.name}: {_first_line(exc)}.") from None
    finally:
        conn.close()


def _first_line(exc: Exception, url: str | None = None, shown: str | None = None) -> str:
    """The error's first line, cut, with the URL and every credential in it masked (drivers repeat them)."""
    from .problem import url_secrets

    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if url and shown:
        text = text.replace(url, shown)
        for secret in url_secrets(url):
            text = text.replace(secret, "***")
    return text[:300]


#: Words that write, lock or reach outside the query; refused anywhere outside quotes and comments.
_WRITING = ("insert", "update", "delete", "drop", "alter", "create", "attach", "detach", "pragma", "truncate",
            "grant", "revoke", "merge", "copy", "call", "execute", "exec", "vacuum", "into", "lock", "load_extension")


def read_only_query(query: str) -> str:
    """``query`` if it is one SELECT (or WITH ... SELECT) statement that writes nothing, else a DataError.

    Comments are removed, one trailing ``;`` is allowed, and a writing keyword (INSERT, DROP, INTO,
    ...) outside quotes refuses the query: mlsmith reads sources, it never changes them.

    Examples
    --------
    >>> read_only_query("-- churn\\nSELECT * FROM customers;")
    'SELECT * FROM customers'
    >>> read_only_query("SELECT 1; DROP TABLE t")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.DataError: 'data.query' must be one SELECT statement; it holds 2 statements ('SELECT 1; DROP TABLE t'). ...
    """
    code, quoted = [], []  # the query outside quotes (for the checks), and all of it without comments
    i, n, shown = 0, len(query), query if len(query) <= 120 else query[:117] + "..."
    while i < n:
        ch = query[i]
        if query.startswith("--", i):
            i = query.find("\n", i) if "\n" in query[i:] else n
            continue
        if query.startswith("/*", i):
            end = query.find("*/", i + 2)
            i = n if end < 0 else end + 2
            code.append(" ")
            quoted.append(" ")
            continue
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            end = i + 1
            while True:
                end = query.find(close, end)
                if end < 0 or not (close != "]" and query.startswith(close * 2, end)):
                    break
                end += 2  # a doubled quote is an escaped one
            end = n if end < 0 else end + 1
            quoted.append(query[i:end])
            code.append(" '' ")
            i = end
            continue
        code.append(ch)
        quoted.append(ch)
        i += 1
    text, statement = "".join(code), "".join(quoted).strip()
    parts = [p for p in text.split(";") if p.strip()]
    fix = "mlsmith reads the source and never changes it; e.g. 'query: SELECT * FROM customers'."
    if len(parts) > 1:
        raise DataError(f"'data.query' must be one SELECT statement; it holds {len(parts)} statements ({shown!r}). {fix}")
    words = re.findall(r"[A-Za-z_]+", text.lower())
    if not words or words[0] not in ("select", "with"):
        raise DataError(f"'data.query' must be a SELECT (or WITH ... SELECT) statement; got {shown!r}. {fix}")
    writing = next((w for w in words if w in _WRITING), None)
    if writing:
        raise DataError(f"'data.query' must only read, but it holds '{writing.upper()}' ({shown!r}). {fix}")
    return statement.rstrip().rstrip(";").rstrip()


@dataclass(frozen=True)
class ColumnInfo:
    """One column: its inferred (or overridden) role and why."""

    name: str
    role: str
    dtype: str
    n_unique: int
    missing_frac: float
    reason: str
    categories: list[Any] | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Schema:
    """The roles of a table's columns, as the pipeline will use them. Made by :func:`infer_schema`.

    Parameters
    ----------
    columns : list of ColumnInfo
        Every column kept, with its role (numeric, categorical, boolean, datetime, text, id), dtype,
        distinct values, missing share and the reason for its role.
    target : str
        The target column.
    dropped : dict, default={}
        The columns left out, each with the reason.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [20, 30, 40, 50], "city": ["a", "b", "a", "b"], "y": [0, 1, 0, 1]})
    >>> infer_schema(df, target="y").features("numeric")
    ['age']
    """

    columns: list[ColumnInfo]
    target: str
    dropped: dict[str, str] = field(default_factory=dict)

    def features(self, role: str | None = None) -> list[str]:
        """Feature columns, all or of one role (id columns are never features)."""
        return [c.name for c in self.columns if c.role != "id" and (role is None or c.role == role)]

    def __getitem__(self, name: str) -> ColumnInfo:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "columns": [asdict(c) for c in self.columns], "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Schema":
        return cls([ColumnInfo(**c) for c in data["columns"]], data["target"], data.get("dropped", {}))


def infer_schema(
    df: Any,
    target: str,
    id_columns: list[str] | tuple[str, ...] = (),
    drop: list[str] | tuple[str, ...] = (),
    roles: dict[str, str] | None = None,
) -> Schema:
    """Infer each column's role: numeric, categorical, boolean, datetime, text or id.

    Parameters
    ----------
    df : DataFrame
        The table: a pandas or Polars frame or a pyarrow Table (:func:`mlsmith._reading.as_pandas`).
    target : str
        The target column (not a feature).
    id_columns : list of str, default=()
        Columns that identify a row: kept with the role ``id``, never used as features.
    drop : list of str, default=()
        Columns to remove.
    roles : dict, optional
        A role for the columns it names, overriding the inference.

    Returns
    -------
    Schema
        Each column's role and the reason for it.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2, 3, 4], "day": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"],
    ...                    "y": [0, 1, 0, 1]})
    >>> schema = infer_schema(df, "y", id_columns=["id"])
    >>> schema["id"].role, schema["day"].role, schema.features()
    ('id', 'datetime', ['day'])
    """
    df = as_pandas(df)
    roles = dict(roles or {})
    for name in [*id_columns, *drop, *roles]:
        if name not in df.columns:
            close = _closest(name, df.columns)
            raise DataError(f"column '{name}' named in the problem's data section is not in the data.{close}")
    dropped = {name: "listed in data.drop" for name in drop}
    columns = []
    n = len(df)
    for name in df.columns:
        if name == target or name in dropped:
            continue
        s = df[name]
        if name in id_columns:
            role, reason = "id", "listed in data.id_columns"
        elif name in roles:
            role, reason = roles[name], "set in data.roles"
        else:
            role, reason = _infer_role(name, s, n)
        columns.append(_describe(name, s, role, reason))
    return Schema(columns, target, dropped)


def _infer_role(name: str, s: pd.Series, n: int) -> tuple[str, str]:
    non_null = s.dropna()
    n_unique = int(non_null.nunique())
    if n_unique <= 1:
        return "categorical" if not pd.api.types.is_numeric_dtype(s) else "numeric", "constant column"
    if pd.api.types.is_bool_dtype(s):
        return "boolean", "boolean dtype"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime", "datetime dtype"
    all_unique = n_unique == len(non_null) and len(non_null) > 20
    if pd.api.types.is_numeric_dtype(s):
        is_integer = pd.api.types.is_integer_dtype(s)
        if all_unique and is_integer and (_ID_NAME.search(name) or non_null.is_monotonic_increasing):
            return "id", "unique integer per row, named or ordered like an id"
        return "numeric", "numeric dtype"
    values = non_null.astype(str)
    sample = evenly_spaced(values, 500)
    if set(sample.str.lower().unique()) <= {"true", "false"}:
        return "boolean", "values are true/false"
    if _looks_like_dates(sample):
        return "datetime", "strings that parse as dates"
    if _looks_numeric(sample):
        return "numeric", "numbers stored as strings"
    mean_len = float(sample.str.len().mean())
    if mean_len > 30 and sample.str.contains(" ").mean() > 0.5 and n_unique > 0.5 * len(non_null):
        return "text", f"free text (mean length {mean_len:.0f} characters)"
    if all_unique or (_ID_NAME.search(name) and n_unique > 0.9 * len(non_null)):
        return "id", "a distinct value in (almost) every row"
    return "categorical", f"{n_unique} distinct values"


_looks_like_dates = looks_like_dates


def _looks_numeric(sample: pd.Series) -> bool:
    return bool(pd.to_numeric(sample.str.replace(",", "", regex=False), errors="coerce").notna().mean() >= 0.98)


def _describe(name: str, s: pd.Series, role: str, reason: str) -> ColumnInfo:
    n_unique = int(s.nunique(dropna=True))
    categories = None
    lo = hi = None
    if role in ("categorical", "boolean"):
        counts = s.dropna().astype(str).value_counts()
        categories = sorted(counts.index[:200].tolist())
    elif role == "numeric":
        values = pd.to_numeric(s, errors="coerce")
        finite = values[np.isfinite(values)]
        if len(finite):
            lo, hi = float(finite.min()), float(finite.max())
    return ColumnInfo(
        name=name,
        role=role,
        dtype=str(s.dtype),
        n_unique=n_unique,
        missing_frac=float(s.isna().mean()) if len(s) else 0.0,
        reason=reason,
        categories=categories,
        min=lo,
        max=hi,
    )


def _closest(name: str, choices) -> str:
    from difflib import get_close_matches

    close = get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" Did you mean '{close[0]}'?" if close else f" Columns: {', '.join(map(str, list(choices)[:12]))}."


def check_columns(df: pd.DataFrame, problem: Problem) -> None:
    """Check that the columns the problem names exist, before anything else reads them."""
    spec = problem.data
    named = {"target": problem.target, "data.time_column": spec.time_column, "data.group_column": spec.group_column,
             "data.event_time": spec.event_time}
    for key, name in named.items():
        if name and name not in df.columns:
            raise DataError(f"{key} '{name}' is not a column of the data.{_closest(name, df.columns)}")
    for name in problem.fairness.sensitive_columns:
        if name not in df.columns:
            raise DataError(
                f"fairness.sensitive_columns names '{name}', which is not a column of the data."
                f"{_closest(name, df.columns)}"
            )
    if df.empty:
        raise DataError("the data has no rows; check the file, or the query in 'data.query'.")
    if df[problem.target].isna().all():
        raise DataError(
            f"target '{problem.target}' is missing in all {len(df):,} rows; check that the column holds the "
            "labels (a missing-value marker such as NA in every row reads as missing)."
        )
    if spec.time_column:
        _check_time_column(df[spec.time_column], spec.time_column)


def _check_time_column(s: pd.Series, name: str) -> None:
    """A time column holds dates, or numbers (a year, an epoch): anything else cannot order the split."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return
    if as_time(s) is None:
        values = s.dropna().unique()[:3]
        seen = f"values like {', '.join(repr(v) for v in values)}" if len(values) else "it is empty"
        raise DataError(
            f"data.time_column '{name}' holds no dates ({seen}); name a column of dates, "
            "a year or an epoch, or remove 'time_column' for a random split."
        )


def compact_categories(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with its text ``columns`` as pandas categories: the same values, each level stored once.

    What the run hands to its worker processes (cross-validation fits, tuning trials, the final
    fits). joblib gives the workers numeric columns as shared memory maps, but text is pickled
    again for every task: a column of a million short strings is about 15 MB each time, its
    category codes 2 MB, shared like any numeric array. Every transformer reads a category as
    the text it holds (:func:`mlsmith.preprocess.to_category_text`), so the models and their
    scores are unchanged. Columns that are not text, or whose levels are more than half the rows
    (nothing to share), are left as they are; the other columns are not copied.

    Examples
    --------
    >>> frame = pd.DataFrame({"city": ["Lyon", "Gent", "Lyon", None], "n": [1, 2, 3, 4]})
    >>> out = compact_categories(frame, ["city", "n"])
    >>> out.dtypes.astype(str).tolist(), out["city"].astype(object).tolist()
    (['category', 'int64'], ['Lyon', 'Gent', 'Lyon', nan])
    """
    text = [c for c in columns if c in frame.columns and isinstance(frame[c].dtype, pd.StringDtype)
            and frame[c].nunique() <= len(frame) / 2]
    if not text:
        return frame
    return frame.assign(**{c: frame[c].astype("category") for c in text})


def fingerprint(df: Any) -> str:
    """A SHA-256 of the table's contents and column names (row order matters).

    A Polars frame or an Arrow table is read as :func:`mlsmith._reading.as_pandas` reads it, so it
    has the fingerprint of the CSV file holding the same rows.

    Examples
    --------
    >>> fingerprint(pd.DataFrame({"a": [1, 2]})) == fingerprint(pd.DataFrame({"a": [1, 2]}))
    True
    """
    df = as_pandas(df)
    digest = hashlib.sha256("\x1f".join(map(str, df.columns)).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()
