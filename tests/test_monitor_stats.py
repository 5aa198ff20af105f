import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlsmith._bootstrap import paired_gain
from mlsmith.monitor._current import CategoricalCounts, NumericCounts
from mlsmith.monitor._drift import compare_categorical, compare_numeric
from mlsmith.monitor._reference import categorical_reference, category_strings, numeric_reference
from mlsmith.monitor._stats import GRID_SIZE, chi_square, holm, ks_from_counts, psi


def _counts(values: np.ndarray, points, chunk: int = 333) -> NumericCounts:
    acc = NumericCounts(points)
    for start in range(0, len(values), chunk):
        acc.add(pd.Series(values[start:start + chunk]))
    return acc


@pytest.mark.parametrize("n_ref, n_cur, shift", [(500, 700, 0.0), (3000, 1200, 0.3), (50, 4000, 1.0)])
def test_ks_equals_scipy_when_the_reference_is_exact(n_ref, n_cur, shift):
    rng = np.random.default_rng(n_ref)
    # a column of at most 20 levels (here half-points): stored as its exact histogram
    ref = np.clip(np.round(rng.normal(size=n_ref) * 2) / 2, -4.5, 4.5)
    cur = np.round(rng.normal(shift, 1.2, size=n_cur) * 2) / 2
    summary = numeric_reference(ref)
    assert summary["exact"]
    acc = _counts(cur, summary["points"])
    d, p = ks_from_counts(summary["cum"], summary["n"], acc.le, acc.lt, acc.n)
    expected = stats.ks_2samp(ref, cur, method="asymp")
    assert d == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_on_a_quantile_grid_is_within_its_resolution():
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=40_000), rng.normal(0.05, 1, size=30_000)
    summary = numeric_reference(ref)
    assert not summary["exact"] and len(summary["points"]) <= GRID_SIZE + 1
    acc = _counts(cur, summary["points"], chunk=7000)
    d, _ = ks_from_counts(summary["cum"], summary["n"], acc.le, acc.lt, acc.n)
    expected = stats.ks_2samp(ref, cur).statistic
    assert expected - 1.5 / GRID_SIZE <= d <= expected + 1e-12


def test_chi_square_equals_scipy_contingency():
    ref, cur = [120, 80, 40, 0, 10], [100, 95, 30, 0, 25]
    stat, p, dof = chi_square(ref, cur)
    expected = stats.chi2_contingency(np.array([ref, cur])[:, [0, 1, 2, 4]], correction=False)
    assert (stat, p, dof) == pytest.approx((expected.statistic, expected.pvalue, expected.dof))


def test_categorical_comparison_counts_unseen_categories_and_matches_scipy():
    ref = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20 + [None] * 5)
    cur = pd.Series(["a"] * 40 + ["b"] * 30 + ["d"] * 25 + [None] * 10)
    acc = CategoricalCounts()
    acc.add(cur[:33])
    acc.add(cur[33:])
    row = compare_categorical(categorical_reference(category_strings(ref)), acc)
    assert row["unseen"] == ["d"] and row["unseen_rows"] == 25
    table = np.array([[50, 30, 20, 0], [40, 30, 0, 25]])  # a, b, c, other/unseen
    expected = stats.chi2_contingency(table, correction=False)
    assert row["statistic"] == pytest.approx(expected.statistic) and row["p_value"] == pytest.approx(expected.pvalue)
    shares_r, shares_c = table[0] / 100, table[1] / 95
    shares_r, shares_c = np.clip(shares_r, 1e-4, None), np.clip(shares_c, 1e-4, None)
    assert row["psi"] == pytest.approx(np.sum((shares_c - shares_r) * np.log(shares_c / shares_r)))


def test_numeric_psi_uses_reference_deciles_and_matches_a_direct_computation():
    rng = np.random.default_rng(2)
    ref, cur = rng.gamma(2.0, size=20_000), rng.gamma(2.4, size=15_000)
    summary = numeric_reference(ref)
    row = compare_numeric(summary, _counts(cur, summary["points"], chunk=4096))
    edges = [summary["points"][i] for i in summary["edges"]]
    assert edges == pytest.approx(np.quantile(ref, np.arange(1, 10) / 10), abs=0.02)
    bins = [-np.inf, *edges, np.inf]
    r = pd.Series(pd.cut(ref, bins)).value_counts(sort=False).to_numpy() / len(ref)
    c = pd.Series(pd.cut(cur, bins)).value_counts(sort=False).to_numpy() / len(cur)
    assert row["psi"] == pytest.approx(np.sum((c - r) * np.log(c / r)))
    assert row["bins"]["reference"] == pytest.approx(r) and row["bins"]["current"] == pytest.approx(c)
    assert row["out_of_range"] == int((cur < ref.min()).sum() + (cur > ref.max()).sum())


def test_psi_bands_on_known_values():
    assert psi([1, 1], [1, 1]) == 0
    assert psi([50, 50], [80, 20]) == pytest.approx(0.3 * np.log(0.8 / 0.5) - 0.3 * np.log(0.2 / 0.5))


def test_holm_rejects_exactly_what_the_step_down_procedure_rejects():
    rng = np.random.default_rng(3)
    for _ in range(50):
        p = np.concatenate([rng.uniform(size=8), rng.uniform(0, 0.01, size=4)])
        alpha, m = 0.05, len(p)
        order = np.argsort(p)
        rejected = np.zeros(m, bool)
        for k, i in enumerate(order):
            if p[i] > alpha / (m - k):
                break
            rejected[i] = True
        assert np.array_equal(holm(p) < alpha, rejected)


def test_paired_gain_separates_a_real_gain_from_noise():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    good = np.where(rng.random(400) < 0.85, y, 1 - y)
    also = np.where(rng.random(400) < 0.85, y, 1 - y)
    bad = np.where(rng.random(400) < 0.6, y, 1 - y)
    acc = lambda pred: (lambda idx: np.mean(pred[idx] == y[idx], axis=1))  # noqa: E731
    clear = paired_gain(acc(bad), acc(good), 400, n_boot=400, seed=0)
    assert clear["ci_low"] > 0 and clear["gain"] == pytest.approx(np.mean(good == y) - np.mean(bad == y))
    tie = paired_gain(acc(good), acc(also), 400, n_boot=400, seed=0)
    assert tie["ci_low"] < 0 < tie["ci_high"]
    lower_is_better = paired_gain(acc(good), acc(bad), 400, greater_is_better=False, n_boot=200, seed=0)
    assert lower_is_better["ci_low"] > 0  # read as an error rate, B's lower value is the gain


def test_category_strings_read_three_and_three_point_zero_alike():
    assert category_strings(pd.Series([3.0, None, 1.0])).tolist()[::2] == ["3", "1"]
    assert category_strings(pd.Series([3, 1])).tolist() == ["3", "1"]
