"""The app's only way to data: the public FHIR API with the signed-in user's token.

In-process HTTP: httpx over the ASGI transport into this same application, so each call runs
the full stack an external app meets (authentication, the access policy, the audit trail),
without a network hop or a port to configure. The outer request's id is passed on, so the
audit records of a page's API calls carry the id shown on its error page.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from ..request_id import current_request_id

__all__ = ["api", "oauth"]


def _client(request: Request) -> httpx.AsyncClient:
    root = request.app.state.webapp.root
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app), base_url=root, timeout=30)


async def api(request: Request, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """``method`` on ``/fhir/<path>`` as the user of ``token``."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json",
               "X-Request-ID": current_request_id(), **kwargs.pop("headers", {})}
    async with _client(request) as http:
        return await http.request(method, f"/fhir/{path.lstrip('/')}", headers=headers, **kwargs)


async def oauth(request: Request, endpoint: str, form: dict[str, str]) -> httpx.Response:
    """POST to ``/auth/<endpoint>`` (token, revoke) authenticated as the app (client_secret_basic)."""
    client = request.app.state.webapp
    async with _client(request) as http:
        return await http.post(f"/auth/{endpoint}", data=form, auth=(client.client_id, client.secret),
                               headers={"X-Request-ID": current_request_id()})
