"""Stage 7c: monitoring — drift against the bundle's reference, and the run history (retraining, which runs
the workflow, is :mod:`mlsmith.retraining`)."""

from ._history import RunComparison, compare_runs, list_runs, register_run, show_run
from ._monitor import DriftReport, data_drift, monitor
from ._reference import REFERENCE_FILE, build_reference, load_reference, test_reference

__all__ = [
    "DriftReport",
    "REFERENCE_FILE",
    "RunComparison",
    "build_reference",
    "compare_runs",
    "data_drift",
    "list_runs",
    "load_reference",
    "monitor",
    "register_run",
    "show_run",
    "test_reference",
]
