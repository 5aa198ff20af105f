"""Who may use the model server, and what one request may cost it.

Checks, in the order a request meets them (see :class:`Gate`):

1. When the server listens on loopback, the ``Host`` header must name a loopback host or one of
   the names allowed (421 otherwise). A web page whose name resolves to 127.0.0.1 (DNS rebinding)
   reaches the server as its own origin; it still sends its own name as the host.
2. With an API key, ``/predict`` and ``/metadata`` need ``Authorization: Bearer <key>`` (401).
3. ``/predict`` takes only ``application/json`` (415): a browser posts ``text/plain`` and form
   bodies to any address without asking (a CORS "simple request"), never JSON.
4. The bytes of large bodies in flight are budgeted per process: a request that would exceed the
   budget gets 503 with ``Retry-After`` before its body is read, so concurrent large bodies cannot
   exhaust memory. Bodies of at most ``CHUNK_BYTES`` are not counted (their memory is bounded by
   the connections), so single records are never refused while large batches are scored.

Then :func:`validate_large` validates a large body on a worker thread in pieces of whole records,
so the event loop (``/health``) is served between pieces, and every 422 lists at most
``MAX_ERRORS`` errors with each ``input`` cut to ``MAX_INPUT_CHARS`` (:func:`bounded`).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from ..exceptions import MlsmithError
from ._schema import RecordValidator, error_details

__all__ = ["Gate", "bounded", "exposure_warning", "is_loopback", "validate_large"]

#: Bodies larger than this are validated on a thread, in pieces of about this size.
CHUNK_BYTES = 64 * 1024
#: One record's JSON may not be larger than this (a single-record body included): a record's
#: validation errors, and so the time to list them, grow with its size.
MAX_RECORD_BYTES = 64 * 1024
#: A 422 lists at most this many errors...
MAX_ERRORS = 50
#: ...and cuts each error's ``input`` (its JSON text, for a list or an object) to this many characters.
MAX_INPUT_CHARS = 1000
#: Seconds a client refused for load is asked to wait.
RETRY_AFTER_S = 1

_LOOPBACK_NAMES = (b"localhost", b"127.0.0.1", b"[::1]")
#: Between two records of a list: ``}``, a comma, ``{`` (whitespace allowed).
_BOUNDARY = re.compile(rb"\}\s*,\s*\{")


class ClientError(Exception):
    """A request the service refuses: answered with its status, message and headers, never a trace."""

    def __init__(self, status: int, detail: Any, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address to listen on) is reachable only from this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """The warning to print when the server listens beyond loopback with no API key, else None."""
    if api_key or is_loopback(host):
        return None
    return (f"serving on {host} without an API key: anyone who can reach this address can score records, "
            "write to the prediction log and read /metadata; set --api-key or MLSMITH_API_KEY.")


def _check_key(api_key: str) -> bytes:
    # The key travels in a header: printable ASCII, no spaces. The message never shows the key.
    if not api_key or not all(33 <= ord(c) < 127 for c in api_key):
        raise MlsmithError(f"the API key must be printable ASCII characters without spaces; got a key of "
                           f"{len(api_key)} characters. Use e.g. the output of 'openssl rand -hex 32'.")
    return api_key.encode()


def _host_name(value: bytes) -> bytes:
    """The host of a Host header, without its port: ``[::1]:8000`` -> ``[::1]``."""
    value = value.strip().lower()
    if value.startswith(b"["):
        return value[:value.find(b"]") + 1]
    return value.partition(b":")[0]


class Ticket:
    """The body bytes one request holds in the budget, released when it is answered."""

    __slots__ = ("gate", "held", "grows")

    def __init__(self, gate: Gate, held: int, grows: bool):
        self.gate, self.held, self.grows = gate, held, grows

    def take(self, n: int) -> None:
        """Hold ``n`` more bytes of a body sent without Content-Length, or refuse with 503."""
        if self.held + n > CHUNK_BYTES:
            self.gate._take(n, self.held)
        else:  # a small body so far: held, never refused
            self.gate.inflight += n
        self.held += n

    def release(self) -> None:
        self.gate.inflight -= self.held
        self.held = 0


class Gate:
    """The checks a request passes before its body is read (see the module's docstring).

    Parameters
    ----------
    api_key
        The bearer token ``/predict`` and ``/metadata`` require; None for none.
    host
        The address the server listens on; on loopback, the Host header is checked. None: no check.
    max_inflight_bytes
        The budget of request body bytes held at once in this process.
    allowed_hosts
        More names the Host header may give on loopback (e.g. the public name a reverse
        proxy on this machine forwards).
    """

    def __init__(self, api_key: str | None, host: str | None, max_inflight_bytes: int,
                 allowed_hosts: Sequence[str] = ()):
        if max_inflight_bytes < 1:
            raise MlsmithError(f"max_inflight_bytes must be positive; got {max_inflight_bytes}.")
        self.key = None if api_key is None else _check_key(api_key)
        self.authorization = None if self.key is None else b"Bearer " + self.key
        hosts = None
        if host is not None and is_loopback(host):
            names = [n.lower().encode() for n in (host, *allowed_hosts)]
            hosts = frozenset((*_LOOPBACK_NAMES, *(b"[" + n + b"]" if b":" in n else n for n in names)))
        self.hosts = hosts
        self.seen_hosts: set[bytes] = set()  # Host header values already accepted (a few: names x ports)
        self.budget = max_inflight_bytes
        self.inflight = 0

    def __repr__(self) -> str:  # never the key
        return f"Gate(api_key={'set' if self.key else None}, hosts={self.hosts}, budget={self.budget})"

    def check(self, headers: list[tuple[bytes, bytes]], protected: bool) -> tuple[bytes | None, bytes | None]:
        """Refuse a request for another host or without the key (if ``protected``); else its
        Content-Type and Content-Length headers (one pass over the headers)."""
        host = authorization = content_type = length = None
        for name, value in headers:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == b"host":
                host = value
            elif name == b"authorization":
                authorization = value
        if self.hosts is not None and host is not None and host not in self.seen_hosts:
            if _host_name(host) not in self.hosts:
                seen = host[:100].decode("latin-1")
                raise ClientError(421, f"this server listens on loopback and answers only requests addressed to "
                                       f"localhost or 127.0.0.1 (or a name given with --allow-host); the Host "
                                       f"header was '{seen}'.")
            if len(self.seen_hosts) < 64:
                self.seen_hosts.add(host)
        if protected and self.key is not None and not self._authorized(authorization):
            raise ClientError(401, "this server needs its API key: send the header 'Authorization: Bearer <key>'.",
                              ((b"www-authenticate", b"Bearer"),))
        return content_type, length

    def _authorized(self, authorization: bytes | None) -> bool:
        if authorization is None or self.key is None or self.authorization is None:
            return False
        if hmac.compare_digest(authorization, self.authorization):  # the usual spelling, in constant time
            return True
        scheme, _, token = authorization.partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)

    def reserve(self, length: bytes | None, limit: int) -> Ticket | None:
        """Hold a large body's declared length in the budget (503 when it is spent; 413 above ``limit``).

        None for a body of at most ``CHUNK_BYTES`` with a Content-Length: nothing to hold. A body
        without one is held as it arrives (:meth:`Ticket.take`).
        """
        if length is None or not length.isdigit():
            return Ticket(self, 0, True)
        declared = int(length) if len(length) < 19 else limit + 1
        if declared > limit:
            raise ClientError(413, f"request body is larger than the limit of {limit} bytes; send fewer records "
                                   "per request.")
        if declared <= CHUNK_BYTES:
            return None
        self._take(declared, 0)
        return Ticket(self, declared, False)

    def _take(self, n: int, own: int) -> None:
        """Hold ``n`` more bytes for a request that holds ``own`` already; a lone request is never refused."""
        if self.inflight + n > self.budget and self.inflight > own:
            raise ClientError(503, f"the server is busy with other large requests ({self.inflight - own} body bytes "
                                   f"in flight); retry in {RETRY_AFTER_S} s or send fewer records per request.",
                              ((b"retry-after", str(RETRY_AFTER_S).encode()),))
        self.inflight += n


def is_json(content_type: bytes | None) -> bool:
    """Whether a Content-Type header is ``application/json`` (parameters such as charset allowed)."""
    return content_type == b"application/json" or (
        content_type is not None and content_type.partition(b";")[0].strip().lower() == b"application/json")


def excerpt(value: Any) -> Any:
    """``value``, or when it (or its JSON text) is longer than ``MAX_INPUT_CHARS``, its start and '...'."""
    if isinstance(value, str):
        return value if len(value) <= MAX_INPUT_CHARS else value[:MAX_INPUT_CHARS] + "..."
    if isinstance(value, (dict, list)):
        text = to_json(value, inf_nan_mode="null")
        if len(text) > MAX_INPUT_CHARS:
            return text[:MAX_INPUT_CHARS].decode("utf-8", "ignore") + "..."
    return value


def _too_many() -> dict[str, Any]:
    return {"type": "too_many_errors", "loc": ["body"], "input": None,
            "msg": f"only the first {MAX_ERRORS} errors are listed; fix them and send the request again"}


def bounded(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` list cut to ``MAX_ERRORS`` errors, each ``input`` to an excerpt."""
    out = [{**d, "input": excerpt(d["input"])} for d in details[:MAX_ERRORS]]
    if len(details) > MAX_ERRORS:
        out.append(_too_many())
    return out


def _pieces(body: bytes) -> Iterator[bytes]:
    """A JSON list split into JSON lists of whole records of about ``CHUNK_BYTES`` each.

    The split is at ``}, {`` between records; if one falls inside a string (or a nested object), a
    piece is not valid JSON, which the caller notices (see :func:`validate_large`).
    """
    start, end = 0, len(body)
    while True:
        match = _BOUNDARY.search(body, start + CHUNK_BYTES) if start + CHUNK_BYTES < end else None
        if match is None:
            yield body if start == 0 else b"[" + body[start:]
            return
        stop = match.start() + 1
        yield (body[:stop] if start == 0 else b"[" + body[start:stop]) + b"]"
        start = match.end() - 1


def _reparsed_pieces(body: bytes) -> Iterator[bytes]:
    """The same pieces from the parsed list (slower, exact): records are re-encoded one by one."""
    try:
        records = from_json(body)
    except ValueError as exc:  # the 422 pydantic gives, without validating what came before the fault
        raise ClientError(422, [{"type": "json_invalid", "loc": ["body"], "msg": f"Invalid JSON: {exc}",
                                 "input": body[:MAX_INPUT_CHARS].decode("utf-8", "replace")}]) from None
    group: list[bytes] = []
    size = 0
    for record in records:
        text = to_json(record)
        if len(text) > MAX_RECORD_BYTES:
            raise _record_too_large()
        group.append(text)
        size += len(text) + 1
        if size >= CHUNK_BYTES:
            yield b"[" + b",".join(group) + b"]"
            group, size = [], 0
    if group or not records:
        yield b"[" + b",".join(group) + b"]"


def _record_too_large() -> ClientError:
    return ClientError(413, f"a record is larger than the limit of {MAX_RECORD_BYTES} bytes; a record holds one "
                            "value per input column.")


def _max_records(validator: RecordValidator) -> int:
    schema = validator.many.core_schema
    while "max_length" not in schema and "schema" in schema:  # through wrappers such as definitions
        schema = schema["schema"]
    return schema.get("max_length", 100_000)


def validate_large(validator: RecordValidator, body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Validate a large body in pieces of whole records: the records and whether the body was a list.

    Meant for a worker thread: validating a piece holds the GIL for a few milliseconds, and between
    pieces the event loop runs. Raises :class:`ClientError`: 413 for a record larger than
    ``MAX_RECORD_BYTES``, 422 with at most ``MAX_ERRORS`` errors (record indices counted over the
    whole list, as when the body is validated at once).
    """
    if body.lstrip()[:1] != b"[":  # one record
        if len(body) > MAX_RECORD_BYTES:
            raise _record_too_large()
        try:
            return validator.validate(body)
        except ValidationError as exc:
            raise ClientError(422, bounded(error_details(exc))) from None
    try:
        return _validate_pieces(validator, _pieces(body), exact=False), True
    except _SplitInString:
        return _validate_pieces(validator, _reparsed_pieces(body), exact=True), True


class _SplitInString(Exception):
    """A split point fell inside a string or a nested object: the pieces are not valid JSON."""


def _validate_pieces(validator: RecordValidator, pieces: Iterator[bytes], exact: bool) -> list[dict[str, Any]]:
    limit = _max_records(validator)
    records: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    offset = 0
    for piece in pieces:
        if len(piece) > CHUNK_BYTES + MAX_RECORD_BYTES:  # no split point for that long: one record is too large
            raise _record_too_large()
        try:
            batch = validator.many.validate_json(piece)
        except ValidationError as exc:
            details = error_details(exc)
            if details[0]["type"] == "json_invalid":
                if exact:
                    raise ClientError(422, bounded(details)) from None
                raise _SplitInString from None
            for detail in details:
                loc = detail["loc"]
                if len(loc) > 1 and isinstance(loc[1], int):
                    detail["loc"] = ["body", loc[1] + offset, *loc[2:]]
            errors.extend(details)
            if len(errors) > MAX_ERRORS:  # enough to list: the rest of the body is not validated
                raise ClientError(422, bounded(errors)) from None
            offset += len(from_json(piece))
        else:
            offset += len(batch)
            if not errors:
                records.extend(batch)
        if offset > limit:
            errors.append({"type": "too_long", "loc": ["body"], "input": None,
                           "msg": f"the list has more than {limit} records; send at most {limit} per request"})
            break
    if errors:
        raise ClientError(422, bounded(errors))
    return records
