"""What every app route shares: friendly errors with the request id, the session guard, CSRF."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import urlencode

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import login, sessions
from .render import page
from .security import csrf_ok

__all__ = ["FriendlyErrors", "checked_form", "refused", "require_session"]

log = logging.getLogger(__name__)


class FriendlyErrors(APIRoute):
    """Any unexpected error on an app page answers a friendly page with the request id (the
    details go to the server log under that id), never a stack trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception:
                log.exception("app page %s failed", request.url.path)
                return page(request, "error.html", 500, title_key="error_title", text_key="error_text")

        return guarded


async def checked_form(request: Request) -> dict[str, str] | None:
    """The posted form if its CSRF token is good, else None."""
    form = await request.form(max_fields=50)
    values = {k: str(v) for k, v in form.items()}
    return values if csrf_ok(request, values.get("csrf", "")) else None


def refused(request: Request) -> Response:
    return page(request, "error.html", 403, title_key="error_title", text_key="form_expired")


async def require_session(request: Request) -> sessions.Session | Response:
    """The signed-in session, or a redirect to sign in and then back to this page (ids only in
    the query of the app's pages: no names or other PHI)."""
    session = await login.signed_in(request)
    if session is not None and session.patient:
        return session
    here = request.url.path + (f"?{request.url.query}" if request.url.query and request.method == "GET" else "")
    return RedirectResponse(f"/app/login?{urlencode({'next': here})}", status_code=303)
