from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._columns import parse_dates
from ._base import _Transformer, resolve_pairs

__all__ = ["DateFeatures", "ElapsedDays"]

#: Every part DateFeatures can extract; ``hour`` only for columns that carry a time of day.
PARTS = ("year", "month", "day", "dayofweek", "is_weekend", "days", "hour")


class DateFeatures(_Transformer):
    """Expand date columns into numeric parts: year, month, day, day of week, weekend, days, hour.

    ``days`` is the number of days since 1970-01-01, a continuous trend term; ``hour`` is produced
    only for columns whose training values carry a time of day. Strings are parsed with
    :func:`pandas.to_datetime`; unparseable values become missing.

    Parameters
    ----------
    holidays_country : str or None, default=None
        ISO country code (e.g. ``"US"``); when set, an ``is_holiday`` column is added from the
        ``holidays`` package's calendar.
    parts : tuple of str or None, default=None
        The parts to extract (see ``PARTS``); ``None`` means all of them.

    Examples
    --------
    >>> X = pd.DataFrame({"signup": ["2024-01-06", "2024-07-04"]})
    >>> DateFeatures(holidays_country="US").fit_transform(X).tolist()
    [[2024.0, 1.0, 6.0, 5.0, 1.0, 19728.0, 0.0], [2024.0, 7.0, 4.0, 3.0, 0.0, 19908.0, 1.0]]
    >>> DateFeatures(parts=("days",)).fit(X).get_feature_names_out().tolist()
    ['signup_days']
    """

    def __init__(self, *, holidays_country: str | None = None, parts: tuple[str, ...] | None = None):
        self.holidays_country = holidays_country
        self.parts = parts

    def fit(self, X, y=None):
        unknown = set(self.parts or ()) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown date parts {sorted(unknown)}; choose from {', '.join(PARTS)}.")
        frame = self._frame(X, reset=True)
        self.has_time_ = [_has_time(_parse(frame[c])) for c in frame]
        return self

    def transform(self, X):
        check_is_fitted(self, "has_time_")
        frame = self._frame(X, reset=False)
        blocks = []
        for column, has_time in zip(frame.columns, self.has_time_):
            d = _parse(frame[column])
            values = {
                "year": d.dt.year, "month": d.dt.month, "day": d.dt.day, "dayofweek": d.dt.dayofweek,
                "is_weekend": (d.dt.dayofweek >= 5).where(d.notna()),
                "days": (d - pd.Timestamp("1970-01-01")).dt.days, "hour": d.dt.hour,
            }
            parts = {p: values[p] for p in self._parts(has_time)}
            if self.holidays_country:
                parts["is_holiday"] = _holidays(d, self.holidays_country)
            blocks.append(pd.DataFrame(parts).astype(float).to_numpy())
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "has_time_")
        names = []
        for column, has_time in zip(self._names_in(input_features), self.has_time_):
            parts = self._parts(has_time) + (["is_holiday"] if self.holidays_country else [])
            names += [f"{column}_{p}" for p in parts]
        return np.asarray(names, dtype=object)

    def _parts(self, has_time: bool) -> list[str]:
        return [p for p in (self.parts or PARTS) if p != "hour" or has_time]


class ElapsedDays(_Transformer):
    """Days elapsed between pairs of date columns (later minus earlier), fractional when timed.

    Parameters
    ----------
    pairs : list of (start, end), default=None
        Column names (DataFrame input) or positions; ``None``: every pair ``(i, j)``, ``i < j``.

    Examples
    --------
    >>> X = pd.DataFrame({"signup": ["2024-01-01", "2024-02-01"], "churn": ["2024-01-31", None]})
    >>> ElapsedDays().fit_transform(X).ravel().tolist()
    [30.0, nan]
    """

    def __init__(self, *, pairs=None):
        self.pairs = pairs

    def fit(self, X, y=None):
        self._frame(X, reset=True)
        self.pairs_ = resolve_pairs(self.pairs, self._names_in())
        return self

    def transform(self, X):
        check_is_fitted(self, "pairs_")
        frame = self._frame(X, reset=False)
        out = np.empty((len(frame), len(self.pairs_)))
        for k, (i, j) in enumerate(self.pairs_):
            delta = _parse(frame.iloc[:, j]) - _parse(frame.iloc[:, i])
            out[:, k] = (delta / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
        return out

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "pairs_")
        names = self._names_in(input_features)
        return np.asarray([f"days_{names[i]}_to_{names[j]}" for i, j in self.pairs_], dtype=object)


def _has_time(d: pd.Series) -> bool:
    d = d.dropna()  # NaT != NaT: a missing value must not count as a time of day
    return bool((d.dt.floor("D") != d).any())


_parse = parse_dates


def _holidays(d: pd.Series, country: str) -> pd.Series:
    import holidays

    years = sorted(int(y) for y in d.dt.year.dropna().unique())
    calendar = holidays.country_holidays(country, years=years)
    days = set(pd.to_datetime(list(calendar)))
    return d.dt.normalize().isin(days).astype(float).where(d.notna())
