"""Search routes (thin): http://hl7.org/fhir/R4/http.html#search, search.html#compartments.

GET ``[type]``, POST ``[type]/_search`` (form body merged with the query string: identical
results), compartment searches ``[compartment]/[id]/[type]`` and ``/*``, and system search
``GET [base]?...``. Each route parses HTTP, makes one service call, renders a Bundle. The
query string and the form body are bounded (search/limits.py) before they are parsed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest, NotFound, UnsupportedMediaType
from ..fhir.numbers import is_ascii_digits
from ..render import fhir_response
from ..smart_auth.policy import policy_of
from .limits import SearchLimits, check_query_size
from .results import bundle_bytes
from .service import SearchOptions, check_type, search

__all__ = ["router"]

router = APIRouter()
FORM = "application/x-www-form-urlencoded"


def _options(request: Request) -> SearchOptions:
    settings = request.app.state.settings
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return SearchOptions(settings.public_base, settings.default_page_size, settings.max_page_size,
                         strict="handling=strict" in prefer.split(","), limits=_limits(request))


def _limits(request: Request) -> SearchLimits:
    return SearchLimits.from_settings(request.app.state.settings)


def _items(request: Request) -> list[tuple[str, str]]:
    check_query_size(len(request.scope.get("query_string", b"")), _limits(request))
    return list(request.query_params.multi_items())


async def _form_body(request: Request) -> str:
    """The form body, refused (400 too-costly) past the limit before more of it is buffered."""
    limits = _limits(request)
    declared = request.headers.get("content-length", "")
    if is_ascii_digits(declared):
        check_query_size(int(declared), limits, form=True)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        check_query_size(len(body), limits, form=True)
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("The form body is not valid UTF-8") from exc


async def _run(request: Request, types: list[str] | None, items: list[tuple[str, str]], path: str,
               compartment: tuple[str, str] | None = None) -> Response:
    options = _options(request)
    async with request.app.state.db.connection() as conn:
        result = await search(conn, types, items, options, compartment, access=policy_of(request))
    return fhir_response(request, bundle_bytes(result, options.base, options.base + path))


@router.get("/")
@router.get("")
async def system_search(request: Request) -> Response:
    items = [(k, v) for k, v in _items(request) if k not in ("_format", "_pretty")]
    if not items:
        raise NotFound("GET on the base needs search parameters (system search), e.g. ?_type=Patient")
    return await _run(request, None, _items(request), "")


@router.get("/{resource_type}")
async def type_search(request: Request, resource_type: str) -> Response:
    check_type(resource_type)
    return await _run(request, [resource_type], _items(request), f"/{resource_type}")


@router.post("/{resource_type}/_search")
async def type_search_post(request: Request, resource_type: str) -> Response:
    check_type(resource_type)
    media = request.headers.get("content-type", FORM).split(";")[0].strip().lower()
    if media != FORM:
        raise UnsupportedMediaType(f"POST {resource_type}/_search takes {FORM}, not {media}")
    items = _items(request) + parse_qsl(await _form_body(request), keep_blank_values=True)
    return await _run(request, [resource_type], items, f"/{resource_type}")


@router.get("/{compartment_type}/{compartment_id}/{resource_type}")
async def compartment_search(request: Request, compartment_type: str, compartment_id: str,
                             resource_type: str) -> Response:
    check_type(compartment_type)
    if resource_type != "*":
        check_type(resource_type)
    path = f"/{compartment_type}/{compartment_id}/{resource_type}"
    return await _run(request, [resource_type], _items(request), path, (compartment_type, compartment_id))
