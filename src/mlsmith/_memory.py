"""How many fits may run at once in the memory there is: a fit's peak estimated, the workers sized to it.

Below :data:`MEMORY_CHECK_ROWS` rows every worker fits; past it, :func:`memory_workers` runs as many
fits at once as hold :data:`MEMORY_SHARE` of the memory available together. The CV engine
(:mod:`mlsmith.parallel`) asks it before each dispatch; the workflow sizes the final fits with it.
"""

from __future__ import annotations

import os

import numpy as np
from joblib import effective_n_jobs

__all__ = ["FIT_PEAK_FACTOR", "MEMORY_CHECK_ROWS", "MEMORY_SHARE", "available_memory", "fit_bytes",
           "memory_workers", "workers_for_memory"]


#: Share of the memory available when the fits start that the fits running at once may hold together:
#: the rest is for this process and for others on the machine.
MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes of memory available to new work now (Linux's ``MemAvailable``; else the free pages)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


#: Past this many rows, fits are run as many at once as the memory allows (:func:`workers_for_memory`);
#: below it, on every worker.
MEMORY_CHECK_ROWS = 100_000
#: A fit's peak memory over the float64 matrix its preprocessing outputs: 2.75 measured with histogram
#: gradient boosting on 400,000 rows of the generated table (45 columns: 377 MB at peak for 137 MB).
FIT_PEAK_FACTOR = 3.0


def fit_bytes(pipeline, X, y: np.ndarray) -> float:
    """The memory one fit of ``pipeline`` on every row of ``X`` holds at its peak, estimated: its own
    copy of the rows, and :data:`FIT_PEAK_FACTOR` times the matrix its preprocessing gives them, whose
    width is read from the preprocessing fitted on 2,000 rows spread over ``X``. A pipeline that is
    not preprocessing then a model is counted as its copy of the rows."""
    from sklearn.base import clone  # here, not at the top: the CLI starts the workers before importing sklearn

    row_bytes = X.memory_usage(index=False).sum() / max(len(X), 1)
    steps = getattr(pipeline, "steps", [])
    width = 0
    if len(steps) > 1:
        step = max(1, len(X) // 2000)
        sample = X.iloc[::step]
        width = clone(pipeline[:-1]).fit(sample, y[::step]).transform(sample.iloc[:5]).shape[1]
    return len(X) * (FIT_PEAK_FACTOR * 8 * width + row_bytes)


def memory_workers(n_jobs: int | None, pipelines: list, X, y: np.ndarray) -> int:
    """The workers for fits of ``pipelines`` on ``X``: every one below :data:`MEMORY_CHECK_ROWS` rows,
    else as many as :func:`workers_for_memory` allows for the largest of them."""
    workers = max(1, effective_n_jobs(n_jobs))
    if workers == 1 or len(X) <= MEMORY_CHECK_ROWS:
        return workers
    return workers_for_memory(workers, max(fit_bytes(p, X, y) for p in pipelines))


def workers_for_memory(n_jobs: int, fit_bytes: float, available: float | None = None) -> int:
    """How many fits of ``fit_bytes`` each may run at once: as many as ``n_jobs`` gives, down to one, so
    that together they hold at most :data:`MEMORY_SHARE` of the ``available`` memory (default: now's).

    On two cores, two fits of a gradient-boosting model on millions of rows take twice the memory of
    one for little gain in time: one worker's model uses both cores' threads when it runs alone.

    Examples
    --------
    >>> workers_for_memory(2, fit_bytes=5e9, available=16e9), workers_for_memory(2, 1e9, 16e9)
    (1, 2)
    """
    workers = max(1, effective_n_jobs(n_jobs))
    available = available_memory() if available is None else available
    return max(1, min(workers, int(MEMORY_SHARE * available // max(fit_bytes, 1.0))))

