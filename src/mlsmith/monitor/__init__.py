"""Stage 7c: monitoring and retraining — drift against the bundle's reference, champion vs challenger, run history."""

from ._history import RunComparison, compare_runs, list_runs, register_run, show_run
from ._monitor import DriftReport, data_drift, monitor
from ._reference import REFERENCE_FILE, build_reference, load_reference, test_reference
from ._retrain import RetrainResult, retrain

__all__ = [
    "DriftReport",
    "REFERENCE_FILE",
    "RetrainResult",
    "RunComparison",
    "build_reference",
    "compare_runs",
    "data_drift",
    "list_runs",
    "load_reference",
    "monitor",
    "register_run",
    "retrain",
    "show_run",
    "test_reference",
]
