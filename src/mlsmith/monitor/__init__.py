"""Stage 7c: monitoring — drift against the bundle's reference (retraining, which runs the workflow, is
:mod:`mlsmith.retraining`; the run history, :mod:`mlsmith.runs`)."""

from ._monitor import DriftReport, data_drift, monitor
from ._reference import REFERENCE_FILE, build_reference, load_reference, test_reference

__all__ = [
    "DriftReport",
    "REFERENCE_FILE",
    "build_reference",
    "data_drift",
    "load_reference",
    "monitor",
    "test_reference",
]
