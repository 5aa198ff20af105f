"""Stage 3: exploratory data analysis.

``explore(data, target)`` returns an :class:`EDAReport`. The statistics are SQL aggregates run by
DuckDB over every row (``_table.py`` opens a DataFrame, or a CSV / Parquet file out of core); the
figures and the few rank-based measures use a random sample whose size the report states.
"""

from ._report import EDAReport, explore

__all__ = ["EDAReport", "explore"]
