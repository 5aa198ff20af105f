"""Batch scoring of a CSV or Parquet file in chunks, so memory stays flat however large the file.

A CSV is read as training reads it (:func:`mlsmith.data.read_table`: pandas' parser, its missing
markers — empty, ``NA``, ``NaN``, ``NULL``, ``None``, ... — and its delimiter), a chunk at a time;
each chunk then passes the input rules serving applies (:mod:`mlsmith.deploy._rules`): a refused
row gets no prediction and a ``reason``, a changed row is scored and counted.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa

from .._reading import as_pandas, parquet_batches, parquet_files, sniff_csv, source_name
from ..data import Schema
from ..exceptions import DataError
from ._bundle import ModelBundle
from ._explain import PREFIX
from ._rules import RULES, InputRules

__all__ = ["BatchResult", "predict_file"]

#: Rows scored at a time.
CHUNK_ROWS = 50_000
Progress = Callable[[int, int], object]
#: Roles whose values are read as text and typed from the schema, not guessed chunk by chunk: a
#: chunk without a missing code would read 1 where the whole file (training) read 1.0.
_TEXT_ROLES = ("categorical", "boolean", "id", "datetime", "text")


@dataclass
class BatchResult:
    """What :func:`predict_file` did: where it wrote, the rows scored, and the rows each input rule
    refused or changed (see :data:`~mlsmith.deploy._rules.RULES`).

    It is a path-like object (the output file), so ``pd.read_csv(predict_file(...))`` works.
    """

    path: Path
    n_rows: int
    n_scored: int
    rules: dict[str, int] = field(default_factory=dict)
    #: The first reason given for each refusing rule, as an example for the summary.
    examples: dict[str, str] = field(default_factory=dict)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def n_refused(self) -> int:
        return self.n_rows - self.n_scored

    def summary(self) -> str:
        """One line: rows scored, and per rule the rows it refused or changed.

        >>> BatchResult(Path("o.csv"), 100, 97, {"unseen_category": 3, "timezone_converted": 2}).summary()
        'scored 97 of 100 rows; refused 3: unseen_category 3; changed 2: timezone_converted 2'
        """
        text = f"scored {self.n_scored} of {self.n_rows} rows"
        refused = [f"{k} {v}" for k, v in self.rules.items() if RULES[k][0] == "refuse"]
        changed = {k: v for k, v in self.rules.items() if RULES[k][0] == "change"}
        if refused:
            text += f"; refused {self.n_refused}: {', '.join(refused)}"
        if changed:
            text += f"; changed {max(changed.values())}: {', '.join(f'{k} {v}' for k, v in changed.items())}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "n_rows": self.n_rows, "n_scored": self.n_scored,
                "n_refused": self.n_refused, "rules": dict(self.rules), "examples": dict(self.examples)}


def _text_dtypes(schema: Schema, header: list[str]) -> dict[str, str]:
    return {c.name: "str" for c in schema.columns if c.role in _TEXT_ROLES and c.name in header}


def _as_trained(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Category and id columns given back the numeric type training read them with (integer codes
    stay integers, ``1.0`` stays ``1.0``), so that a category is spelt as the model learnt it: a
    CSV's text columns, and a Parquet file's numbers typed otherwise than the training data's."""
    for column in schema.columns:
        kind = {"int64": "i", "Int64": "i", "float64": "f", "Float64": "f"}.get(column.dtype)
        if kind is None or column.name not in frame.columns or column.role in ("datetime", "numeric"):
            continue
        s = frame[column.name]
        numbers = s if s.dtype.kind in "iuf" else pd.to_numeric(s, errors="coerce")
        if numbers[s.notna()].isna().any():
            continue  # text that is not a number: left as text (an unseen category, or an id)
        if kind == "f":
            frame[column.name] = numbers.astype(float)
        elif (numbers.dropna() % 1 == 0).all():
            frame[column.name] = numbers.astype("Int64")
    return frame


def _counted(frames: Iterator[pd.DataFrame], schema: Schema,
             n_rows: int) -> tuple[Iterator[pd.DataFrame], int, Callable[[], int]]:
    """Frames typed as training read its data, their total rows, and the rows given so far."""
    done = [0]

    def typed() -> Iterator[pd.DataFrame]:
        for frame in frames:
            done[0] += len(frame)
            yield _as_trained(frame, schema)

    return typed(), n_rows, lambda: done[0]


