"""Planted drift on real tables: every kind of ``benchmarks/drift_planted.py`` caught, no-drift batches silent.

The fast subset of the benchmark: ISLP's Default (binary, 10,000 rows) and the 2011 Bikeshare hours
(regression, 3,000 rows) from ``tests/data``, a bundle of mlsmith's ``linear`` family on 40% of the
rows, and 1,000-row batches of unseen rows with one planted change each (two seeds). The category
frequency change (a category of ~25% of the rows halved: PSI 0.10-0.14) is the kind the PSI >= 0.1
gate used to miss about half of the time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlsmith.monitor import monitor
from mlsmith.monitor._current import counts_for
from mlsmith.monitor._drift import compare_categorical, feature_drift
from mlsmith.monitor._reference import categorical_reference, category_strings, column_reference
from mlsmith.monitor._stats import JS_BANDS, MIN_EXPECTED, chi_square, jensen_shannon, js_noise

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1)


sys.path.append(str(ROOT / "benchmarks"))  # appended: benchmarks/coverage.py must not shadow the coverage package
import drift_planted as bench  # noqa: E402

TABLES = {t.name: t for t in bench.TABLES if t.name in ("Default", "bikeshare_2011")}


@pytest.fixture(scope="module", params=sorted(TABLES))
def setup(request, tmp_path_factory):
    table = TABLES[request.param]
    train, test, pool = bench.split_population(table.load())
    bundle = bench.make_bundle(table, train, test, tmp_path_factory.mktemp(table.name) / "model")
    return table, train, pool, bundle


@pytest.mark.parametrize("kind", bench.KINDS)
def test_every_planted_kind_is_caught_and_no_drift_stays_silent(setup, kind, tmp_path):
    table, train, pool, bundle = setup
    for seed in SEEDS:
        batch = bench.plant(kind, pool.sample(bench.BATCH_ROWS, random_state=seed), train, table, seed)
        batch.to_csv(tmp_path / "batch.csv", index=False)
        result = bench.run_mlsmith(bundle, tmp_path / "batch.csv", kind, table)
        if kind == "none":
            assert not result["alarm"] and result["status"] == "ok", result
        else:
            assert result["alarm"], (kind, seed, result)
            planted = bench.planted_column(kind, table)
            others = [c for c in result["drifted"] + result["findings"] if c != planted]
            assert others == [], (kind, seed, result)  # the alarm names the planted column only


def test_a_halved_category_is_flagged_by_its_net_distance_where_psi_fell_short(setup, tmp_path):
    table, train, pool, bundle = setup
    batch = bench.plant("category_frequency", pool.sample(bench.BATCH_ROWS, random_state=0), train, table, 0)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    row = next(r for r in monitor(bundle, tmp_path / "batch.csv").features if r["name"] == bench.PLANTED[table.name][1])
    assert row["drifted"] and row["band"] == "moderate"
    assert row["psi"] < 0.2 and row["js_net"] >= 0.07  # PSI would call it small; the distance calls it moderate
    assert row["js"] == pytest.approx(float(jensen_shannon(*_shares_of(row))), rel=1e-6)


def _shares_of(row):
    """The reference and current counts behind a row's figure (no category is pooled below 13 levels)."""
    return np.asarray(row["bins"]["reference"]), np.asarray(row["bins"]["current"])


def _levels(values: pd.Series, k: int) -> pd.Series:
    """A real column cut into ``k`` equally frequent levels (Default's income: a k-category column)."""
    return pd.qcut(values, k, labels=[f"level{i:02d}" for i in range(k)]).astype(str)


