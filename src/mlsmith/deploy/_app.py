"""The app factory of a served bundle: :func:`create_app` builds the FastAPI app around the
``/predict`` handler (:class:`~mlsmith.deploy._serve.Service`) and the operations router, with the
shared :class:`~mlsmith.deploy._state.ServeState` on ``app.state``; ``_supervise.serve`` runs it
under uvicorn in one process or several.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..exceptions import MlsmithError
from ._bundle import ModelBundle
from ._guard import Gate
from ._log import PredictionLog
from ._metrics import ServeMetrics
from ._operations import operations_router
from ._runtime import Runtime, Scorer
from ._schema import RecordValidator
from ._serve import PREDICT_OPERATION, Service
from ._state import MAX_BODY_BYTES, MAX_INFLIGHT_BYTES, Mode, ServeState

__all__ = ["create_app"]


class _App(FastAPI):
    """FastAPI with :class:`~mlsmith.deploy._serve.Service` outside its whole middleware stack (error
    pages, telemetry, routing), so that ``/predict`` skips them all."""

    def build_middleware_stack(self):
        return Service(super().build_middleware_stack(), self.state.serve)


def create_app(
    bundle: str | Path | ModelBundle,
    runtime: Runtime = "sklearn",
    challenger: str | Path | ModelBundle | None = None,
    mode: Mode = "shadow",
    canary_share: float = 0.1,
    log: str | Path | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    api_key: str | None = None,
    host: str | None = None,
    docs: bool | None = None,
    max_inflight_bytes: int = MAX_INFLIGHT_BYTES,
    allowed_hosts: Sequence[str] = (),
) -> FastAPI:
    """Build the FastAPI app that serves a bundle.

    Parameters
    ----------
    bundle : str, pathlib.Path or ModelBundle
        The champion: a bundle folder or a loaded :class:`ModelBundle`.
    runtime : {"sklearn", "onnx"}, default="sklearn"
        ``"sklearn"`` (the pipeline) or ``"onnx"`` (the bundle's ONNX graph via onnxruntime).
    challenger : str, pathlib.Path or ModelBundle, optional
        A second bundle, scored in ``mode``.
    mode : {"shadow", "canary"}, default="shadow"
        ``"shadow"`` (the challenger is scored and logged after the response, never returned) or
        ``"canary"`` (it answers ``canary_share`` of the requests).
    canary_share : float, default=0.1
        The share of requests a canary challenger answers.
    log : str or pathlib.Path, optional
        A SQLite file to log every prediction to (WAL mode); none by default.
    max_body_bytes : int, default=MAX_BODY_BYTES
        Larger request bodies get 413.
    api_key : str, optional
        When set, ``/predict`` and ``/metadata`` need the header ``Authorization: Bearer <key>``
        (401 otherwise); ``/health`` and ``/metrics`` stay open.
    host : str, optional
        The address the server listens on. On a loopback address, requests whose Host header
        names another host than a loopback one or one of ``allowed_hosts`` get 421 (DNS
        rebinding). None: no Host check.
    docs : bool, optional
        Serve ``/docs``, ``/redoc`` and ``/openapi.json``; default: only without an API key.
    max_inflight_bytes : int, default=MAX_INFLIGHT_BYTES
        Request body bytes held at once; a request past it gets 503 with Retry-After.
    allowed_hosts : sequence of str, default=()
        More Host header values accepted on a loopback address (see ``host``).

    Returns
    -------
    fastapi.FastAPI
        The app: ``POST /predict``, ``GET /health``, ``/metadata``, ``/metrics``.

    Examples
    --------
    >>> create_app("no/such/bundle")
    Traceback (most recent call last):
    ...
    mlsmith.exceptions.BundleError: model bundle 'no/such/bundle' does not exist; ...
    """
    champion = bundle if isinstance(bundle, ModelBundle) else ModelBundle.load(bundle)
    if mode not in ("shadow", "canary"):
        raise MlsmithError(f"mode must be 'shadow' or 'canary'; got '{mode}'.")
    if not 0.0 <= canary_share <= 1.0:
        raise MlsmithError(f"canary share must be between 0 and 1; got {canary_share}.")
    second = None
    if challenger is not None:
        other = challenger if isinstance(challenger, ModelBundle) else ModelBundle.load(challenger)
        if other.schema.features() != champion.schema.features() or other.task != champion.task:
            raise MlsmithError(f"challenger '{other.path}' takes different inputs or solves a different task than the "
                               f"champion '{champion.path}'; a challenger must be trained on the same problem.")
        second = Scorer(other, runtime)
    gate = Gate(api_key, host, max_inflight_bytes, allowed_hosts)
    metrics = ServeMetrics()
    state = ServeState(Scorer(champion, runtime), RecordValidator(champion.schema), metrics, gate, second, mode,
                       canary_share, PredictionLog(log) if log else None, max_body_bytes, random.Random(0))
    docs = api_key is None if docs is None else docs

    async def lifespan(app):
        yield
        if state.log is not None:
            state.log.close()

    app = _App(title=f"mlsmith: {champion.metadata.get('problem', 'model')}", version=champion.version,
               lifespan=lifespan, docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
               openapi_url="/openapi.json" if docs else None)
    app.state.serve = state
    app.include_router(operations_router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
            spec["paths"] = {"/predict": {"post": PREDICT_OPERATION}, **spec["paths"]}
            body = state.validator.json_schema()
            components = spec.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["PredictRequest"] = body
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
