"""X-Request-Id: taken from the client when sane, generated otherwise, echoed on every response
and available to log lines and audit records through a context variable. Request ids are
never audit record ids (those are random, ``audit/events.py``).

Every response also gets ``X-Content-Type-Options: nosniff`` here, the outermost layer, so
that no path that writes its own response (``resources/hot_paths.py``) can miss it: a browser
must not sniff a FHIR JSON body or a Binary into HTML or script
(https://fetch.spec.whatwg.org/#x-content-type-options-header).

The same middleware is the last line of defence: an exception nothing else handled becomes
a 500 OperationOutcome naming the request id (logged with its traceback, never sent).
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .ids import next_unique

__all__ = ["RequestIdMiddleware", "current_request_id"]

log = logging.getLogger("fhir_server")
_REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_SANE = re.compile(rb"^[A-Za-z0-9._\-]{1,128}$")
# Larger header sections are refused (431) before any work: no client needs more than a few KiB,
# and big cookies or tokens repeated per request are an easy way to burn server memory.
MAX_HEADER_BYTES = 32 * 1024
NOSNIFF = (b"x-content-type-options", b"nosniff")


def _new_request_id() -> str:
    return f"{next_unique():032x}"


def current_request_id() -> str:
    return _REQUEST_ID.get()


class RequestIdMiddleware:
    """Plain ASGI middleware (no BaseHTTPMiddleware: it would buffer every response)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            await _send_outcome(send, 431, "too-costly",
                                f"Request headers exceed {MAX_HEADER_BYTES // 1024} KiB", [])
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = given.decode() if given and _SANE.match(given) else _new_request_id()
        token = _REQUEST_ID.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                extra = [(b"x-request-id", request_id.encode())]
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    extra.append(NOSNIFF)
                message["headers"] = [*headers, *extra]
            await send(message)

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error in request %s", request_id)
            if not started:
                await _send_internal_error(send_with_id, request_id)
        finally:
            _REQUEST_ID.reset(token)


async def _send_internal_error(send: Send, request_id: str) -> None:
    await _send_outcome(send, 500, "exception",
                        f"Internal server error (request id {request_id}); the server log has the details", [],
                        severity="fatal")


async def _send_outcome(send: Send, status: int, code: str, diagnostics: str, headers: list[tuple[bytes, bytes]],
                        severity: str = "error") -> None:
    body = orjson.dumps({"resourceType": "OperationOutcome", "issue": [
        {"severity": severity, "code": code, "diagnostics": diagnostics}]})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/fhir+json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), NOSNIFF, *headers]})
    await send({"type": "http.response.body", "body": body})
