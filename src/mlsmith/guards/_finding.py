"""A finding and the list of findings a guard run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

__all__ = ["Finding", "GuardReport", "Severity"]

Severity = Literal["info", "warning", "error"]
_RANK = {"info": 0, "warning": 1, "error": 2}
#: The checks whose columns carry (or were recorded after) the answer.
LEAK_CHECKS = ("target_leakage", "timestamp_after_outcome", "not_available_at_prediction", "id_order")


@dataclass(frozen=True)
class Finding:
    """One methodology problem: which check found it, how bad it is, the numbers, and the fix.

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
        from ..report._html import render_section
        from ..runs import to_jsonable

        return render_section("guards", [to_jsonable(self.to_dict())])


@dataclass
class GuardReport:
    """The findings of the guards, most severe first; ``to_dict()`` is the results.json ``guards`` list.

    Examples
    --------
    >>> r = GuardReport([Finding("a", "warning", "w"), Finding("b", "error", "e")])
    >>> [f.check for f in r], [f.check for f in r.errors]
    (['b', 'a'], ['b'])
    """

    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = sorted(self.findings, key=lambda f: -_RANK[f.severity])

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def extend(self, findings) -> None:
        """Add findings (keeps the most-severe-first order)."""
        self.findings = sorted([*self.findings, *findings], key=lambda f: -_RANK[f.severity])

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def checks(self, severity: Severity | None = None) -> set[str]:
        """The names of the checks that fired (at ``severity`` if given)."""
        return {f.check for f in self.findings if severity is None or f.severity == severity}

    def leak_columns(self) -> list[str]:
        """The columns named by warning- or error-level leakage findings (:data:`LEAK_CHECKS`), in order.

        Examples
        --------
        >>> GuardReport([Finding("target_leakage", "error", "m", {"columns": ["a", "b"]}),
        ...              Finding("id_order", "warning", "m", {"column": "id"})]).leak_columns()
        ['a', 'b', 'id']
        """
        out: list[str] = []
        for f in self.findings:
            if f.check in LEAK_CHECKS and f.severity != "info":
                out += [f.evidence["column"]] if "column" in f.evidence else list(f.evidence.get("columns", []))
        return list(dict.fromkeys(out))

    def to_dict(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.findings]

    def _repr_html_(self) -> str:
        from ..report._guards import html

        return html(self.to_dict(), {})
