"""Planted mistakes: each kind of issue 23 planted into a real table, plus clean and no-signal controls.

A plant takes a table (already cut to at most :data:`MAX_ROWS` rows), its target and task, and a
seed, and returns the planted table. Every plant is deterministic given the seed. The kinds:

- ``copy97``: a column equal to the class in 97 % of rows (another class elsewhere); regression:
  the target plus noise of 1 % of its standard deviation.
- ``nonlinear``: a deterministic nonlinear function of the target and one feature:
  ``x · (1 + g(y))²``, with g the class code or the target's rank in [0, 1].
- ``difference``: two columns whose difference is the target's code (each alone a random walk).
- ``text_label``: a free-text note column holding the class name (regression: the target's value)
  in 80 % of rows, among filler words.
- ``twice``: every row twice.
- ``near_copies``: 30 % of rows copied with 1e-6 relative noise on the numbers.
- ``entity``: each row becomes an entity of 3-6 rows (numbers jittered by 1 %, same target), with
  an entity id column, and no group declared.
- ``date_trend``: a date column trending with the target (a shift of 1,500 days over the target's range,
  noise of 1,000 days: a trend, not a copy; rows shuffled).
- controls: ``clean`` (the table as it is), ``date_control`` (a random date), ``id_control``
  (a shuffled distinct id).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

#: Tables are cut to this many rows (a seeded sample) so the benchmark stays cheap.
MAX_ROWS = 2000
KINDS = ("copy97", "nonlinear", "difference", "text_label", "twice", "near_copies", "entity", "date_trend")
CONTROLS = ("clean", "date_control", "id_control")
_WORDS = ("called", "customer", "visit", "notes", "follow", "up", "checked", "record", "entered", "by", "staff",
          "on", "the", "form", "reviewed", "later", "phone", "office", "weekly", "status")


def _code(y: pd.Series, task: str) -> np.ndarray:
    """The class code (classification) or the target's rank scaled to [0, 1] (regression)."""
    if task == "regression":
        return (y.rank(method="average").to_numpy() - 1) / max(len(y) - 1, 1)
    return pd.factorize(y.astype(str), sort=True)[0].astype(float)


def _numeric_feature(df: pd.DataFrame, target: str, rng: np.random.Generator) -> pd.Series:
    """A numeric feature of the table, standardised (missing where it is; a standard normal if the table has none)."""
    numbers = [c for c in df.columns if c != target and pd.api.types.is_numeric_dtype(df[c])
               and df[c].notna().mean() > 0.9 and df[c].nunique() > 10]
    if not numbers:
        return pd.Series(rng.normal(size=len(df)), index=df.index)
    x = df[numbers[int(rng.integers(len(numbers)))]].astype(float)
    return (x - x.mean()) / (x.std() or 1.0)


def copy97(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    y = df[target]
    if task == "regression":
        out["y_recorded"] = y + rng.normal(scale=0.01 * float(y.std()), size=len(y))
        return out
    labels = np.sort(y.astype(str).unique())
    copy = y.astype(str).to_numpy().copy()
    flip = rng.random(len(y)) < 0.03
    for i in np.flatnonzero(flip):
        others = labels[labels != copy[i]]
        copy[i] = others[int(rng.integers(len(others)))]
    out["y_recorded"] = copy
    return out


def nonlinear(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    x = _numeric_feature(df, target, rng)
    if x.name is None:  # the table has no usable number: the feature the function takes is added too
        out["reading"] = x
    out["score_adj"] = (x.to_numpy() + 3.0) * (1.0 + _code(df[target], task)) ** 2
    return out


def difference(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    base = np.round(rng.normal(100, 30, size=len(df)), 2)
    value = df[target].astype(float).to_numpy() if task == "regression" else _code(df[target], task)
    out["amount_start"] = base
    out["amount_end"] = base + value
    return out


def text_label(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    y = df[target]
    shown = y.map(lambda v: f"{v:.4g}") if task == "regression" else y.astype(str)
    notes = []
    for value in shown:
        words = list(rng.choice(_WORDS, size=int(rng.integers(5, 10))))
        if rng.random() < 0.8:
            words.insert(int(rng.integers(len(words) + 1)), value)
        notes.append(" ".join(words))
    out["note"] = notes
    return out


def twice(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    return pd.concat([df, df], ignore_index=True).sample(frac=1.0, random_state=int(rng.integers(2**31)))


def _jitter(df: pd.DataFrame, target: str, relative: float, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if c != target and pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c] * (1.0 + rng.normal(scale=relative, size=len(out)))
    return out


def near_copies(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    picked = df.sample(frac=0.3, random_state=int(rng.integers(2**31)))
    copies = _jitter(_floats(picked, target), target, 1e-6, rng)
    both = pd.concat([_floats(df, target), copies], ignore_index=True)
    return both.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def _floats(df: pd.DataFrame, target: str) -> pd.DataFrame:
    """Numeric features as floats, so the noise of a copy is not rounded away by an integer column."""
    out = df.copy()
    for c in out.columns:
        if c != target and pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(float)
    return out


def entity(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    base = _floats(df.sample(n=max(len(df) // 4, 30), random_state=int(rng.integers(2**31))), target)
    sizes = rng.integers(3, 7, size=len(base))
    rows = base.loc[base.index.repeat(sizes)].reset_index(drop=True)
    rows = _jitter(rows, target, 0.01, rng)
    rows.insert(0, "entity", [f"E{i:05d}" for i in np.repeat(rng.permutation(len(base)), sizes)])
    return rows.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def date_trend(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    days = _code(df[target], task)
    days = days / max(days.max(), 1e-9) * 1500 + rng.normal(scale=1000, size=len(df))
    out["recorded_on"] = (pd.Timestamp("2019-01-01") + pd.to_timedelta(np.round(days), unit="D")).strftime("%Y-%m-%d")
    return out.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def clean(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    return df.copy()


def date_control(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    days = rng.integers(0, 1500, size=len(df))
    out["recorded_on"] = (pd.Timestamp("2019-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    return out


def id_control(df: pd.DataFrame, target: str, task: str, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    out.insert(0, "record_id", rng.permutation(len(df)) + 100_000)
    return out


PLANTS: dict[str, Callable[..., pd.DataFrame]] = {name: globals()[name] for name in (*KINDS, *CONTROLS)}


def plant(kind: str, df: pd.DataFrame, target: str, task: str, seed: int = 0) -> pd.DataFrame:
    """The table cut to :data:`MAX_ROWS` rows (rows with a missing target dropped) with ``kind`` planted."""
    df = df[df[target].notna()]
    df = df.sample(MAX_ROWS, random_state=seed) if len(df) > MAX_ROWS else df
    df = df.reset_index(drop=True)
    return PLANTS[kind](df, target, task, np.random.default_rng(seed)).reset_index(drop=True)
