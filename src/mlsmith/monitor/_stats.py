"""The statistics of monitoring, computed from counts so that neither side needs its raw rows.

A numeric column is summarised by the reference's ECDF at a grid of points (every distinct value
when there are at most :data:`EXACT_LIMIT` of them, else :data:`GRID_SIZE` quantiles) and, for
the current data, by the counts of values ``<=`` and ``<`` each grid point. From these the
Kolmogorov-Smirnov statistic is exact when the reference grid is exact (between two reference
points the reference ECDF is flat and the current one monotone, so the supremum sits at an end),
and otherwise off by at most the reference mass between two grid points (1/GRID_SIZE).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = [
    "JS_BANDS",
    "PSI_BANDS",
    "chi_square",
    "holm",
    "jensen_shannon",
    "js_band",
    "js_noise",
    "ks_from_counts",
    "psi",
    "psi_band",
]

#: Reference ECDF points stored exactly when a column has at most this many distinct values.
EXACT_LIMIT = 2000
#: Otherwise, this many quantile points.
GRID_SIZE = 1000
#: Conventional PSI bands: below 0.1 no change, 0.1-0.2 moderate, 0.2 and above significant.
PSI_BANDS = (0.1, 0.2)
#: Floor on a bin's share, so an empty bin gives a large but finite PSI term.
PSI_EPS = 1e-4
#: Bands of a categorical column's Jensen-Shannon distance net of sampling noise: below 0.07 no
#: change, 0.07-0.15 moderate, 0.15 and above significant. 0.07 is a category of 15% of rows halved,
#: or a balanced yes/no column moving to 40/60; 0.15 is about PSI 0.2 (for small changes PSI is
#: close to 8 x the squared distance).
JS_BANDS = (0.07, 0.15)
#: Expected count below which categories are pooled for the chi-square test.
MIN_EXPECTED = 5
#: Pairs of no-drift samples drawn to measure the distance's sampling noise.
NULL_DRAWS = 200
#: The noise floor is a property of the reference's counts and the current size, not of a run: the
#: same counts give the same floor in every monitor call, whatever seed the model was trained with.
NOISE_SEED = 0


def psi(reference_counts, current_counts) -> float:
    """Population stability index between two binned distributions (same bins, any totals).

    ``sum((c - r) * ln(c / r))`` over bins, with shares floored at 1e-4.

    Examples
    --------
    >>> round(psi([50, 50], [50, 50]), 6)
    0.0
    >>> round(psi([50, 50], [80, 20]), 4)
    0.4159
    """
    r = np.asarray(reference_counts, dtype=float)
    c = np.asarray(current_counts, dtype=float)
    r = np.clip(r / r.sum(), PSI_EPS, None)
    c = np.clip(c / c.sum(), PSI_EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_band(value: float | None) -> str:
    """``none`` (< 0.1), ``moderate`` (0.1 to 0.2) or ``significant`` (>= 0.2).

    Examples
    --------
    >>> psi_band(0.05), psi_band(0.15), psi_band(0.3)
    ('none', 'moderate', 'significant')
    """
    return _band(value, PSI_BANDS)


def _band(value: float | None, cuts: tuple[float, float]) -> str:
    if value is None or not np.isfinite(value) or value < cuts[0]:
        return "none"
    return "moderate" if value < cuts[1] else "significant"


def jensen_shannon(reference_counts, current_counts) -> np.ndarray:
    """Jensen-Shannon distance (natural log) between count vectors; rows of 2-d arrays are pairs.

    The square root of the mean Kullback-Leibler divergence of each side from their midpoint, as
    :func:`scipy.spatial.distance.jensenshannon`: 0 for equal shares, at most ``sqrt(ln 2)`` = 0.83
    for disjoint ones. Unlike PSI it stays finite when a category is empty on one side, and for a
    given change in shares it does not grow with the number of categories.

    Examples
    --------
    >>> float(jensen_shannon([50, 50], [50, 50]))
    0.0
    >>> from scipy.spatial import distance
    >>> bool(np.isclose(jensen_shannon([80, 20, 0], [40, 40, 20]), distance.jensenshannon([.8, .2, 0], [.4, .4, .2])))
    True
    """
    r = np.asarray(reference_counts, dtype=float)
    c = np.asarray(current_counts, dtype=float)
    r = r / r.sum(axis=-1, keepdims=True)
    c = c / c.sum(axis=-1, keepdims=True)
    m = (r + c) / 2
    divergence = (special.rel_entr(r, m).sum(axis=-1) + special.rel_entr(c, m).sum(axis=-1)) / 2
    return np.sqrt(np.clip(divergence, 0.0, None))


def js_noise(reference_counts, n_current: int, draws: int = NULL_DRAWS) -> float:
    """The Jensen-Shannon distance two samples of the same population show by chance alone.

    Both sides are drawn again from the reference's shares, with the reference's and the current
    data's sizes, ``draws`` times; the result is the root of their mean squared distance. With many
    categories and few rows this noise is large (a 51-level column on 1,000 rows: about 0.1), so a
    distance is judged net of it: ``sqrt(max(distance**2 - noise**2, 0))``. The squared distance is,
    like a chi-square statistic, close to additive (its expectation is the true divergence plus the
    noise), which is what makes the subtraction an estimate of the true distance.

    Examples
    --------
    >>> few, many = np.full(3, 1000), np.full(50, 60)
    >>> js_noise(few, 1000) < 0.04 < js_noise(many, 1000)
    True
    """
    r = np.asarray(reference_counts, dtype=float)
    n_ref = int(r.sum())
    if n_ref == 0 or n_current == 0:
        return float("nan")
    shares = r / n_ref
    rng = np.random.default_rng(NOISE_SEED)
    ref = rng.multinomial(n_ref, shares, size=draws)
    cur = rng.multinomial(int(n_current), shares, size=draws)
    return float(np.sqrt(np.mean(jensen_shannon(ref, cur) ** 2)))


def js_band(value: float | None) -> str:
    """``none`` (< 0.07), ``moderate`` (0.07 to 0.15) or ``significant`` (>= 0.15), as :func:`psi_band`.

    Examples
    --------
    >>> js_band(0.03), js_band(0.1), js_band(0.2)
    ('none', 'moderate', 'significant')
    """
    return _band(value, JS_BANDS)


def ks_from_counts(ref_cum, n_ref: int, cur_le, cur_lt, n_cur: int) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value from ECDF counts.

    Parameters
    ----------
    ref_cum
        Reference count of values ``<=`` each grid point (the last equals ``n_ref``).
    cur_le, cur_lt
        Current counts of values ``<=`` and ``<`` each grid point.

    Returns
    -------
    (statistic, p-value); the p-value is scipy's ``ks_2samp(method="asymp")``:
    ``kstwo.sf(D, round(n m / (n + m)))``.

    Examples
    --------
    >>> a, b = np.array([1., 2., 3.]), np.array([2., 3., 4., 5.])
    >>> pts = np.unique(a)
    >>> d, _ = ks_from_counts(np.searchsorted(a, pts, "right"), 3, np.searchsorted(np.sort(b), pts, "right"),
    ...                       np.searchsorted(np.sort(b), pts, "left"), 4)
    >>> bool(round(d, 4) == round(stats.ks_2samp(a, b).statistic, 4))
    True
    """
    if n_ref == 0 or n_cur == 0:
        return float("nan"), float("nan")
    r = np.asarray(ref_cum, dtype=float) / n_ref
    le = np.asarray(cur_le, dtype=float) / n_cur
    lt = np.asarray(cur_lt, dtype=float) / n_cur
    r_before = np.concatenate([[0.0], r[:-1]])
    d = float(max(np.max(np.abs(r - le)), np.max(np.abs(r_before - lt)), 1.0 - le[-1]))
    en = n_ref * n_cur / (n_ref + n_cur)
    p = float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))
    return d, p


