"""The corpus's fast subset: eight small real tables through ``mlsmith run`` and ``predict`` (CLI).

Binary (breast cancer, Pima), multiclass (wine, penguins with NA, vega cars with a date and a
high-cardinality name) and regression (diabetes, R's economics with a date, msleep with NA and a
high-cardinality name). Each run uses the cheap spec of ``benchmarks/corpus.py --fast`` and must
exit 0 without a traceback, ``predict`` must score every row of the table, and mlsmith's test
score must not be worse than the better plain scikit-learn reference (HistGradientBoosting, scaled
linear model with one-hot encoding; same training rows, rebuilt through mlsmith's split function)
by more than the half-width of mlsmith's own 95% interval.

The scikit-learn tables are written from scikit-learn; the five others are the CSVs in
``tests/data/corpus/`` (sources in ``tests/data/README.md``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "corpus"


def _data_file(name: str) -> Path:
    """The table's CSV: in tests/data/corpus/, or in tests/data/ when other tests read it too."""
    return DATA / f"{name}.csv" if (DATA / f"{name}.csv").is_file() else DATA.parent / f"{name}.csv"


def _load_corpus():
    spec = importlib.util.spec_from_file_location("mlsmith_corpus", ROOT / "benchmarks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus()
TABLES = {t.name: t for t in corpus.TABLES}


def test_subset_covers_every_task_and_trait() -> None:
    subset = [TABLES[name] for name in corpus.FAST_SUBSET]
    assert len(subset) == 8
    assert {t.task for t in subset} == {"binary_classification", "multiclass_classification", "regression"}
    traits = {trait for t in subset for trait in t.traits}
    assert {"NA", "date", "high-card"} <= traits
    for t in subset:  # every table is either written from scikit-learn or kept here
        assert t.source == "scikit-learn" or _data_file(t.name).is_file(), t.name


@pytest.mark.slow
@pytest.mark.parametrize("name", corpus.FAST_SUBSET)
def test_corpus_table(name: str, tmp_path: Path) -> None:
    table = TABLES[name]
    data_file = None if table.source == "scikit-learn" else _data_file(name)
    rec = corpus.run_table(table, tmp_path, fast=True, timeout_s=600, data_file=data_file)
    assert rec.run_exit == 0, rec.run_last_stderr
    assert not rec.run_traceback and not rec.predict_traceback
    assert rec.predict_exit == 0, rec.predict_last_stderr
    assert rec.predict_rows_ok
    assert rec.split_ok, rec.notes
    assert rec.ref_error == ""
    half = (rec.interval[1] - rec.interval[0]) / 2
    assert not rec.flagged, (
        f"{name}: mlsmith ({rec.family}) test {rec.metric} {rec.score:.4f} is worse than the better reference "
        f"(HGB {rec.ref_hgb:.4f}, linear {rec.ref_linear:.4f}) by {rec.gap:.4f}, more than the interval "
        f"half-width {half:.4f}"
    )


def test_compare_flags_a_gap_wider_than_the_half_width() -> None:
    rec = corpus.Record("t", "s", "regression", [], score=10.0, interval=[8.0, 12.0], greater_is_better=False,
                        ref_hgb=7.5, ref_linear=9.0)
    assert corpus.compare(rec) == (2.5, True)
    rec.ref_hgb = 8.5
    assert corpus.compare(rec) == (1.5, False)
    higher = corpus.Record("t", "s", "binary_classification", [], score=0.80, interval=[0.75, 0.85],
                           ref_hgb=0.90, ref_linear=0.70)
    assert corpus.compare(higher) == (0.1, True)
