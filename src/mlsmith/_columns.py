"""Column coercions every stage shares: one date parser, one time-zone policy, one float rule.

This module imports no stage, so every stage (split, guards, features, deploy, monitor) can use it
without a cycle.

The time-zone policy, applied on every path (training, serving, batch scoring, logging, monitoring):
a zoned timestamp is converted to UTC and its zone dropped; a naive timestamp is taken as UTC
already. So ``2013-01-01T10:00:00Z``, ``2013-01-01T11:00:00+01:00`` and ``2013-01-01 10:00:00``
are the same instant, and a column mixing zoned and naive values parses instead of failing.

The float rule: ``inf`` and ``-inf`` are missing values, and so are magnitudes beyond float32's
(1e300 is infinite to the tree libraries, which cast to float32). No estimator we ship accepts them,
and a user's infinity is nearly always a division by zero upstream, which quality reports.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TIME_ZONE_POLICY", "as_time", "evenly_spaced", "finite_float", "looks_like_dates", "naive_utc",
           "numbers_from_text", "parse_dates", "python_value", "unusable_targets"]

#: Recorded in the bundle's schema, so a reader of the bundle knows how its dates were read.
TIME_ZONE_POLICY = "utc-naive"


def evenly_spaced(values: pd.Series | pd.DataFrame, n: int) -> pd.Series | pd.DataFrame:
    """At most ``n`` rows of ``values`` at evenly spaced positions, first and last included.

    For what only needs to look at a column (its type, its rank correlations), a systematic sample
    is as good as a random one, covers a time-ordered table from end to end, and draws nothing: no
    seed reaches it and every run reads the same rows.

    Examples
    --------
    >>> evenly_spaced(pd.Series(range(10)), 4).tolist()
    [0, 3, 6, 9]
    """
    if len(values) <= n:
        return values
    return values.iloc[np.linspace(0, len(values) - 1, n).astype(int)]


def python_value(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (for JSON, YAML and messages); anything else unchanged.

    Examples
    --------
    >>> python_value(np.int64(3)), python_value(np.str_("yes")), python_value("no")
    (3, 'yes', 'no')
    """
    return value.item() if isinstance(value, np.generic) else value


def parse_dates(s: pd.Series) -> pd.Series:
    """A column as naive UTC datetimes; what does not parse becomes ``NaT``.

    Numbers are read as unix epochs in nanoseconds (pandas' rule), as before.

    Examples
    --------
    >>> parse_dates(pd.Series(["2013-01-01T10:00:00Z", "2013-01-01 11:00:00+01:00",
    ...                        "2013-01-01 10:00", "not a date"])).tolist()
    [Timestamp('2013-01-01 10:00:00'), Timestamp('2013-01-01 10:00:00'), Timestamp('2013-01-01 10:00:00'), NaT]
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.to_datetime(s, errors="coerce")
    text = s.astype("object").where(s.notna(), None)
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", utc=True)
    except (OverflowError, ValueError, TypeError):  # out-of-range years, odd objects
        parsed = pd.Series(
            [_one(v) for v in text], index=s.index, dtype="datetime64[ns, UTC]"
        )
    return parsed.dt.tz_localize(None)


def naive_utc(value: datetime) -> datetime:
    """One datetime by the time-zone policy: a zoned one in UTC without its zone; a naive one as it is.

    The scalar form of :func:`parse_dates`, for the serving path's one record at a time.

    >>> naive_utc(datetime.fromisoformat("2024-01-01T12:00:00+02:00"))
    datetime.datetime(2024, 1, 1, 10, 0)
    """
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _one(value: object) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value) if value is not None else pd.NaT
    except (OverflowError, ValueError, TypeError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    return pd.Timestamp(naive_utc(stamp)).tz_localize("UTC")


def looks_like_dates(sample: pd.Series) -> bool:
    """Whether strings look like dates: each has a date-like pattern and 95% parse.

    >>> looks_like_dates(pd.Series(["2024-01-31T10:00:00Z", "2024-02-01T10:00:00+02:00"]))
    True
    >>> looks_like_dates(pd.Series(["1.5", "2.25"]))
    False
    """
    text = sample.dropna().astype(str)
    if text.empty or not text.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).all():
        return False
    return bool(parse_dates(text).notna().mean() >= 0.95)


def as_time(s: pd.Series) -> pd.Series | None:
    """A column as naive UTC datetimes, or None when it does not hold dates.

    >>> as_time(pd.Series([1, 2])) is None
    True
    >>> as_time(pd.Series(["2024-01-01T00:00:00Z", None])).tolist()
    [Timestamp('2024-01-01 00:00:00'), NaT]
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        return parse_dates(s)
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return None
    if not looks_like_dates(s.dropna().head(500)):
        return None
    return parse_dates(s)


#: Past this magnitude a value is as good as infinite: the tree libraries cast to float32, where it is.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite_float(values: np.ndarray) -> np.ndarray:
    """Float values with ``inf``/``-inf`` (and magnitudes beyond float32's) turned into ``nan``.

    A copy is made only when there is such a value.

    >>> finite_float(np.array([1.0, np.inf, -np.inf, 1e300])).tolist()
    [1.0, nan, nan, nan]
    """
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        infinite = np.abs(values) > FLOAT32_MAX
    # never in place: ``to_numpy`` can return a view of the caller's frame
    return np.where(infinite, np.nan, values) if infinite.any() else values


def numbers_from_text(s: pd.Series) -> pd.Series:
    """Text as the numbers it spells: stripped, thousands separators dropped, true/false and yes/no as
    1/0; NaN where it is not a number. The one reading of numbers stored as text (training's
    ``to_float`` and the input rules of serving and batch scoring).

    >>> numbers_from_text(pd.Series([" 1,200 ", "Yes", "old", None])).tolist()
    [1200.0, 1.0, nan, nan]
    """
    text = s.astype(str).str.strip().str.lower().str.replace(",", "", regex=False)
    text = text.replace({"true": "1", "false": "0", "yes": "1", "no": "0"})
    return pd.to_numeric(text, errors="coerce").astype(float)


def unusable_targets(target: pd.Series) -> pd.Series:
    """Rows whose target cannot be learned from: missing, or infinite by the float rule in a numeric target.

    >>> unusable_targets(pd.Series([1.0, None, float("inf"), -float("inf"), 1e300, 2.0])).tolist()
    [False, True, True, True, True, False]
    """
    unusable = target.isna()
    if pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        unusable |= np.isnan(finite_float(target.to_numpy(dtype=float, na_value=np.nan)))
    return unusable
