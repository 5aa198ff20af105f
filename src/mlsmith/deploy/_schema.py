"""The request contract of a served bundle, built from its input schema.

A record is a JSON object with one key per feature column. Types follow the column's role
(numbers for numeric columns, one of the training categories for categorical ones, ISO 8601 dates
or date-times for date columns, read as datetimes, a time zone converted to UTC); a column that had no missing values in training is required and not null, the
others may be left out or null (the pipeline imputes them). Id columns may be sent and are logged;
any other key is refused, so a misspelt field is never silently imputed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from typing_extensions import NotRequired, Required, TypedDict

from ..data import ColumnInfo, Schema
from ..runs import to_jsonable

__all__ = ["RecordValidator", "record_type"]


def _number_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _column_type(column: ColumnInfo) -> Any:
    if column.role == "numeric":
        kind: Any = Annotated[float, Strict(), Field(allow_inf_nan=False)]
    elif column.role in ("categorical", "boolean"):
        complete = column.categories and len(column.categories) >= column.n_unique
        kind = Literal[tuple(column.categories)] if complete else Annotated[str, Strict()]
        if complete and all(str(c).lstrip("-").isdigit() for c in column.categories):
            kind = Annotated[kind, BeforeValidator(_number_as_text)]  # integer codes may come as numbers
        if column.role == "boolean":
            kind = Union[Annotated[bool, Strict()], kind]
    elif column.role == "datetime":
        # parsed by pydantic's own (Rust) parser: ISO 8601 dates and date-times, or unix seconds
        kind = Annotated[datetime, WithJsonSchema({"type": "string", "format": "date",
                                                   "description": "ISO 8601 date or date-time"})]
    elif column.role == "id":
        kind = Union[Annotated[str, Strict()], Annotated[int, Strict()]]
    else:
        kind = Annotated[str, Strict()]
    if column.role == "id" or column.missing_frac > 0:
        return NotRequired[Optional[kind]]
    return Required[kind]


def record_type(schema: Schema) -> type:
    """A TypedDict of one record: the fields, types and required keys of the bundle's input.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlsmith.data import infer_schema
    >>> df = pd.DataFrame({"age": [20.0, None, 40.0], "city": ["a", "b", "a"], "y": [0, 1, 0]})
    >>> sorted(record_type(infer_schema(df, "y")).__required_keys__)
    ['city']
    """
    fields = {c.name: _column_type(c) for c in schema.columns}
    record = TypedDict("Record", fields)  # type: ignore[operator]
    record.__pydantic_config__ = ConfigDict(extra="forbid", title="Record")  # type: ignore[attr-defined]
    return record


class RecordValidator:
    """Validates request bodies (one record, or a non-empty list) straight from JSON bytes."""

    def __init__(self, schema: Schema, max_records: int = 100_000):
        record = record_type(schema)
        self.one = TypeAdapter(record)
        self.many = TypeAdapter(Annotated[list[record], Field(min_length=1, max_length=max_records)])
        self.body = TypeAdapter(Union[record, Annotated[list[record], Field(min_length=1, max_length=max_records)]])

    def validate(self, body: bytes) -> tuple[list[dict[str, Any]], bool]:
        """The records and whether the body was a list; raises ValidationError naming the field."""
        start = body.lstrip()[:1]
        if start == b"[":
            return self.many.validate_json(body), True
        return [self.one.validate_json(body)], False

    def json_schema(self) -> dict[str, Any]:
        """The body's JSON schema, with references into the OpenAPI document's components."""
        return self.body.json_schema(ref_template="#/components/schemas/{model}")


def error_details(exc: ValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 shape, ``{"type", "loc", "msg", "input"}`` per error, ``loc`` starting at 'body'."""
    out = []
    for error in exc.errors(include_url=False, include_context=False):
        loc = ["body", *error["loc"]]
        if error["type"] == "json_invalid":
            loc = ["body"]
        value = error.get("input")
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value[:1000]).decode("utf-8", "replace")
        out.append({"type": error["type"], "loc": loc, "msg": error["msg"], "input": to_jsonable(value)})
    return out
