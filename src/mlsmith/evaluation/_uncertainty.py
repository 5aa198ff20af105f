"""The verdict a test score supports, judged on its bootstrap intervals (:mod:`mlsmith._bootstrap`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

__all__ = ["Verdict", "judge"]

Status = Literal["met", "not met", "inconclusive", "invalid"]


def judge(interval: tuple[float, float], threshold: float, greater_is_better: bool) -> Status:
    """'met' when the whole interval is on the good side of the threshold, 'not met' when it is all on
    the bad side, 'inconclusive' when it straddles it.

    Examples
    --------
    >>> judge((0.82, 0.90), 0.80, True), judge((0.70, 0.79), 0.80, True), judge((0.75, 0.85), 0.80, True)
    ('met', 'not met', 'inconclusive')
    """
    lo, hi = interval
    good_lo, good_hi = (lo, hi) if greater_is_better else (-hi, -lo)
    thr = threshold if greater_is_better else -threshold
    if good_lo >= thr:
        return "met"
    if good_hi < thr:
        return "not met"
    return "inconclusive"


@dataclass(kw_only=True)
class Verdict:
    """Does the model meet the success criterion, and does it beat the baseline — with 95% intervals?

    ``status`` judges the interval of the test score against the threshold; ``baseline_status``
    judges the paired-bootstrap interval of (model - baseline), signed so that positive is better.
    ``tradeoff`` is what a recall (precision) target costs: the test precision (recall), with its
    interval in ``tradeoff_interval``.

    The status is never "met" for a score that cannot be trusted: ``"invalid"`` when an error-level
    finding (a leak, contamination) undermines the test score (``invalid_by`` names them), and
    "not met" when the model does not beat the majority/mean dummy beyond its interval
    (``dummy_status``), whatever the threshold says; ``reason`` then says why.

    Parameters
    ----------
    metric : str
        The success metric.
    value : float
        Its value on the test split.
    threshold : float, optional
        The success criterion.
    direction : {"higher", "lower"}
        Which side of the threshold meets it.
    met : bool, optional
        Whether the criterion is met (None without a threshold).
    margin : float, optional
        How far the value is past the threshold, signed so that positive meets it.
    baseline_value : float, optional
        The baseline's value on the same rows.
    beats_baseline : bool, optional
        Whether the model's value is better than the baseline's.
    improvement : float, optional
        The relative improvement over the baseline.
    interval : tuple of float, optional
        The bootstrap interval of the test value.
    status : {"met", "not met", "inconclusive", "invalid"}, optional
        The interval judged against the threshold.
    difference_interval : tuple of float, optional
        The paired-bootstrap interval of (model - baseline), positive is better.
    baseline_status : {"met", "not met", "inconclusive"}, optional
        That interval judged against zero.
    baseline : str, default=""
        The baseline, described.
    confidence : float, default=0.95
        The intervals' level.
    n_boot : int, default=0
        Bootstrap resamples.
    tradeoff : dict, optional
        What a recall (precision) target costs: the test precision (recall).
    tradeoff_interval : tuple of float, optional
        Its interval.
    dummy_value : float, optional
        The majority/mean dummy's value on the same rows.
    dummy_difference_interval : tuple of float, optional
        The paired interval of (model - dummy).
    dummy_status : {"met", "not met", "inconclusive"}, optional
        That interval judged against zero.
    invalid_by : list of dict
        The error-level findings that void the score.
    reason : str, default=""
        Why the status is not what the interval alone says.

    Examples
    --------
    >>> verdict = Verdict(metric="recall", value=0.91, threshold=0.8, direction="higher", met=True, margin=0.11,
    ...                   baseline_value=0.6, beats_baseline=True, improvement=0.52, interval=(0.85, 0.96),
    ...                   status="met")
    >>> verdict.sentence()
    'test recall = 0.910 (95% CI 0.850–0.960); target >= 0.8: MET; baseline 0.600: beaten, +52.0% relative'
    """

    metric: str
    value: float
    threshold: float | None
    direction: str
    met: bool | None
    margin: float | None
    baseline_value: float | None
    beats_baseline: bool | None
    improvement: float | None
    interval: tuple[float, float] | None = None
    status: Status | None = None
    difference_interval: tuple[float, float] | None = None
    baseline_status: Status | None = None
    baseline: str = ""
    confidence: float = 0.95
    n_boot: int = 0
    tradeoff: dict[str, float] | None = None
    tradeoff_interval: tuple[float, float] | None = None
    dummy_value: float | None = None
    dummy_difference_interval: tuple[float, float] | None = None
    dummy_status: Status | None = None
    invalid_by: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""

    def __post_init__(self) -> None:
        if self.status in ("met", "inconclusive") and self.dummy_status in ("not met", "inconclusive"):
            lo, hi = self.dummy_difference_interval or (float("nan"), float("nan"))
            self.status, self.met = "not met", False
            self.reason = (f"the model does not beat the dummy baseline ({self.metric} {self.dummy_value:.3f}) "
                           f"beyond its 95% interval (difference {lo:+.3f} to {hi:+.3f}): a constant prediction "
                           "scores as well")

    def invalidated(self, findings) -> Verdict:
        """This verdict, or a copy marked invalid because of the error-level ``findings`` (``Finding``
        objects) among them. The evaluation's own verdict is left as it was judged."""
        findings = [f for f in findings if f.severity == "error"]
        if not findings:
            return self
        first = findings[0]
        more = f" (and {len(findings) - 1} more error-level finding(s))" if len(findings) > 1 else ""
        return replace(self, invalid_by=[{"check": f.check, "message": f.message} for f in findings],
                       status="invalid", met=False, reason=f"[{first.check}] {first.message.rstrip('.')}{more}")

    def sentence(self) -> str:
        ci = ""
        if self.interval is not None:
            ci = f" (95% CI {self.interval[0]:.3f}–{self.interval[1]:.3f})"
        parts = [f"test {self.metric} = {self.value:.3f}{ci}"]
        if self.tradeoff:
            ci = "" if self.tradeoff_interval is None else f" ({self.tradeoff_interval[0]:.3f}–{self.tradeoff_interval[1]:.3f})"
            parts[0] += " at " + ", ".join(f"{k} {v:.3f}{ci}" for k, v in self.tradeoff.items())
        if self.threshold is not None:
            op = ">=" if self.direction == "higher" else "<="
            status = (self.status or ("met" if self.met else "not met")).upper()
            parts.append(f"target {op} {self.threshold:g}: {status}")
        if self.status == "invalid":
            parts.insert(0, "INVALID: the test score cannot be trusted because of " + self.reason)
        elif self.reason:
            parts.append(self.reason)
        if self.baseline_value is not None and np.isfinite(self.baseline_value):
            rel = f", {self.improvement:+.1%} relative" if self.improvement is not None else ""
            if self.baseline_status is not None:
                word = {"met": "beaten", "not met": "NOT beaten", "inconclusive": "not clearly beaten"}[self.baseline_status]
            else:
                word = "beaten" if self.beats_baseline else "NOT beaten"
            parts.append(f"baseline {self.baseline_value:.3f}: {word}{rel}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "summary": self.sentence()}

    def _repr_html_(self) -> str:
        from ..report._evaluation import verdict_html
        from ..runs import to_jsonable

        return verdict_html(to_jsonable(self.to_dict()))
