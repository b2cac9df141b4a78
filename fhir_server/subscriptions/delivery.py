"""One HTTP attempt at a rest-hook endpoint: a timeout, no redirects, the channel's headers.

The endpoint is checked again before each attempt (endpoint.py: a name may resolve elsewhere now).
A 2xx answer is a delivery; anything else (another status, a timeout, a refused connection) is a
failure whose short reason is kept in ``subscription_state.last_error`` and served by ``$status``.
"""

from __future__ import annotations

import httpx

from ..errors import FhirError
from .endpoint import check_endpoint
from .model import Channel

__all__ = ["FHIR_JSON", "post"]

FHIR_JSON = "application/fhir+json"


async def post(http: httpx.AsyncClient, channel: Channel, body: bytes | None, timeout: float) -> str | None:
    """None when the endpoint took the notification, else why not."""
    try:
        await check_endpoint(channel.endpoint)
    except FhirError as exc:
        return str(exc)
    headers = dict(channel.headers)
    if body is not None:
        headers["Content-Type"] = FHIR_JSON
    try:
        answer = await http.post(str(channel.endpoint), content=body or b"", headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return f"No answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"Delivery failed: {type(exc).__name__}"
    return None if 200 <= answer.status_code < 300 else f"Endpoint answered HTTP {answer.status_code}"