def chi_square(reference_counts, current_counts, min_expected: float = 0.0) -> tuple[float, float, int]:
    """Chi-square test of homogeneity on a 2 x k table of category counts (no continuity correction).

    Categories empty on both sides are dropped. Equals
    ``scipy.stats.chi2_contingency([ref, cur], correction=False)``. With ``min_expected``, the
    categories whose expected count on either side is below it are first pooled into one
    (Cochran's rule, 5): the chi-square approximation needs expected counts of about 5, and a
    column of many rare categories otherwise rejects far too often with no drift at all (baseball's
    132 teams, 300 current rows: 19% of no-drift samples at the 5% level; pooled, 5%).

    Examples
    --------
    >>> stat, p, dof = chi_square([30, 20, 10], [25, 25, 10])
    >>> dof, round(stat, 4)
    (2, 1.0101)
    >>> chi_square([500, 400, 3, 2, 1], [50, 40, 1, 2, 0], min_expected=5)[2]  # three rare categories pooled
    2
    """
    table = np.vstack([np.asarray(reference_counts, float), np.asarray(current_counts, float)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0, 0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    sparse = expected.min(axis=0) < min_expected
    if sparse.sum() > 1:
        table = np.column_stack([table[:, ~sparse], table[:, sparse].sum(axis=1)])
        if table.shape[1] < 2:
            return 0.0, 1.0, 0
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, float(stats.chi2.sf(stat, dof)), dof


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control); NaN stays NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
