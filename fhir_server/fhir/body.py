"""Request bodies: size limit (413), media type (415), parsed once into JSON (400 on defects)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ..errors import BadRequest, PayloadTooLarge
from ..jsonio import parse_json
from ..render import check_content_type
from .numbers import is_ascii_digits

__all__ = ["read_json_body", "read_limited"]


async def read_limited(request: Request) -> bytes:
    """The raw body, refusing more than the configured maximum before buffering it all."""
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and is_ascii_digits(declared) and int(declared) > limit:
        raise PayloadTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_body(request: Request, allowed: tuple[str, ...] = ()) -> Any:
    check_content_type(request, allowed)
    raw = await read_limited(request)
    if not raw.strip():
        raise BadRequest("Request body is empty: a FHIR resource was expected")
    return parse_json(raw, request.app.state.settings.max_json_depth)
