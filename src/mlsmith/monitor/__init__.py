"""Stage 7c: monitoring and retraining — drift against the bundle's reference, champion vs challenger, run history."""

from ._monitor import MonitorReport, monitor
from ._reference import REFERENCE_FILE, build_reference, load_reference

__all__ = ["REFERENCE_FILE", "MonitorReport", "build_reference", "load_reference", "monitor"]
