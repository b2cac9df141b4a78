"""Thin routes for the instance and type interactions of http://hl7.org/fhir/R4/http.html.

Each route parses HTTP (path, headers, body), makes one service call and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import Response

from ..errors import BadRequest, Issue, operation_outcome
from ..fhir.body import read_json_body
from ..fhir.summary import apply_elements, apply_summary
from ..jsonio import parse_json
from ..render import check_content_type, fhir_response, negotiate
from ..smart_auth.policy import policy_of
from .interactions import WriteOutcome, check_type
from .patch_formats import PATCH_MEDIA_TYPES, patcher_for
from .service import ResourceService
from .versions import Version, parse_etag, parse_http_date

__all__ = ["router", "hot_router"]

router = APIRouter()
FORMAT_PARAMS = ("_format", "_pretty")
READ_PARAMS = (*FORMAT_PARAMS, "_summary", "_elements")


class _TypeConvertor(Convertor[str]):
    regex = "[A-Z][A-Za-z]{1,63}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _IdConvertor(_TypeConvertor):
    regex = "[A-Za-z0-9.-]{1,64}"


register_url_convertor("fhirtype", _TypeConvertor())
register_url_convertor("fhirid", _IdConvertor())
# Reads (those FastReadMiddleware hands over) and creates are the hottest paths: this router is
# tried first, and its patterns cannot match "_history", "$operation" or lower-case paths
# (bulkstatus, ...), which the routers after it own.
hot_router = APIRouter()


def _service(request: Request) -> ResourceService:
    service: ResourceService = request.app.state.resources
    return service


def _base(request: Request) -> str:
    base: str = request.app.state.settings.public_base
    return base


def _if_match(request: Request) -> str | None:
    value = request.headers.get("if-match")
    return parse_etag(value) if value else None


def _query_params(request: Request) -> list[tuple[str, str]]:
    """Search criteria of a conditional request: the query minus result/format controls."""
    return [(k, v) for k, v in request.query_params.multi_items() if k not in FORMAT_PARAMS]


def _refuse_unused(request: Request, interaction: str, used: tuple[str, ...] = FORMAT_PARAMS) -> None:
    """A parameter an interaction does not use is refused, never silently ignored (a client that
    sends ``GET Patient/1?name=x`` or ``DELETE Patient/1?identifier=y`` means something else)."""
    unused = sorted({k for k in request.query_params if k not in used})
    if unused:
        raise BadRequest(f"The {interaction} interaction does not take the parameter(s) {', '.join(unused)}"
                         f" (it takes only {', '.join(used)})")


def _create_condition(request: Request) -> str | None:
    """``If-None-Exist``, or the search parameters of ``POST [type]?criteria`` (what fhirpy's
    ``get_or_create()`` sends): both are a conditional create (http.html#ccreate)."""
    header = request.headers.get("if-none-exist")
    query = _query_params(request)
    if not query:
        return header
    if header is not None:
        raise BadRequest("A conditional create takes its criteria from If-None-Exist or from the URL, not both")
    return urlencode(query)


def _render_read(request: Request, version: Version) -> Response:
    assert version.body is not None
    headers = version.headers()
    if _not_modified(request, version):
        return Response(status_code=304, headers=headers)
    summary, elements = request.query_params.get("_summary"), request.query_params.get("_elements")
    if summary is None and elements is None:
        return fhir_response(request, version.body, headers=headers)
    resource = parse_json(version.body, max_depth=None)
    if summary is not None:
        resource = apply_summary(resource, summary)
    if elements is not None:
        resource = apply_elements(resource, elements.split(","))
    return fhir_response(request, resource, headers=headers)


def _not_modified(request: Request, version: Version) -> bool:
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        tags = {t.strip() for t in none_match.split(",")}
        return "*" in tags or any(parse_etag(t) == str(version.version_id) for t in tags)
    modified_since = request.headers.get("if-modified-since")
    if modified_since is not None:
        return version.last_updated.replace(microsecond=0) <= parse_http_date(modified_since)
    return False


def _prefer_return(request: Request) -> str:
    for part in request.headers.get("prefer", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "return":
            return value.strip().strip('"').lower()
    return "representation"


def _render_write(request: Request, outcome: WriteOutcome, status: int, location: bool) -> Response:
    version = outcome.version
    headers = version.headers(_base(request) if location else None)
    preference = _prefer_return(request)
    if preference == "minimal":
        return fhir_response(request, None, status, headers)
    if preference == "operationoutcome":
        message = f"{version.resource_type}/{version.id} version {version.version_id} stored"
        issues = [Issue("information", "informational", message), *outcome.issues]
        return fhir_response(request, operation_outcome(issues), status, headers)
    return fhir_response(request, version.body, status, headers)


@hot_router.get("/{resource_type:fhirtype}/{resource_id:fhirid}")
@router.get("/{resource_type}/{resource_id}")
async def read(request: Request, resource_type: str, resource_id: str) -> Response:
    _refuse_unused(request, "read", READ_PARAMS)
    return _render_read(request, await _service(request).read(resource_type, resource_id, policy_of(request)))


@router.get("/{resource_type}/{resource_id}/_history/{version_id}")
async def vread(request: Request, resource_type: str, resource_id: str, version_id: str) -> Response:
    _refuse_unused(request, "vread", READ_PARAMS)
    return _render_read(request, await _service(request).vread(resource_type, resource_id, version_id,
                                                                policy_of(request)))


@hot_router.post("/{resource_type:fhirtype}")
@router.post("/{resource_type}")
async def create(request: Request, resource_type: str) -> Response:
    return render_create(request, await create_outcome(request, resource_type))


async def create_outcome(request: Request, resource_type: str) -> WriteOutcome:
    """The create itself (committed when this returns); ``render_create`` answers it."""
    negotiate(request)  # 406 before the write, never after its commit
    check_type(resource_type)
    condition = _create_condition(request)
    body = await read_json_body(request)
    return await _service(request).create(resource_type, body, condition, policy_of(request))


def render_create(request: Request, outcome: WriteOutcome) -> Response:
    if not outcome.created:  # conditional create matched one: 200 with the existing resource
        return _render_write(request, outcome, 200, location=False)
    return _render_write(request, outcome, 201, location=True)


@router.put("/{resource_type}/{resource_id}")
async def update(request: Request, resource_type: str, resource_id: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    _refuse_unused(request, "update")
    check_type(resource_type)
    body = await read_json_body(request)
    outcome = await _service(request).update(resource_type, resource_id, body, _if_match(request),
                                             policy_of(request))
    return _render_write(request, outcome, 201 if outcome.created else 200, location=outcome.created)


@router.put("/{resource_type}")
async def conditional_update(request: Request, resource_type: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    check_type(resource_type)
    query = _query_params(request)
    if not query:
        raise BadRequest("PUT on a type needs search criteria (conditional update) or an id in the URL")
    body = await read_json_body(request)
    outcome = await _service(request).conditional_update(resource_type, query, body, _if_match(request),
                                                         policy_of(request))
    return _render_write(request, outcome, 201 if outcome.created else 200, location=outcome.created)


async def _patch_function(request: Request) -> Callable[[dict[str, Any]], dict[str, Any]]:
    media = check_content_type(request, allowed=PATCH_MEDIA_TYPES)
    document = await read_json_body(request, allowed=PATCH_MEDIA_TYPES)
    return patcher_for(media, document)


@router.patch("/{resource_type}/{resource_id}")
async def patch(request: Request, resource_type: str, resource_id: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    _refuse_unused(request, "patch")
    check_type(resource_type)
    apply = await _patch_function(request)
    outcome = await _service(request).patch(resource_type, resource_id, None, apply, _if_match(request),
                                            policy_of(request))
    return _render_write(request, outcome, 200, location=False)


@router.patch("/{resource_type}")
async def conditional_patch(request: Request, resource_type: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    check_type(resource_type)
    query = _query_params(request)
    if not query:
        raise BadRequest("PATCH on a type needs search criteria (conditional patch) or an id in the URL")
    apply = await _patch_function(request)
    outcome = await _service(request).patch(resource_type, None, query, apply, _if_match(request),
                                            policy_of(request))
    return _render_write(request, outcome, 200, location=False)


def _deleted_response(request: Request, message: str, version: Version | None) -> Response:
    headers = {"ETag": version.etag} if version else {}
    if _prefer_return(request) == "minimal":
        return Response(status_code=204, headers=headers)
    outcome = operation_outcome([Issue("information", "informational", message)])
    return fhir_response(request, outcome, 200, headers)


@router.delete("/{resource_type}/{resource_id}")
async def delete(request: Request, resource_type: str, resource_id: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    _refuse_unused(request, "delete")
    version = await _service(request).delete(resource_type, resource_id, _if_match(request), policy_of(request))
    if version is None:
        return _deleted_response(request, f"{resource_type}/{resource_id} does not exist: nothing to delete",
                                 None)
    return _deleted_response(request, f"Deleted {resource_type}/{resource_id} (version {version.version_id})",
                             version)


@router.delete("/{resource_type}")
async def conditional_delete(request: Request, resource_type: str) -> Response:
    negotiate(request)  # 406 before the write, never after its commit
    check_type(resource_type)
    query = _query_params(request)
    if not query:
        raise BadRequest("DELETE on a type needs search criteria (conditional delete) or an id in the URL")
    limit = request.app.state.settings.max_conditional_delete
    deleted = await _service(request).conditional_delete(resource_type, query, limit, policy_of(request))
    if not deleted:
        return _deleted_response(request, f"No {resource_type} matched: nothing deleted", None)
    names = ", ".join(f"{v.resource_type}/{v.id}" for v in deleted)
    return _deleted_response(request, f"Deleted {len(deleted)} resource(s): {names}",
                             deleted[0] if len(deleted) == 1 else None)
