from __future__ import annotations

from typing import Any

from ..guards._finding import Finding, Severity

__all__ = ["Finding", "FindingsReport", "finding", "name_list"]


def name_list(columns, shown: int = 8) -> str:
    """Quoted column names for a message, the first ``shown`` of them.

    Examples
    --------
    >>> name_list(["a", "b", "c"], shown=2)
    "'a', 'b' and 1 more"
    """
    names = [f"'{c}'" for c in columns]
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def finding(check: str, severity: Severity, message: str, fix: str, column: str | None = None,
            evidence: dict[str, Any] | None = None) -> Finding:
    """A :class:`mlsmith.guards.Finding` (the project's one finding type) about a column, with its fix."""
    return Finding(check, severity, message, dict(evidence or {}), fix, column)


class FindingsReport:
    """Shared by the quality and EDA reports: JSON-able data and a notebook rendering of their section."""

    #: The report section (a key of mlsmith.report's SECTIONS) that renders this report.
    _section: str = ""
    findings: list[Finding]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["findings"] = [f.to_dict() for f in self.findings]
        return out

    def _repr_html_(self) -> str:
        from ..report._html import render_section

        return str(render_section(self._section, self.to_dict()))
