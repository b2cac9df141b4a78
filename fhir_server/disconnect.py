"""A client that goes away cancels its request, and with it the request's database statement.

An ASGI server only reports a disconnect through ``receive()`` (``http.disconnect``,
https://asgi.readthedocs.io/en/latest/specs/www.html#disconnect-receive-event), which most
routes never call once the body is read, so without this the work of an abandoned request (a
search the client gave up on) runs to its end. This middleware reads ``receive()`` on the
request's behalf in a small watcher task, handing the body on message by message (at most one
message ahead, so large bodies are not buffered), and when the client disconnects before the
response is complete it cancels the request's task. psycopg answers the cancellation of a
task waiting for a statement by sending PostgreSQL a cancel request for it.

The two hot-path shapes are not watched: a read by id and a create of a type without write rules
are one bounded statement each that waits on no lock (``statement_timeout`` bounds them anyway),
and the watcher task costs them about a tenth of their server time.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .resources.hot_paths import CREATE_PATH, READ_PATH
from .rules import has_rules

__all__ = ["DisconnectMiddleware"]

_DISCONNECT: Message = {"type": "http.disconnect"}


class DisconnectMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _bounded(scope):
            await self.app(scope, receive, send)
            return
        request = asyncio.current_task()
        assert request is not None
        messages: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        state = {"responded": False, "cancelled": False}

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    if not state["responded"]:  # after the response, a disconnect is just the end
                        state["cancelled"] = True
                        request.cancel()
                    await messages.put(message)
                    return
                await messages.put(message)

        async def relayed_receive() -> Message:
            if state["cancelled"] and messages.empty():
                return _DISCONNECT
            return await messages.get()

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                state["responded"] = True  # set before the server learns the response is complete
            await send(message)

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await self.app(scope, relayed_receive, tracking_send)
        except asyncio.CancelledError:
            if not state["cancelled"]:
                raise  # cancelled by someone else (the server shutting down)
            request.uncancel()  # the client is gone: nobody to answer
        finally:
            watcher.cancel()


def _bounded(scope: Scope) -> bool:
    """A read by id, or a create of a type whose writes take no lock (no write rules)."""
    if scope["query_string"]:
        return False
    if scope["method"] == "GET":
        return READ_PATH.fullmatch(scope["path"]) is not None
    if scope["method"] == "POST":
        match = CREATE_PATH.fullmatch(scope["path"])
        return match is not None and not has_rules(match[1])
    return False
