"""A request to a served bundle: ``POST /predict`` as a plain ASGI handler, and the ASGI layer
(:class:`Service`) that runs it ahead of FastAPI.

FastAPI's routing, dependency solving and response classes cost more than scoring a record, so
``/predict`` is answered here: the body read within the process's budget, the records validated from
the raw bytes, small requests scored together (:class:`_Batcher`), a shadow challenger scored after
the answer. ``_app`` builds the app around it; who may call which route, and the bounds on what a
request may cost, are in ``_guard``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from functools import partial
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from ._guard import CHUNK_BYTES, MAX_ERRORS, ClientError, Ticket, bounded, is_json, validate_large
from ._log import log_rows
from ._runtime import Scorer, UnscorableRecords
from ._schema import error_details
from ._state import ServeState

__all__ = ["PREDICT_OPERATION", "Service"]

logger = logging.getLogger("mlsmith.serve")
#: Routes that need the API key when one is set (``/predict`` too; ``/health`` and ``/metrics`` stay open).
PROTECTED = frozenset({"/metadata"})

#: The OpenAPI operation of ``POST /predict``, which is served outside FastAPI's routing (see ``_predict``).
PREDICT_OPERATION: dict[str, Any] = {
    "summary": "Score one record or a list of records",
    "description": "Validate the records against the bundle's input schema and return their predictions.",
    "operationId": "predict_predict_post",
    "requestBody": {"required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
    "responses": {"200": {"description": "Successful Response", "content": {"application/json": {"schema": {}}}},
                  "401": {"description": "The API key is missing or wrong (when the server has one)"},
                  "413": {"description": "Body too large"},
                  "415": {"description": "The body is not application/json"},
                  "422": {"description": "A record does not fit the input schema"},
                  "503": {"description": "Busy with other large requests; retry after Retry-After seconds"}},
}
_JSON_HEADER = (b"content-type", b"application/json")


async def _respond(send, status: int, payload: Any, headers: tuple[tuple[bytes, bytes], ...] = ()) -> int:
    """Send ``payload`` as a JSON response (encoded by pydantic's Rust serializer) and return the status."""
    body = to_json(payload, inf_nan_mode="null")
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON_HEADER, (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
    return status


async def _read_body(receive, limit: int, ticket: Ticket | None) -> bytes:
    """The body, at most ``limit`` bytes; one sent without Content-Length is held in the budget as it comes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientError(400, "the client disconnected before sending the whole body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ClientError(413, f"request body is larger than the limit of {limit} bytes; send fewer records "
                                   "per request.")
        if ticket is not None and ticket.grows:
            ticket.take(len(chunk))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Batcher:
    """Scores together the small requests that reach one scorer in the same turn of the event loop.

    Each request's records wait (a future) while the other requests already read by the server in
    this turn are validated; the next turn scores all of them in one call of the model and hands
    each request its own results. The model's per-call cost (feeding the ONNX graph, the
    onnxruntime call) is paid once per turn instead of once per request under concurrent load; a
    lone request waits one turn of the loop, nothing more.
    """

    def __init__(self, scorer: Scorer):
        self.scorer = scorer
        self.pending: list[tuple[list[dict[str, Any]], asyncio.Future]] = []

    async def score(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((records, future))
        if len(self.pending) == 1:
            future.get_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        if len(pending) > 1:
            try:
                results = self.scorer.score([record for records, _ in pending for record in records])
            except UnscorableRecords:
                pass  # which request sent the record: each is scored alone below
            except Exception as exc:
                for _, future in pending:
                    _settle(future, exception=exc)
                return
            else:
                start = 0
                for records, future in pending:
                    _settle(future, results[start:start + len(records)])
                    start += len(records)
                return
        for records, future in pending:
            try:
                _settle(future, self.scorer.score(records))
            except Exception as exc:
                _settle(future, exception=exc)


def _settle(future: asyncio.Future, result: Any = None, exception: Exception | None = None) -> None:
    if future.done():  # the request was cancelled (its client went away)
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)


#: Requests with at most this many records are scored together with others (see ``_Batcher``).
BATCHED_RECORDS = 32


def _record(state: ServeState, scorer: Scorer, role: str, records, results, request_id: str, many: bool,
            started: float) -> None:
    """Count the predictions and queue their log rows (encoded on the log's thread, off the event loop)."""
    latency_ms = (time.perf_counter() - started) * 1000
    state.metrics.count_predictions(role, results, scorer.bundle.task != "regression")
    if state.log is not None:
        state.log.write(partial(log_rows, request_id, time.time(), scorer.version, role, records, results, latency_ms, many))


async def _score(state: ServeState, scorer: Scorer, role: str, records, request_id: str,
                 many: bool) -> list[dict[str, Any]]:
    started = time.perf_counter()
    if len(records) <= BATCHED_RECORDS:
        batcher = state.batchers.get(id(scorer))
        if batcher is None:
            batcher = state.batchers[id(scorer)] = _Batcher(scorer)
        results = await batcher.score(records)
    else:  # on a thread: onnxruntime releases the GIL, so the loop serves other requests meanwhile
        results = await run_in_threadpool(scorer.score, records)
    _record(state, scorer, role, records, results, request_id, many, started)
    return results


def _shadow(state: ServeState, records, request_id: str, many: bool) -> None:
    started = time.perf_counter()
    challenger = state.challenger
    if challenger is None:  # served without one: nothing to shadow
        return
    results = challenger.score(records)
    _record(state, challenger, "challenger", records, results, request_id, many, started)


async def _predict(state: ServeState, scope, receive, send) -> int:
    """``POST /predict`` as a plain ASGI handler: records validated from the raw body, scored, answered.

    FastAPI's routing, dependency solving and response classes cost more than scoring a record, so
    this route is served by :class:`Service` directly; its OpenAPI entry is ``PREDICT_OPERATION``.
    The request's body bytes are held in the process's budget until it is answered.
    Returns the response's status.
    """
    content_type, length = state.gate.check(scope["headers"], True)
    if scope["method"] != "POST":
        return await _respond(send, 405, {"detail": "Method Not Allowed"}, ((b"allow", b"POST"),))
    if not is_json(content_type):
        seen = "none" if content_type is None else f"'{content_type[:100].decode('latin-1')}'"
        raise ClientError(415, f"POST /predict takes a JSON body with the header 'Content-Type: application/json'; "
                               f"got {seen}.")
    ticket = state.gate.reserve(length, state.max_body_bytes)
    try:
        return await _answer(state, await _read_body(receive, state.max_body_bytes, ticket), send)
    finally:
        if ticket is not None:
            ticket.release()


async def _answer(state: ServeState, body: bytes, send) -> int:
    """Validate, score and answer one request's body (see :func:`_predict`)."""
    if len(body) > CHUNK_BYTES:  # on a thread, in pieces: the event loop serves other requests meanwhile
        records, many = await run_in_threadpool(validate_large, state.validator, body)
    else:
        try:
            records, many = state.validator.validate(body)
        except ValidationError as exc:
            if exc.error_count() > MAX_ERRORS:  # listing thousands of errors takes a while: not on the loop
                details = await run_in_threadpool(error_details, exc)
            else:
                details = error_details(exc)
            return await _respond(send, 422, {"detail": bounded(details)})
    request_id = uuid.uuid4().hex
    scorer, role, shadow = state.champion, "champion", False
    if state.challenger is not None:
        if state.mode == "canary" and state.rng.random() < state.canary_share:
            scorer, role = state.challenger, "challenger"
        else:
            shadow = state.mode == "shadow"
    try:
        results = await _score(state, scorer, role, records, request_id, many)
    except UnscorableRecords as exc:
        detail = [{"type": "value_error", "loc": ["body", i] if many else ["body"], "input": records[i],
                   "msg": "the model gives no finite score for this record: its values are far outside the training data"}
                  for i in exc.indices[:MAX_ERRORS + 1]]
        return await _respond(send, 422, {"detail": bounded(detail)})
    if many:
        payload: dict[str, Any] = {"request_id": request_id, "model_version": scorer.version, "predictions": results}
    else:
        payload = {"request_id": request_id, "model_version": scorer.version, **results[0]}
    status = await _respond(send, 200, payload)
    if shadow:  # after the response: the challenger never delays or changes the answer
        try:
            await run_in_threadpool(_shadow, state, records, request_id, many)
        except Exception:
            logger.exception("the shadow challenger failed to score request %s", request_id)
    return status


class Service:
    """The outermost ASGI layer: serves ``/predict`` itself, passes other routes to FastAPI, counts
    and times every request, and turns a refused request into its JSON error and any failure into a
    JSON 500 (the trace goes to the server log, never to the client)."""

    def __init__(self, app, state: ServeState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status, sent = time.perf_counter(), 500, False

        async def send_wrapper(message):
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status, sent = message["status"], True
            await send(message)

        try:
            if scope["path"] == "/predict":
                await _predict(self.state, scope, receive, send_wrapper)
            else:
                self.state.gate.check(scope["headers"], scope["path"] in PROTECTED)
                await self.app(scope, receive, send_wrapper)
        except ClientError as exc:
            if not sent:
                await _respond(send_wrapper, exc.status, {"detail": exc.detail}, exc.headers)
        except Exception:
            logger.exception("unhandled error on %s", scope.get("path"))
            if not sent:
                await _respond(send, 500, {"detail": "internal error; the server log has the details."})
        finally:
            self.state.metrics.observe(scope.get("path", ""), status, started)

