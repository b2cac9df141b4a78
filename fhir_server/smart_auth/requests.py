"""The one Starlette <-> authlib adapter: requests in, responses out, and the thread bridge.

authlib (https://docs.authlib.org/en/latest/oauth2/specs/rfc6749.html) is synchronous: its
grants call ``query_client``, ``save_token`` and friends as plain functions. Our storage
is async (psycopg pool on the event loop), so authlib runs in a worker thread
(``run_sync``) and its hooks reach storage through ``AsyncBridge``, which schedules the
coroutine on the server's loop and waits for it. The loop stays free meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .discovery import cors_headers

__all__ = ["AsyncBridge", "SmartOAuth2Request", "from_starlette", "from_params", "to_response",
           "MAX_FORM_BYTES"]

T = TypeVar("T")
MAX_FORM_BYTES = 64 * 1024  # OAuth requests are small; refuse anything bigger before parsing


class AsyncBridge:
    """Run a coroutine on ``loop`` from an authlib worker thread and wait for its result."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float = 30.0) -> None:
        self.loop = loop
        self.timeout = timeout

    def __call__(self, coro: Awaitable[T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            # Blocking here would deadlock the loop: authlib must be called via run_sync.
            raise RuntimeError("authlib hook called on the event loop thread; use run_sync()")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        return future.result(self.timeout)

    async def run_sync(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(func, *args)


class SmartOAuth2Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            values[key].append(value)
        self._datalist = values
        self._data = {key: items[0] for key, items in values.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class SmartOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An OAuth2Request whose parameters come from the query (GET) or the form body (POST)."""

    def __init__(self, method: str, uri: str, headers: Mapping[str, str], pairs: list[tuple[str, str]]) -> None:
        super().__init__(method=method, uri=uri, headers=headers)
        self.payload = SmartOAuth2Payload(pairs)
        self._form = self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return self._form if self.method == "GET" else {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def read_form_pairs(request: Request) -> list[tuple[str, str]]:
    """The urlencoded body as (name, value) pairs; an empty list for anything else."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return []
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return []
    form = await request.form(max_fields=200)
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


async def from_starlette(request: Request, uri: str) -> SmartOAuth2Request:
    """Adapt a request. ``uri`` is the endpoint's public URL (what authlib checks for TLS)."""
    if request.method == "GET":
        pairs = list(request.query_params.multi_items())
    else:
        pairs = await read_form_pairs(request)  # token-endpoint parameters belong in the body
    return SmartOAuth2Request(request.method, uri, request.headers, pairs)  # case-insensitive


def from_params(uri: str, params: dict[str, str]) -> SmartOAuth2Request:
    """Rebuild an authorization request from stored parameters (after login and consent)."""
    return SmartOAuth2Request("POST", uri, {}, list(params.items()))


def to_response(result: tuple[int, Any, list[tuple[str, str]]], cors: bool = False) -> Response:
    """An authlib (status, body, headers) triple as a Starlette response."""
    status, body, header_list = result
    headers = dict(header_list or [])
    if status in (301, 302, 303) and "Location" in headers:
        return RedirectResponse(headers["Location"], status_code=status,
                                headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
    headers.setdefault("Cache-Control", "no-store")
    headers.setdefault("Pragma", "no-cache")
    headers.pop("Content-Type", None)
    if cors:
        headers.update(cors_headers())
    content = body if isinstance(body, bytes) else orjson.dumps(body if body != "" else {})
    return Response(content, status_code=status, headers=headers, media_type="application/json")
