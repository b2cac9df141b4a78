"""Content negotiation and FHIR responses.

http://hl7.org/fhir/R4/http.html#mime-type and #parameters: ``_format`` overrides ``Accept``;
JSON only (``application/fhir+json``, ``application/json``, ``json``); the ``fhirVersion``
MIME parameter must name 4.0 when present; ``_pretty=true`` indents.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .errors import NotAcceptable, UnsupportedMediaType
from .jsonio import dumps, parse_json

__all__ = ["fhir_response", "negotiate", "negotiate_media", "check_content_type", "FHIR_JSON", "is_pretty"]

FHIR_JSON = "application/fhir+json"
JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir", "json",
              "text/json", "application/*", "*/*", "text/*"}
FORMAT_ALIASES = {"json": FHIR_JSON, "application/json": "application/json",
                  "application/fhir+json": FHIR_JSON, "application/json+fhir": FHIR_JSON}
XML_TYPES = {"xml", "text/xml", "application/xml", "application/fhir+xml", "application/xml+fhir"}
SUPPORTED_VERSIONS = ("4.0", "4.0.1")


def _split_media(value: str) -> tuple[str, dict[str, str]]:
    main, *params = value.split(";")
    parsed = {}
    for param in params:
        key, _, val = param.strip().partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return main.strip().lower(), parsed


def _check_version(params: dict[str, str], error: type) -> None:
    version = params.get("fhirversion")
    if version is not None and version not in SUPPORTED_VERSIONS:
        raise error(f"fhirVersion {version} is not supported: this server speaks FHIR 4.0.1 only")


def negotiate(request: Request) -> str:
    """Return the response media type, or raise 406 for a format we cannot produce."""
    return negotiate_media(request.query_params.get("_format"), request.headers.get("accept"))


def negotiate_media(fmt: str | None, accept: str | None) -> str:
    """The media type for a ``_format`` parameter and an ``Accept`` header (406 if neither is JSON)."""
    if fmt:
        media, params = _split_media(fmt.replace(" ", "+"))  # '+' arrives decoded as a space
        _check_version(params, NotAcceptable)
        if media in FORMAT_ALIASES:
            return FORMAT_ALIASES[media]
        raise NotAcceptable(f"_format={fmt} is not supported: this server serves JSON only")
    if not accept:
        return FHIR_JSON
    candidates = [_split_media(part) for part in accept.split(",") if part.strip()]
    for media, params in candidates:
        if media in JSON_TYPES and params.get("q") != "0":
            _check_version(params, NotAcceptable)
            return "application/json" if media == "application/json" else FHIR_JSON
    if any(media in XML_TYPES or media == "text/html" for media, _ in candidates):
        raise NotAcceptable(f"Accept: {accept} cannot be served: this server serves JSON only")
    return FHIR_JSON


def check_content_type(request: Request, allowed: tuple[str, ...] = ()) -> str:
    """Validate the request Content-Type for a body; return its bare media type."""
    header = request.headers.get("content-type")
    if not header:
        return FHIR_JSON  # many clients omit it for JSON; the body parser still checks the bytes
    media, params = _split_media(header)
    _check_version(params, UnsupportedMediaType)
    if media in {"application/fhir+json", "application/json", "application/json+fhir"} or media in allowed:
        return media
    raise UnsupportedMediaType(f"Content-Type {media} is not supported: send application/fhir+json")


def is_pretty(request: Request) -> bool:
    return request.query_params.get("_pretty", "").lower() == "true"


def fhir_response(request: Request, body: bytes | dict[str, Any] | None, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    """A FHIR JSON response; ``body`` may be stored JSON bytes (served as is) or a dict."""
    media = negotiate(request)
    if body is None:
        return Response(status_code=status, headers=headers)
    if isinstance(body, dict):
        payload = dumps(body, pretty=is_pretty(request))
    elif is_pretty(request):
        payload = dumps(parse_json(body, max_depth=None), pretty=True)
    else:
        payload = body
    return Response(payload, status_code=status, headers=headers,
                    media_type=f"{media}; charset=utf-8")