def _open_input(data: Any, schema: Schema, chunk_rows: int) -> tuple[Iterator[pd.DataFrame], int, Callable[[], int], str]:
    """The input's chunks, progress total and position, and its name for messages: a file, a folder or
    glob of Parquet files, or a table held in memory (pandas, Polars, pyarrow; ``as_pandas``)."""
    if not isinstance(data, (str, os.PathLike)):
        frame = as_pandas(data)
        slices = (frame.iloc[i:i + chunk_rows].copy() for i in range(0, len(frame), chunk_rows))
        return (*_counted(slices, schema, len(frame)), source_name(data))
    path = Path(data)
    if not path.is_file() and parquet_files(path) is None:
        raise DataError(f"input file '{path}' does not exist; check the path.")
    try:
        return (*_chunks(path, schema, chunk_rows), str(path))
    except pa.ArrowInvalid as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None


def _chunks(path: Path, schema: Schema, chunk_rows: int) -> tuple[Iterator[pd.DataFrame], int, Callable[[], int]]:
    """Chunks of the file as frames, the total progress units, and the units done so far."""
    suffix = "".join(path.suffixes[-2:]).lower()
    wanted = {c.name for c in schema.columns}
    files = parquet_files(path)
    if files is not None:  # a folder or glob of Parquet files, streamed as one table
        _, n_rows, parts = parquet_batches(files, sorted(wanted), chunk_rows)
        return _counted(parts, schema, n_rows)
    if suffix.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        reader = pq.ParquetFile(path)
        keep = [c for c in reader.schema_arrow.names if c in wanted]
        done = [0]

        def batches() -> Iterator[pd.DataFrame]:
            for batch in reader.iter_batches(batch_size=chunk_rows, columns=keep or None):
                done[0] += batch.num_rows
                yield _as_trained(batch.to_pandas(), schema)

        return batches(), reader.metadata.num_rows, lambda: done[0]
    if suffix.endswith((".csv", ".csv.gz", ".txt", ".tsv")):
        options = sniff_csv(path).pandas_options()  # read as training read it (mlsmith._reading)
        options.pop("low_memory")
        try:
            header = list(pd.read_csv(path, nrows=0, **options).columns)
        except (ValueError, OSError, pd.errors.ParserError) as exc:
            raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
        usecols = [c for c in header if c in wanted] or None
        handle = open(path, "rb")

        def frames() -> Iterator[pd.DataFrame]:
            try:
                with pd.read_csv(handle, usecols=usecols, dtype=_text_dtypes(schema, header), **options,
                                 chunksize=chunk_rows, compression="infer" if suffix.endswith(".gz") else None) as r:
                    for chunk in r:
                        yield _as_trained(chunk, schema)
            except (ValueError, pd.errors.ParserError) as exc:
                raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None
            finally:
                handle.close()

        return frames(), os.path.getsize(path), lambda: handle.tell() if not handle.closed else os.path.getsize(path)
    raise DataError(f"input '{path}' must end in .csv or .parquet.")


def _output_schema(model: ModelBundle, explain: bool) -> list[pa.Field]:
    """The prediction columns, typed up front: a chunk whose every row is refused writes nulls of them."""
    task = model.task
    fields = [pa.field("prediction", pa.float64() if task == "regression" else pa.array(model.classes).type)]
    if task == "binary_classification":
        fields.append(pa.field("probability", pa.float64()))
    elif task == "multiclass_classification":
        fields += [pa.field(f"probability_{label}", pa.float64())
                   for label in np.asarray(model.classes, dtype=object)]
    if explain:
        fields += [pa.field(PREFIX + c, pa.float64()) for c in model.schema.features()]
        fields.append(pa.field("top_reasons", pa.string()))
    return fields + [pa.field("reason", pa.string())]


def _id_fields(schema: Schema) -> list[pa.Field]:
    kinds = {"int64": pa.int64(), "Int64": pa.int64(), "float64": pa.float64()}
    return [pa.field(c.name, kinds.get(c.dtype, pa.string())) for c in schema.columns if c.role == "id"]


