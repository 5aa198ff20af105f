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


def sample(frame: pd.DataFrame, n: int = MAX_ROWS, *, seed: int) -> pd.DataFrame:
    """At most ``n`` rows, drawn without replacement with ``seed`` (the frame itself when smaller)."""
    return frame if len(frame) <= n else frame.sample(n, random_state=seed)


def encode(frames: list[pd.DataFrame], roles: dict[str, str], pool_rare: bool = True) -> list[np.ndarray]:
    """The same numeric encoding of several tables with the same columns.

    Numbers stay numbers, dates become days since the epoch, anything else becomes an integer code
    shared by all the tables (missing stays NaN). A category's code does not depend on which table
    it came from: categories are ranked by their count over all the tables (ties in a fixed, hashed
    order), and with ``pool_rare`` the values seen fewer than :data:`RARE_COUNT` times share one
    code. Codes in order of first appearance would give the values only the last table holds the
    highest codes, so a classifier tells the tables apart by any mostly-unique text column.
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
            values = _category_codes(cols, pool_rare)
        out = [np.column_stack([o, v]) for o, v in zip(out, values)]
    return out


#: With pooling, categories seen fewer times than this over all tables share one code.
RARE_COUNT = 2


def _category_codes(cols: list[pd.Series], pool_rare: bool) -> list[np.ndarray]:
    text = [c.astype(str).where(c.notna()) for c in cols]
    counts = pd.concat([t.dropna() for t in text]).value_counts()
    levels = counts.index.to_numpy(dtype=object)
    order = np.lexsort((pd.util.hash_array(levels), -counts.to_numpy()))  # by count, then a fixed hash order
    codes = pd.Series(np.arange(len(levels), dtype=float), index=levels[order])
    if pool_rare:
        rare = counts.to_numpy()[order] < RARE_COUNT
        codes[rare] = float((~rare).sum())
    return [t.map(codes).to_numpy(dtype=float, na_value=np.nan) for t in text]


def _days(t: pd.Series) -> np.ndarray:
    t = parse_dates(t)
    epoch = pd.Timestamp("1970-01-01")
    return ((t - epoch) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """A hash per row of its values (equal rows, equal keys; the index is ignored)."""
    return pd.Series(pd.util.hash_pandas_object(frame, index=False).to_numpy(), index=frame.index)