def test_the_no_drift_distance_does_not_grow_with_the_number_of_categories():
    income = pd.read_csv(ROOT / "tests" / "data" / "Default.csv")["income"]
    rng = np.random.default_rng(0)
    for k in (3, 50):
        column = _levels(income, k)
        psis, distances, nets = [], [], []
        for _ in range(20):
            rows = rng.permutation(len(column))
            ref, cur = column.iloc[rows[:4000]], column.iloc[rows[4000:5000]]
            acc = counts_for(categorical_reference(category_strings(ref)))
            acc.add(cur)
            row = compare_categorical(categorical_reference(category_strings(ref)), acc)
            psis.append(row["psi"])
            distances.append(row["js"])
            nets.append(row["js_net"])
        if k == 50:  # PSI's and the raw distance's no-drift levels grow with the number of categories
            assert np.mean(psis) > 0.05 and np.mean(distances) > JS_BANDS[0]
        else:
            assert np.mean(psis) < 0.005 and np.mean(distances) < 0.03
        assert max(nets) < JS_BANDS[0] and np.mean(nets) < 0.03  # net of its noise: below the moderate band
    # The noise itself is what grows: measured, not assumed.
    assert js_noise(np.full(50, 80), 1000) > 3 * js_noise(np.full(3, 1333), 1000)


def test_a_50_level_column_halved_in_a_quarter_of_its_rows_is_flagged_and_its_noise_is_not():
    income = pd.read_csv(ROOT / "tests" / "data" / "Default.csv")["income"]
    column = _levels(income, 50)
    rows = np.random.default_rng(1).permutation(len(column))
    ref, cur = column.iloc[rows[:4000]].reset_index(drop=True), column.iloc[rows[4000:5000]].reset_index(drop=True)
    reference = {"c": column_reference(ref, "categorical")}
    top = bench.categories_to_halve(ref)  # the 12 most frequent levels, 25% of the rows
    moved = cur.isin(top).to_numpy() & (np.random.default_rng(2).random(len(cur)) < 0.5)
    others = sorted(set(ref) - set(top))
    shifted = cur.where(~moved, pd.Series(np.random.default_rng(3).choice(others, moved.sum()), index=cur.index[moved]))
    for current, expected in ((cur, False), (shifted, True)):
        counts = {"c": counts_for(reference["c"])}
        counts["c"].add(current)
        [row] = feature_drift(reference, counts)
        assert row["drifted"] is expected, row


def test_rare_categories_are_pooled_so_the_test_keeps_its_false_alarm_rate():
    """Default's income cut into 10 common levels (90% of rows) and 100 rare ones (0.1% each), 150 current rows."""
    income = pd.read_csv(ROOT / "tests" / "data" / "Default.csv")["income"]
    edges = np.quantile(income, np.r_[np.linspace(0, 0.9, 11), np.linspace(0.9, 1, 101)[1:]])
    column = pd.cut(income, np.unique(edges), include_lowest=True).astype(str)
    rng = np.random.default_rng(0)
    raw, pooled = [], []
    for _ in range(300):
        rows = rng.permutation(len(column))
        ref = column.iloc[rows[:5000]].value_counts()
        cur = column.iloc[rows[5000:5150]].value_counts().reindex(ref.index, fill_value=0)
        raw.append(chi_square(ref, cur)[1] < 0.05)
        pooled.append(chi_square(ref, cur, MIN_EXPECTED)[1] < 0.05)
    assert np.mean(raw) > 0.15  # the plain test, on mostly empty cells, cries wolf
    assert np.mean(pooled) < 0.08  # pooled: about its 5%


def test_a_column_of_more_categories_than_the_reference_keeps_is_not_flagged_without_drift():
    """Default's income cut into 1,500 levels of ~7 rows: 4,000 training rows keep their 1,000 most frequent."""
    income = pd.read_csv(ROOT / "tests" / "data" / "Default.csv")["income"]
    column = pd.qcut(income, 1500, labels=False).astype(str)
    for seed in range(3):
        rows = np.random.default_rng(seed).permutation(len(column))
        reference = {"c": column_reference(column.iloc[rows[:4000]], "categorical")}
        counts = {"c": counts_for(reference["c"])}
        counts["c"].add(column.iloc[rows[4000:5000]])
        [row] = feature_drift(reference, counts)
        assert reference["c"]["other"] > 600 and not row["drifted"], row