def _id_array(s: pd.Series, field_: pa.Field, path: str) -> pa.Array:
    try:
        return pa.array(s.to_numpy(), from_pandas=True).cast(field_.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise DataError(f"id column '{field_.name}' of '{path}' holds {s.dropna().iloc[0]!r}, not a value of "
                        f"type {field_.type} as in training; pass the ids the training data had.") from None


def _spread(column: pd.Series | None, scored: np.ndarray, type_: pa.DataType) -> pa.Array:
    """A column of the scored rows, placed at their rows; null at the refused ones."""
    n = len(scored)
    if column is None or not scored.any():
        return pa.nulls(n, type_)
    values = pa.array(column.to_numpy(), type=type_, from_pandas=True)
    if scored.all():
        return values
    index = np.full(n, -1)
    index[scored] = np.arange(int(scored.sum()))
    return values.take(pa.array(index, mask=index < 0))


def predict_file(
    bundle: str | Path | ModelBundle,
    input_path: Any,
    output_path: str | Path,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    explain: bool = False,
) -> BatchResult:
    """Score a CSV or Parquet file (or a folder or glob of Parquet files, or a table held in memory)
    with a bundle, in chunks; write the id columns and the predictions.

    The file is read ``chunk_rows`` rows at a time, as training read its data; each chunk passes the
    input rules serving applies (:mod:`mlsmith.deploy._rules`): a row a rule refuses keeps its
    place in the output with no prediction and a ``reason`` (e.g. ``contract: a category unseen in
    training ('Weekly')``); a value a rule changes (an infinity imputed, a time zone converted) is
    scored. The output format follows its extension (.csv or .parquet); it is written to a
    temporary name and renamed, so a failure never leaves half a file.

    Parameters
    ----------
    bundle : str, pathlib.Path or ModelBundle
        A bundle folder or a loaded :class:`ModelBundle`.
    input_path : str, pathlib.Path, pandas.DataFrame, polars.DataFrame or pyarrow.Table
        A .csv or .parquet file, a folder or glob of Parquet files (``data/*.parquet``), or a
        pandas or Polars frame or pyarrow Table.
    output_path : str or pathlib.Path
        A .csv or .parquet file.
    chunk_rows : int, default=50000
        Rows scored at a time.
    progress : callable, optional
        Called after each chunk with (done, total) — bytes for CSV, rows for Parquet.
    explain : bool, default=False
        Also write one ``contribution_<column>`` per input column and ``top_reasons`` per
        row (see :meth:`ModelBundle.explain`).

    Returns
    -------
    BatchResult
        The output path (the result is path-like), rows read and scored, rows per rule.

    Raises
    ------
    DataError
        The input cannot be read, lacks a column the model needs, or no row of it can be scored.

    Examples
    --------
    >>> predict_file("no/such/bundle", "in.csv", "out.txt")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """
    model = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    output_path = Path(output_path)
    out_kind = output_path.suffix.lower()
    if out_kind not in (".csv", ".parquet"):
        raise DataError(f"output '{output_path}' must end in .csv or .parquet.")
    frames, total, position, input_path = _open_input(input_path, model.schema, chunk_rows)
    rules = InputRules(model.schema)
    features = model.schema.features()
    ids, outputs = _id_fields(model.schema), _output_schema(model, explain)
    result = BatchResult(output_path, 0, 0)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f".{output_path.name}.tmp")
    writer = None
    gc.freeze()
    try:
        for frame in _iterate(frames, input_path):
            model.check_columns(frame)
            check = rules.check(frame[features])
            scored = check.scored
            X = frame[scored] if not scored.all() else frame
            out = model.predict(X) if len(X) else pd.DataFrame()
            if explain and len(X):
                out = pd.concat([out, model.explain(X)], axis=1)
            present = [f for f in ids if f.name in frame.columns]
            arrays = [_id_array(frame[f.name], f, input_path) for f in present]
            arrays += [_spread(out.get(f.name), scored, f.type) for f in outputs[:-1]]
            arrays.append(pa.array(check.reasons, type=pa.string()))
            table = pa.Table.from_arrays(arrays, schema=pa.schema([*present, *outputs]))
            if writer is None:
                writer = _writer(tmp, out_kind, table.schema)
            writer.write_table(table)
            result.n_rows += len(frame)
            result.n_scored += int(scored.sum())
            for rule, n in check.counts.items():
                result.rules[rule] = result.rules.get(rule, 0) + n
                if RULES[rule][0] == "refuse" and rule not in result.examples:
                    label = f"{RULES[rule][1]}"
                    result.examples[rule] = next(r for r in check.reasons if r is not None and label in r)
            if progress is not None:
                progress(position(), total)
            del frame, check, X, out, table  # free this chunk before the next one is read
            # scikit-learn's ColumnTransformer leaves a joblib Parallel in a reference cycle holding the
            # chunk's arrays: collected now, the peak stays one chunk. Cheap: what was alive before the
            # first chunk (the libraries, the model) is frozen out of the collection.
            gc.collect()
        if result.n_rows == 0:
            raise DataError(f"input file '{input_path}' has no rows to score.")
        if result.n_scored == 0:
            shown = "; ".join(result.examples.values())
            raise DataError(f"no row of '{input_path}' can be scored: {result.summary()} (e.g. {shown}); "
                            "send values of the kinds the model was trained on.")
        assert writer is not None, "a scored row was written"
        writer.close()
        os.replace(tmp, output_path)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        gc.unfreeze()
    return result


def _iterate(frames: Iterator[pd.DataFrame], path: str) -> Iterator[pd.DataFrame]:
    try:
        yield from frames
    except pa.ArrowInvalid as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}") from None


def _writer(path: Path, kind: str, schema: pa.Schema):
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    import pyarrow.csv as pcsv

    return pcsv.CSVWriter(path, schema)
