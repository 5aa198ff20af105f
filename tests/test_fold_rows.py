"""A time-ordered split's folds reach the fits as views of the training rows, not copies (issue 19)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

from mlsmith.data import compact_categories
from mlsmith.parallel import _rows

DATA = Path(__file__).parent / "data"


def test_time_ordered_folds_are_views_and_shuffled_folds_copies():
    """ISLP's Bikeshare 2011 (hourly, in time order): each TimeSeriesSplit fold's rows share the table's
    memory (at 8 million rows a copy of a fold's rows is a gigabyte beside its fit) and are the rows
    ``iloc`` gives, index included; a shuffled fold's rows are copied, as before."""
    table = compact_categories(pd.read_csv(DATA / "bikeshare_2011.csv", parse_dates=["datetime"]), ["weathersit"])
    y = (table["bikers"] > table["bikers"].median()).to_numpy()
    for train, test in TimeSeriesSplit(n_splits=5).split(table):
        for idx in (train, test):
            rows = _rows(table, idx)
            pd.testing.assert_frame_equal(rows, table.iloc[idx])
            assert np.shares_memory(rows["temp"].to_numpy(), table["temp"].to_numpy())
    train, test = next(StratifiedKFold(5, shuffle=True, random_state=0).split(table, y))
    rows = _rows(table, train)
    pd.testing.assert_frame_equal(rows, table.iloc[train])
    assert not np.shares_memory(rows["temp"].to_numpy(), table["temp"].to_numpy())
    # a run of rows that is not in order is not a slice
    backwards = np.arange(10)[::-1]
    pd.testing.assert_frame_equal(_rows(table, backwards), table.iloc[backwards])
