from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

_PARTS = ("year", "month", "day", "dayofweek", "hour", "is_weekend", "days")


class DateFeatures(TransformerMixin, BaseEstimator):
    """Expand date columns into numeric parts: year, month, day, day of week, hour, weekend, days.

    ``days`` is the number of days since 1970-01-01, a continuous trend term; ``hour`` is produced
    only for columns whose training values carry a time of day. Strings are parsed with
    :func:`pandas.to_datetime`; unparseable values become missing.

    Parameters
    ----------
    holidays_country : str or None, default=None
        ISO country code (e.g. ``"US"``); when set, an ``is_holiday`` column is added from the
        ``holidays`` package's calendar.

    Examples
    --------
    >>> X = pd.DataFrame({"signup": ["2024-01-06", "2024-03-11"]})
    >>> DateFeatures().fit_transform(X)[:, :6].tolist()
    [[2024.0, 1.0, 6.0, 5.0, 1.0, 19728.0], [2024.0, 3.0, 11.0, 0.0, 0.0, 19793.0]]
    """

    def __init__(self, holidays_country: str | None = None):
        self.holidays_country = holidays_country

    def fit(self, X, y=None):
        frame = self._frame(X, reset=True)
        self.has_time_ = [bool((_parse(frame[c]).dt.floor("D") != _parse(frame[c])).any()) for c in frame]
        return self

    def transform(self, X):
        check_is_fitted(self, "has_time_")
        frame = self._frame(X, reset=False)
        blocks = []
        for column, has_time in zip(frame.columns, self.has_time_):
            d = _parse(frame[column])
            parts = {
                "year": d.dt.year, "month": d.dt.month, "day": d.dt.day, "dayofweek": d.dt.dayofweek,
                "is_weekend": (d.dt.dayofweek >= 5).where(d.notna()),
                "days": (d - pd.Timestamp("1970-01-01")).dt.days,
            }
            if has_time:
                parts["hour"] = d.dt.hour
            if self.holidays_country:
                parts["is_holiday"] = _holidays(d, self.holidays_country)
            blocks.append(pd.DataFrame(parts).astype(float).to_numpy())
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "has_time_")
        names = []
        for column, has_time in zip(self.feature_names_in_, self.has_time_):
            parts = ["year", "month", "day", "dayofweek", "is_weekend", "days"]
            parts += ["hour"] if has_time else []
            parts += ["is_holiday"] if self.holidays_country else []
            names += [f"{column}_{p}" for p in parts]
        return np.asarray(names, dtype=object)

    def _frame(self, X, reset: bool) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            X = pd.DataFrame(np.asarray(X, dtype=object), columns=[f"x{i}" for i in range(np.shape(X)[1])])
        if reset:
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
            self.n_features_in_ = X.shape[1]
        return X


def _parse(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    return pd.to_datetime(s, errors="coerce", format="mixed")


def _holidays(d: pd.Series, country: str) -> pd.Series:
    import holidays

    years = sorted(int(y) for y in d.dt.year.dropna().unique())
    calendar = holidays.country_holidays(country, years=years)
    days = set(pd.to_datetime(list(calendar)))
    return d.dt.normalize().isin(days).astype(float).where(d.notna())
