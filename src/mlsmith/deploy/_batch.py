"""Batch scoring of a CSV or Parquet file in chunks, so memory stays flat however large the file."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa

from ..data import Schema
from ..exceptions import DataError
from ._bundle import ModelBundle

__all__ = ["predict_file"]

#: Rows scored at a time.
CHUNK_ROWS = 50_000
Progress = Callable[[int, int], object]


def _arrow_types(schema: Schema) -> dict[str, pa.DataType]:
    """Column types fixed up front, so a CSV chunk never infers a type its predecessors did not."""
    types = {}
    for column in schema.columns:
        if column.role == "numeric" and column.dtype.startswith(("int", "float", "Int", "Float")):
            types[column.name] = pa.float64()
        elif column.role == "id" and column.dtype.startswith(("int", "Int")):
            types[column.name] = pa.int64()
        elif column.dtype == "bool":
            types[column.name] = pa.bool_()
        else:
            types[column.name] = pa.string()
    return types


def _chunks(path: Path, schema: Schema, chunk_rows: int) -> tuple[Iterator[pa.RecordBatch], int, Callable[[], int]]:
    """Record batches of the file, the total progress units, and the units done so far."""
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        reader = pq.ParquetFile(path)
        done = [0]

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader.iter_batches(batch_size=chunk_rows):
                done[0] += batch.num_rows
                yield batch

        return batches(), reader.metadata.num_rows, lambda: done[0]
    if suffix.endswith(".csv"):
        import pyarrow.csv as pcsv

        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
        types = {k: v for k, v in _arrow_types(schema).items() if k in header}
        # Blocks of about chunk_rows rows (pyarrow cuts them at row boundaries), read one at a time:
        # a threaded reader reads ahead, and its buffers would grow with the file.
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        row_bytes = max(1, len(head) // max(1, head.count(b"\n")))
        options = pcsv.ReadOptions(block_size=max(1 << 12, row_bytes * chunk_rows), use_threads=False)
        handle = pa.OSFile(str(path), "rb")
        reader = pcsv.open_csv(handle, read_options=options, convert_options=pcsv.ConvertOptions(column_types=types))

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                handle.close()

        return batches(), os.path.getsize(path), handle.tell
    raise DataError(f"input '{path}' must end in .csv or .parquet.")


def predict_file(
    bundle: str | Path | ModelBundle,
    input_path: str | Path,
    output_path: str | Path,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    explain: bool = False,
) -> Path:
    """Score a CSV or Parquet file with a bundle, in chunks; write the id columns and the predictions.

    The file is read ``chunk_rows`` rows at a time (pyarrow), each chunk is scored and appended to
    the output, so memory follows the chunk, not the file. The output format follows its extension
    (.csv or .parquet); it is written to a temporary name and renamed, so a failure never leaves
    half a file.

    Parameters
    ----------
    bundle : a bundle folder or a loaded :class:`ModelBundle`.
    input_path, output_path : .csv or .parquet files.
    chunk_rows : rows scored at a time.
    progress : called after each chunk with (done, total) — bytes for CSV, rows for Parquet.
    explain : also write one ``contribution_<column>`` per input column and ``top_reasons`` per
        row (see :meth:`ModelBundle.explain`).

    Examples
    --------
    >>> predict_file("no/such/bundle", "in.csv", "out.txt")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """
    model = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    input_path, output_path = Path(input_path), Path(output_path)
    out_kind = output_path.suffix.lower()
    if out_kind not in (".csv", ".parquet"):
        raise DataError(f"output '{output_path}' must end in .csv or .parquet.")
    if not input_path.is_file():
        raise DataError(f"input file '{input_path}' does not exist; check the path.")
    try:
        batches, total, position = _chunks(input_path, model.schema, chunk_rows)
    except pa.ArrowInvalid as exc:
        raise DataError(f"could not read '{input_path}': {str(exc).splitlines()[0]}") from None
    keep = [c.name for c in model.schema.columns if c.role == "id"]
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f".{output_path.name}.tmp")
    writer = None
    try:
        for batch in _iterate(batches, input_path):
            frame = batch.to_pandas()
            scored = model.predict(frame)
            if explain:
                scored = pd.concat([scored, model.explain(frame)], axis=1)
            result = pa.Table.from_pandas(
                pd.concat([frame[[c for c in keep if c in frame.columns]], scored], axis=1), preserve_index=False)
            if writer is None:
                schema = result.schema
                writer = _writer(tmp, out_kind, schema)
            writer.write_table(result.cast(schema))
            if progress is not None:
                progress(position(), total)
            del frame, scored, result  # free this chunk before the next one is read
        if writer is None:  # an empty input still gets a header
            raise DataError(f"input file '{input_path}' has no rows to score.")
        writer.close()
        os.replace(tmp, output_path)
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return output_path


def _iterate(batches: Iterator[pa.RecordBatch], path: Path) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    except pa.ArrowInvalid as exc:
        raise DataError(f"could not read '{path}': {str(exc).splitlines()[0]}; the rows must match the training "
                        "columns' types.") from None


def _writer(path: Path, kind: str, schema: pa.Schema):
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    import pyarrow.csv as pcsv

    return pcsv.CSVWriter(path, schema)
