"""The request contract of a served bundle, built from its input schema and its input rules.

A record is a JSON object with one key per feature column. What each column accepts, and what is
refused or changed, is :mod:`mlsmith.deploy._rules` (the rules batch scoring applies too): numbers
for numeric columns (an infinity is read as missing), one of the training categories for
categorical ones, ISO 8601 dates or date-times for date columns (text, never a number), a time zone
converted to UTC and dropped at validation, so that what is scored and logged is naive UTC; a
column that had no missing values in training is required and not null, the others may be left
out or null (the pipeline imputes them). Id columns may be sent and are logged; any other key is
refused, so a misspelt field is never silently imputed.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Optional, Union

import pandas as pd
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import NotRequired, Required, TypedDict

from .._columns import FLOAT32_MAX, naive_utc, parse_dates
from ..data import Schema
from ..runs import to_jsonable
from ._rules import ColumnRule, column_rules

__all__ = ["RecordValidator", "record_type"]


def _number_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _finite_or_none(value: float | None) -> float | None:
    """Rule ``infinite_as_missing``: an infinity (by the float rule, a magnitude past float32's too) is
    missing, imputed as training imputed it (JSON's non-standard ``NaN`` is missing too)."""
    return None if value is not None and not abs(value) <= FLOAT32_MAX else value


def _present_number(value: float) -> float | None:
    """A required number: ``NaN`` is a missing value (rule ``missing_required``); infinity is imputed."""
    if math.isnan(value):
        raise PydanticCustomError("missing", "Field required: missing, and never missing in training")
    return _finite_or_none(value)


def _date(value: Any, handler: Any) -> datetime:
    """Rule ``invalid_date``: a date is text that reads as a date (``parse_dates``' reading); numbers,
    which pydantic would take for unix seconds, are refused as the batch path refuses them."""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise PydanticCustomError("datetime_type", "Input should be a date: ISO 8601 text such as 2024-01-31 "
                                                       "or 2024-01-31T10:00:00Z, not a number")
        return naive_utc(handler(value))  # a datetime built in Python; anything else gets pydantic's error
    try:
        return naive_utc(datetime.fromisoformat(value))
    except ValueError:
        pass
    stamp = parse_dates(pd.Series([value], dtype=object)).iloc[0]  # other formats training read, e.g. 01/31/2024
    if stamp is not pd.NaT:
        return stamp.to_pydatetime()
    handler(value)  # pydantic's own error, naming what is wrong with the text
    raise PydanticCustomError("datetime_from_date_parsing", "Input should be a valid datetime or date")


def _column_type(rule: ColumnRule) -> Any:
    if rule.kind == "numeric":
        check = _present_number if rule.required else _finite_or_none
        kind: Any = Annotated[float, Strict(), Field(allow_inf_nan=True), AfterValidator(check)]
    elif rule.kind in ("categorical", "boolean"):
        kind = Literal[rule.categories] if rule.categories else Annotated[str, Strict()]
        if rule.categories and all(c.lstrip("-").isdigit() for c in rule.categories):
            kind = Annotated[kind, BeforeValidator(_number_as_text)]  # integer codes may come as numbers
        if rule.kind == "boolean":
            kind = Union[Annotated[bool, Strict()], kind]
    elif rule.kind == "datetime":
        kind = Annotated[datetime, WrapValidator(_date), WithJsonSchema(
            {"type": "string", "format": "date",
             "description": "ISO 8601 date or date-time, as text; a time zone is converted to UTC"})]
    elif rule.kind == "id":
        kind = Union[Annotated[str, Strict()], Annotated[int, Strict()]]
    else:
        kind = Annotated[str, Strict()]
    if not rule.required:
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
    fields = {rule.name: _column_type(rule) for rule in column_rules(schema)}
    # The fields are the schema's, known only at run time: mypy reads a TypedDict from a literal only.
    record = TypedDict("Record", fields)  # type: ignore[misc]
    record.__pydantic_config__ = ConfigDict(extra="forbid", title="Record")  # type: ignore[attr-defined]
    return record


class RecordValidator:
    """Validates request bodies (one record, or a non-empty list) straight from JSON bytes."""

    def __init__(self, schema: Schema, max_records: int = 100_000):
        record = record_type(schema)
        # ``record`` is a type built at run time (record_type), which mypy cannot read inside a type form.
        records: Any = Annotated[list[record], Field(min_length=1, max_length=max_records)]  # type: ignore[valid-type]
        self.one: TypeAdapter[dict[str, Any]] = TypeAdapter(record)
        self.many: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(records)
        self.body: TypeAdapter[Any] = TypeAdapter(Union[record, records])  # type: ignore[arg-type]

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
