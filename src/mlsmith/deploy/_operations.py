"""The operations routes of a served bundle: ``GET /health``, ``/metadata`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ._state import ServeState

__all__ = ["operations_router"]

operations_router = APIRouter()


@operations_router.get("/health", summary="Liveness and the served versions")
def health(request: Request) -> dict[str, Any]:
    state: ServeState = request.app.state.serve
    return {"status": "ok", "model_version": state.champion.version, "runtime": state.champion.runtime,
            "challenger": state.describe() or None}


@operations_router.get("/metadata", summary="The bundle's problem, metrics, input schema and versions")
def metadata(request: Request) -> dict[str, Any]:
    state: ServeState = request.app.state.serve
    meta = state.champion.bundle.metadata
    keys = ("problem", "task", "target", "classes", "positive_class", "decision_threshold", "model",
            "success_metric", "test_metrics", "seed", "created", "versions")
    return {"model_version": state.champion.version, "runtime": state.champion.runtime,
            **{k: meta.get(k) for k in keys},
            "input_schema": state.validator.one.json_schema(),
            "challenger": state.describe() or None}


@operations_router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    state: ServeState = request.app.state.serve
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

