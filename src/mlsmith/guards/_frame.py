"""Shared helpers: column roles, sampling and a numeric encoding of mixed tables for the guards."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._columns import as_time, parse_dates
from ..data import _infer_role
from ..preprocess import to_float

#: Guards look at no more rows than this per table, so they cost seconds on any data size.
MAX_ROWS = 5000


def roles_of(frame: pd.DataFrame, roles: dict[str, str] | None = None) -> dict[str, str]:
    """Each column's role: from ``roles`` where given, else inferred as the schema would."""
    roles = dict(roles or {})
    return {c: roles.get(c) or _infer_role(str(c), frame[c], len(frame))[0] for c in frame.columns}


def sample(frame: pd.DataFrame, n: int = MAX_ROWS, seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows, drawn without replacement with ``seed`` (the frame itself when smaller)."""
    return frame if len(frame) <= n else frame.sample(n, random_state=seed)


def encode(frames: list[pd.DataFrame], roles: dict[str, str]) -> list[np.ndarray]:
    """The same numeric encoding of several tables with the same columns.

    Numbers stay numbers, dates become days since the epoch, anything else becomes an integer code
    shared by all the tables (missing stays NaN).
    """
    out = [np.empty((len(f), 0)) for f in frames]
    for column, role in roles.items():
        cols = [f[column] for f in frames]
        if role in ("numeric", "boolean"):
            values = [to_float(c.to_frame())[:, 0] for c in cols]
        elif role == "datetime":
            times = [as_time(c) for c in cols]
            values = [_days(t) if t is not None else np.full(len(c), np.nan) for t, c in zip(times, cols)]
        else:
            levels = pd.Index(pd.concat([c.dropna().astype(str) for c in cols]).unique())
            values = [_codes(c, levels) for c in cols]
        out = [np.column_stack([o, v]) for o, v in zip(out, values)]
    return out


def _days(t: pd.Series) -> np.ndarray:
    t = parse_dates(t)
    epoch = pd.Timestamp("1970-01-01")
    return ((t - epoch) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def _codes(s: pd.Series, levels: pd.Index) -> np.ndarray:
    codes = levels.get_indexer(s.astype(str)).astype(float)
    codes[s.isna().to_numpy()] = np.nan
    return codes


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """A hash per row of its values (equal rows, equal keys; the index is ignored)."""
    return pd.Series(pd.util.hash_pandas_object(frame, index=False).to_numpy(), index=frame.index)
