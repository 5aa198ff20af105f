"""A finding (one problem a stage found in the data or the method: its numbers and its fix), shared by the
quality and EDA reports and the guards, which import it from here: it imports no stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

__all__ = ["Finding", "FindingsReport", "Severity", "by_severity", "finding", "name_list"]

Severity = Literal["info", "warning", "error"]
_RANK = {"info": 0, "warning": 1, "error": 2}


def by_severity(findings: Iterable["Finding"]) -> list["Finding"]:
    """The findings most severe first (a stable sort: the order of equals is kept).

    Examples
    --------
    >>> [f.check for f in by_severity([Finding("a", "info", ""), Finding("b", "error", "")])]
    ['b', 'a']
    """
    return sorted(findings, key=lambda f: -_RANK[f.severity])


@dataclass(frozen=True)
class Finding:
    """One methodology problem: which check found it, how bad it is, the numbers, and the fix.

    Parameters
    ----------
    check : str
        The check that found it (``target_leakage``, ``duplicates_across_split``, ...).
    severity : {"info", "warning", "error"}
        How bad it is; an error voids the test score (and stops a ``--strict`` run).
    message : str
        What was found, with the numbers.
    evidence : dict, default={}
        The numbers behind the message.
    fix : str, default=""
        What to do about it.
    column : str, optional
        The column the finding is about, when it is about one.

    Examples
    --------
    >>> f = Finding("labels", "info", "3 rows with a missing target were dropped.", {"n_dropped": 3}, "none needed")
    >>> f.to_dict()["severity"]
    'info'
    """

    check: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""
    #: The column the finding is about, when it is about one (the quality and EDA reports set it).
    column: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(f"severity must be one of info, warning, error; got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        out = {"check": self.check, "severity": self.severity, "message": self.message,
               "evidence": dict(self.evidence), "fix": self.fix}
        if self.column is not None:
            out["column"] = self.column
        return out

    def _repr_html_(self) -> str:
        from .report._html import render_section
        from .runs import to_jsonable

        return render_section("guards", [to_jsonable(self.to_dict())])




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
    """A :class:`Finding` (the project's one finding type) about a column, with its fix."""
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
        from .report._html import render_section

        return str(render_section(self._section, self.to_dict()))
