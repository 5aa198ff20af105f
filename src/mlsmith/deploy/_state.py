"""What the routes of a served bundle share: :class:`ServeState` (on ``app.state.serve``) and the
bounds on request bodies."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._guard import Gate
from ._log import PredictionLog
from ._metrics import ServeMetrics
from ._runtime import Scorer
from ._schema import RecordValidator

if TYPE_CHECKING:
    from ._serve import _Batcher

__all__ = ["MAX_BODY_BYTES", "MAX_INFLIGHT_BYTES", "Mode", "ServeState"]

Mode = Literal["shadow", "canary"]
#: Request bodies above this many bytes are refused with 413 (about 100,000 churn records).
MAX_BODY_BYTES = 32 * 1024 * 1024
#: Request body bytes one server process holds at once; past it, requests get 503 (a lone request
#: is always let in). A validated record takes about ten times its JSON's size in memory.
MAX_INFLIGHT_BYTES = 2 * MAX_BODY_BYTES
#: Routes that need the API key when one is set (``/predict`` too; ``/health`` and ``/metrics`` stay open).
PROTECTED = frozenset({"/metadata"})


@dataclass
class ServeState:
    """Everything the routes share: the models, the request contract, the log and the metrics."""

    champion: Scorer
    validator: RecordValidator
    metrics: ServeMetrics
    gate: Gate
    challenger: Scorer | None = None
    mode: Mode = "shadow"
    canary_share: float = 0.1
    log: PredictionLog | None = None
    max_body_bytes: int = MAX_BODY_BYTES
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    batchers: dict[int, _Batcher] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        if self.challenger is None:
            return {}
        return {"model_version": self.challenger.version, "mode": self.mode,
                "canary_share": self.canary_share if self.mode == "canary" else None}
