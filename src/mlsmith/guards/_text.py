"""Text columns that spell out the answer: a class name or the target's value written in a free-text note."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from .._findings import Finding
from ._frame import roles_of, sample

__all__ = ["check_text_leakage"]

#: A note holds its own row's answer in at least this share of rows ...
TEXT_SHARE = 0.2
#: ... and this much more often than it holds another row's answer (the rows' answers shuffled).
TEXT_EXCESS = 0.15
#: Two numbers within this relative difference are the same value written with fewer digits.
NUMBER_TOLERANCE = 5e-3
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"[^\W_]+(?:[.'-][^\W_]+)*", re.UNICODE)


def check_text_leakage(frame: pd.DataFrame, labels: pd.Series, task: str, roles: dict[str, str] | None = None,
                       *, seed: int) -> list[Finding]:
    """Flag text columns whose words hold the row's class name, or whose numbers hold its target value.

    Free text (a note, a comment) is mostly unique per row, so the single-feature checks, which learn a
    mean target per distinct value, learn nothing from it. Here each row's own answer is looked for in
    its text — the class name as a word (case-insensitive), or a number equal to the target to
    :data:`NUMBER_TOLERANCE` — and the share of rows that hold it is compared with the share that
    hold another row's answer (for classes: the other classes' rows holding the name; for a
    target value: the values shuffled over the rows). The rule learns nothing from the rows, so it needs no held-out fold.

    Parameters
    ----------
    frame
        The training features.
    labels
        The training target as written in the data (class names, not codes), aligned with ``frame``.
    task
        The problem's task type.
    roles
        Column roles; text, categorical and id columns holding spaces are looked at.
    seed
        The sample's seed and the shuffle's (the workflow passes the spec's).
    """
    roles = roles_of(frame, roles)
    labels = labels.loc[frame.index]
    keep = labels.notna()
    frame, labels = sample(frame[keep], seed=seed), labels[keep]
    labels = labels.loc[frame.index]
    shuffled = labels.sample(frac=1.0, random_state=seed).to_numpy()
    findings = []
    for column in frame.columns:
        if roles[column] not in ("text", "categorical", "id"):
            continue
        text = frame[column].astype(str).where(frame[column].notna(), "")
        if text.str.contains(" ").mean() < 0.5:  # words, not codes or names
            continue
        holds = _holds(text, labels.to_numpy(), task)
        own, other = _shares(holds, labels.to_numpy(), shuffled, task)
        if own >= TEXT_SHARE and own - other >= TEXT_EXCESS:
            what = "the row's target value" if task == "regression" else "the row's class name"
            findings.append(Finding(
                "target_leakage", "error",
                f"Text column '{column}' holds {what} in {own:.0%} of rows (another row's in {other:.0%}): the note "
                "was written knowing the answer.",
                {"column": column, "relation": "text holds the target", "share_own": round(own, 4),
                 "share_shuffled": round(other, 4), "limit": TEXT_SHARE, "n_rows_checked": len(frame)},
                f"Add '{column}' to data.drop unless the text is written before the outcome is known.",
            ))
    return findings


def _shares(holds, labels: np.ndarray, shuffled: np.ndarray, task: str) -> tuple[float, float]:
    """The share of rows holding their own answer and the share holding another's.

    For classes both are averaged over the classes (the rows of a class holding its name, against the
    other rows holding it), so a majority class written in most notes is not what a shuffle also gives.
    """
    if task == "regression":
        return float(holds(labels).mean()), float(holds(shuffled).mean())
    own, other = [], []
    for c in pd.unique(labels):
        hit = holds(np.full(len(labels), c, dtype=object))
        mine = labels == c
        if mine.all():
            continue
        own.append(hit[mine].mean())
        other.append(hit[~mine].mean())
    return (float(np.mean(own)), float(np.mean(other))) if own else (0.0, 0.0)


def _holds(text: pd.Series, labels: np.ndarray, task: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function from answers (one per row) to whether each row's text holds that answer."""
    if task == "regression":
        numbers = [np.array([float(n) for n in _NUMBER.findall(t.replace(',', ''))]) for t in text]

        def holds_number(values: np.ndarray) -> np.ndarray:
            v = values.astype(float)
            return np.array([bool(ns.size) and bool(np.any(np.abs(ns - x) <= NUMBER_TOLERANCE * max(abs(x), 1e-9)))
                             for ns, x in zip(numbers, v)])
        return holds_number
    words = [set(_TOKEN.findall(t.lower())) for t in text]

    def holds_word(values: np.ndarray) -> np.ndarray:
        return np.array([str(v).lower() in w for w, v in zip(words, values)])
    return holds_word
