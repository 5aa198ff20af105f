"""The list of findings a guard run returns (:class:`~mlsmith._findings.Finding` is shared with stages 2-3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from .._findings import Finding, Severity, by_severity

__all__ = ["GuardReport", "LEAK_CHECKS"]

#: The checks whose columns carry (or were recorded after) the answer.
LEAK_CHECKS = ("target_leakage", "timestamp_after_outcome", "not_available_at_prediction", "id_order")


@dataclass
class GuardReport:
    """The findings of the guards, most severe first; ``to_dict()`` is the results.json ``guards`` list.

    Parameters
    ----------
    findings : list of Finding, default=[]
        The findings, in any order (kept most severe first).

    Examples
    --------
    >>> r = GuardReport([Finding("a", "warning", "w"), Finding("b", "error", "e")])
    >>> [f.check for f in r], [f.check for f in r.errors]
    (['b', 'a'], ['b'])
    """

    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.findings = by_severity(self.findings)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def extend(self, findings) -> None:
        """Add findings (keeps the most-severe-first order)."""
        self.findings = by_severity([*self.findings, *findings])

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

        return html(self.to_dict(), {}).html
