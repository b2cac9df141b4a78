"""The hottest interactions, served below the framework: read (http://hl7.org/fhir/R4/http.html#read)
and create (http.html#create).

``GET /fhir/{type}/{id}`` and ``POST /fhir/{type}`` with no query string and no CORS origin are
most of an EHR's traffic. This plain ASGI middleware answers them with the same service calls,
policy and audit records as the routed interactions (``router.read``, ``router.create``) but
without the framework layers between (routing over every router, dependency injection, CORS
and exception middleware), which cost as much CPU as a read itself and ~15 % of a create.

It only ever answers a success. A read that is unusual (a token that does not authenticate,
a hidden, unknown or deleted resource, an Accept it cannot serve, conditional headers) is
handed unchanged to the full stack, which renders the error as for any other route; nothing
it did before has effects (authentication and the read are queries). A create whose
transaction fails is handed over with the same body bytes: its transaction rolled back, so the
full stack's answer is what the client would have had without this path -- except when the
connection was lost while the create committed (``OutcomeUnknown``): that 503 is answered here,
as a replay could store the resource twice. Anything that could fail after the commit (the
response media type) is checked before the create starts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit.trail import AuditTrail, record_request
from ..errors import FhirError, OutcomeUnknown
from ..jsonio import dumps
from ..render import negotiate_media
from ..rules import has_rules
from ..smart_auth.dependencies import bind_policy
from . import router
from .versions import Version

__all__ = ["HotPathMiddleware"]

# The same shapes as the routed interactions' path convertors (router._TypeConvertor, _IdConvertor).
READ_PATH = re.compile(r"/fhir/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9.\-]{1,64})")
CREATE_PATH = re.compile(r"/fhir/([A-Z][A-Za-z]{1,63})")
# Headers that make a request something else: CORS (the CORS middleware answers), conditional reads.
_CREATE_HANDED_OVER = frozenset({b"origin"})
_READ_HANDED_OVER = frozenset({b"origin", b"if-none-match", b"if-modified-since"})


class HotPathMiddleware:
    def __init__(self, app: ASGIApp, trail_of: Callable[[], AuditTrail | None]) -> None:
        self.app = app
        self.trail_of = trail_of  # the audit trail exists only once the lifespan has started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["query_string"]:
            if scope["method"] == "GET" and (match := READ_PATH.fullmatch(scope["path"])) is not None:
                if await self._read(scope, match[1], match[2], send):
                    return
            elif scope["method"] == "POST" and (match := CREATE_PATH.fullmatch(scope["path"])) is not None:
                await self._create(scope, receive, send, match[1])
                return
        await self.app(scope, receive, send)

    async def _create(self, scope: Scope, receive: Receive, send: Send, rtype: str) -> None:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"")
        limit: int = scope["app"].state.settings.max_body_bytes
        if has_rules(rtype) or _media(headers, _CREATE_HANDED_OVER) is None or not length.isdigit() \
                or int(length) > limit:
            # Write rules (their refusals are answered once, by the routes), CORS, 406, chunked
            # or oversized bodies: the full stack.
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        replay = _replaying(body)
        request = Request(scope, replay)
        try:
            await bind_policy(request)
            outcome = await router.create_outcome(request, rtype)
        except OutcomeUnknown as exc:  # it may have committed: a replay could create it twice
            await Response(dumps(exc.outcome()), status_code=exc.status, headers=exc.headers,
                           media_type="application/fhir+json; charset=utf-8")(scope, replay, send)
            return
        except Exception:  # noqa: BLE001 - the create rolled back: the full stack answers from the same bytes
            await self.app(scope, _replaying(body), send)
            return
        # Written and committed: from here on nothing is replayed (that would create it twice).
        await router.render_create(request, outcome)(scope, replay, send)

    async def _read(self, scope: Scope, rtype: str, rid: str, send: Send) -> bool:
        media = _media(dict(scope["headers"]), _READ_HANDED_OVER)
        if media is None:
            return False
        request = Request(scope)
        try:
            policy = await bind_policy(request)
            version = await request.app.state.resources.read(rtype, rid, policy)
        except FhirError:
            return False
        await _send_version(send, version, media)
        trail = self.trail_of()
        if trail is not None:
            record_request(trail, scope, 200)
        return True


def _media(headers: dict[bytes, bytes], handed_over: frozenset[bytes]) -> str | None:
    """The response media type, or None when the request belongs to the full stack (one of the
    ``handed_over`` headers, or an Accept it must answer with 406)."""
    if not handed_over.isdisjoint(headers):
        return None
    accept = headers.get(b"accept")
    try:
        return negotiate_media(None, accept.decode("latin-1") if accept is not None else None)
    except FhirError:
        return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    """A ``receive`` that hands out an already read body (then waits as a finished request does)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # nothing more will come; the server cancels us on disconnect
        return {"type": "http.disconnect"}

    return receive


async def _send_version(send: Send, version: Version, media: str) -> None:
    body: Any = version.body
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", f"{media}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
        (b"etag", version.etag.encode()),
        (b"last-modified", version.last_modified.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
