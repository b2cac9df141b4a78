"""Routes for history at system, type and instance level (http://hl7.org/fhir/R4/http.html#history).

Registered before the instance routes so ``/Patient/_history`` is never read as an id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..definitions import definitions
from ..render import fhir_response
from ..smart_auth.policy import policy_of
from . import repository
from .history import fetch_history, history_bundle, parse_history_query
from .interactions import check_id, check_type

__all__ = ["router"]

router = APIRouter()


async def _history(request: Request, rtype: str | None, rid: str | None, path: str) -> Response:
    settings = request.app.state.settings
    query = parse_history_query(list(request.query_params.multi_items()), rtype, rid,
                                settings.default_page_size, settings.max_page_size)
    policy = policy_of(request)
    rows_of = versions_of = None
    if rtype is None:
        for each in sorted(definitions().resource_types):
            policy.require_unrestricted(each, "s", "System history")
    elif rid is None:
        rows_of, versions_of = policy.predicate(rtype, "s"), policy.versions(rtype, "s")
    else:
        versions_of = policy.versions(rtype, "r")
    async with request.app.state.db.connection() as conn:
        if rtype and rid:
            await policy.check_visible(conn, rtype, rid, "r")
        rows, total = await fetch_history(conn, query, rows_of, versions_of)
        if rtype and rid and not rows and query.cursor is None:
            await repository.read_any(conn, rtype, rid)  # 404 for an id never written
    return fhir_response(request, history_bundle(settings.public_base, path, query, rows, total))


@router.get("/_history")
async def system_history(request: Request) -> Response:
    return await _history(request, None, None, "_history")


@router.get("/{resource_type}/_history")
async def type_history(request: Request, resource_type: str) -> Response:
    return await _history(request, check_type(resource_type), None, f"{resource_type}/_history")


@router.get("/{resource_type}/{resource_id}/_history")
async def instance_history(request: Request, resource_type: str, resource_id: str) -> Response:
    check_type(resource_type)
    check_id(resource_id)
    return await _history(request, resource_type, resource_id, f"{resource_type}/{resource_id}/_history")
