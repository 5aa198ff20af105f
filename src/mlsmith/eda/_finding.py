from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Finding", "FindingsReport", "name_list"]


def name_list(columns, shown: int = 8) -> str:
    """Quoted column names for a message, the first ``shown`` of them.

    Examples
    --------
    >>> name_list(["a", "b", "c"], shown=2)
    "'a', 'b' and 1 more"
    """
    names = [f"'{c}'" for c in columns]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


@dataclass(frozen=True)
class Finding:
    """One thing a report noticed, with the action it suggests.

    ``check`` names the rule (``near_constant``, ``skewed``, ...); ``evidence`` holds the numbers
    behind the message.
    """

    check: str
    severity: Literal["info", "warning", "error"]
    message: str
    action: str
    column: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FindingsReport:
    """Shared by the quality and EDA reports: JSON-able data and a notebook rendering of their section."""

    #: The module under mlsmith.report whose ``html(data, results)`` renders this report.
    _section: str = ""
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["findings"] = [f.to_dict() for f in self.findings]
        return out

    def _repr_html_(self) -> str:
        import importlib

        return str(importlib.import_module(self._section).html(self.to_dict(), {}))
