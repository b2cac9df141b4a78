"""The read interaction's hot path (http://hl7.org/fhir/R4/http.html#read), served below the framework.

``GET /fhir/{type}/{id}`` with no query string, no conditional headers and no CORS origin is
most of an EHR's traffic. This plain ASGI middleware answers it with the same service call and
the same policy as the routed read (``router.read``) but without the framework layers between
(routing over every router, dependency injection, CORS and exception middleware, Response
objects), which cost as much CPU as the read itself.

It only ever answers a successful read: when anything is unusual (a token that does not
authenticate, a hidden, unknown or deleted resource, an Accept it cannot serve) it hands the
request unchanged to the full stack, which renders the error exactly as for any other route.
Nothing it did before handing over has effects: authentication and the read are queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..audit.trail import AuditTrail, record_request
from ..errors import FhirError
from ..render import negotiate_media
from ..smart_auth.policy import bind_policy
from .versions import Version

__all__ = ["FastReadMiddleware"]

# The same shapes as the routed read's path convertors (router._TypeConvertor, _IdConvertor).
_READ_PATH = re.compile(r"/fhir/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9.\-]{1,64})")
# Headers that make a read something else: conditional reads, CORS (the CORS middleware answers).
_HANDED_OVER = frozenset({b"if-none-match", b"if-modified-since", b"origin"})


class FastReadMiddleware:
    def __init__(self, app: ASGIApp, trail_of: Callable[[], AuditTrail | None]) -> None:
        self.app = app
        self.trail_of = trail_of  # the audit trail exists only once the lifespan has started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _READ_PATH.fullmatch(scope["path"])
            if match is not None and await self._serve(scope, match[1], match[2], send):
                return
        await self.app(scope, receive, send)

    async def _serve(self, scope: Scope, rtype: str, rid: str, send: Send) -> bool:
        accept = None
        for name, value in scope["headers"]:
            if name in _HANDED_OVER:
                return False
            if name == b"accept":
                accept = value.decode("latin-1")
        request = Request(scope)
        try:
            media = negotiate_media(None, accept)
            policy = await bind_policy(request)
            version = await request.app.state.resources.read(rtype, rid, policy)
        except FhirError:
            return False
        await _send_version(send, version, media)
        trail = self.trail_of()
        if trail is not None:
            record_request(trail, scope, 200)
        return True


async def _send_version(send: Send, version: Version, media: str) -> None:
    body: Any = version.body
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", f"{media}; charset=utf-8".encode()),
        (b"content-length", str(len(body)).encode()),
        (b"etag", version.etag.encode()),
        (b"last-modified", version.last_modified.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
