"""The audit trail as the FHIR ``AuditEvent`` type: search, read, create (POST, or PUT of a new
id); an existing AuditEvent is never updated or deleted.

http://hl7.org/fhir/R4/auditevent.html. The server's own records and AuditEvents that other
systems submit (``POST AuditEvent``, as an IHE ATNA/BALP audit feed does) live in the same
append-only, hash-chained table. Reading it is for administrators only: a token whose
``user/`` (Practitioner) or ``system/`` scopes name ``AuditEvent`` explicitly, without a
granular filter (``user/*.rs`` is not enough: a clinician's wildcard must not open the trail).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
import psycopg
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.events import AuditRecord
from ..audit.query import audit_statement, parse_audit_query
from ..audit.recorder import insert_records
from ..errors import BadRequest, Forbidden, MethodNotAllowed, NotFound
from ..fhir.body import read_json_body
from ..fhir.datetimes import now_instant, parse_instant
from ..render import fhir_response
from ..smart_auth.policy import Policy, policy_of
from .interactions import check_body, check_id, validate_or_raise

__all__ = ["router", "audit_administrator"]

router = APIRouter()
APPEND_ONLY = "AuditEvents are an append-only trail: they cannot be updated or deleted"


def audit_administrator(policy: Policy, interaction: str) -> bool:
    if policy.open:
        return True
    user_kind = (policy.access.user or "").split("/")[0]
    for scope in policy.access.scopes.resource_scopes:
        if scope.resource_type == "AuditEvent" and interaction in scope.interactions and not scope.query \
                and (scope.context == "system" or scope.context == "user" and user_kind in ("", "Practitioner")):
            return True
    return False


def _require_admin(request: Request, interaction: str) -> None:
    if not audit_administrator(policy_of(request), interaction):
        raise Forbidden("The audit trail is for administrators: a user/ or system/ scope naming AuditEvent is needed")


def _bundle(base: str, rows: list[tuple[int, str, str]], count: int, applied: list[tuple[str, str]]) -> bytes:
    more = len(rows) > count
    rows = rows[:count]
    params = [*applied, ("_count", str(count))] if not any(k == "_count" for k, _ in applied) else applied
    links = [{"relation": "self", "url": f"{base}/AuditEvent?{urlencode(params)}"}]
    if more and rows:
        links.append({"relation": "next", "url": f"{base}/AuditEvent?{urlencode([*params, ('_cursor', rows[-1][0])])}"})
    entries = []
    for _, rid, content in rows:  # stored bytes as they are (no parse per row)
        entries.append({"fullUrl": f"{base}/AuditEvent/{rid}", "resource": orjson.Fragment(content.encode()),
                        "search": {"mode": "match"}})
    return orjson.dumps({"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries})


@router.get("/AuditEvent")
async def search_audit(request: Request) -> Response:
    _require_admin(request, "s")
    settings = request.app.state.settings
    query = parse_audit_query(list(request.query_params.multi_items()), settings.default_page_size,
                              settings.max_page_size)
    statement, args = audit_statement(query)
    async with request.app.state.db.connection() as conn:
        rows = await (await conn.execute(statement, args)).fetchall()
    return fhir_response(request, _bundle(settings.public_base, [(r[0], r[1], r[2]) for r in rows], query.count,
                                          query.applied))


@router.get("/AuditEvent/{event_id}")
async def read_audit(request: Request, event_id: str) -> Response:
    _require_admin(request, "r")
    async with request.app.state.db.connection() as conn:
        row = await (await conn.execute("SELECT content::text FROM audit_event WHERE id = %s", (event_id,))).fetchone()
    if row is None:
        raise NotFound(f"Resource AuditEvent/{event_id} is not known")
    return fhir_response(request, row[0].encode())


def _refs(values: list[Any]) -> list[str]:
    return [v["reference"] for v in values if isinstance(v, dict) and isinstance(v.get("reference"), str)]


def _submitted_record(resource: dict[str, Any], policy: Policy, rid: str | None = None) -> AuditRecord:
    """An AuditEvent from another system, stored as sent (with a server-assigned id unless ``rid``)."""
    rid = rid or str(uuid.uuid4())
    stored = {**resource, "id": rid}
    recorded = parse_instant(resource["recorded"], "recorded") if "recorded" in resource else now_instant()
    entities = _refs([e.get("what") for e in resource.get("entity", [])])
    agents = _refs([a.get("who") for a in resource.get("agent", [])])
    subtype = (resource.get("subtype") or [resource.get("type") or {}])[0].get("code", "unknown")
    return AuditRecord(rid, recorded, resource.get("action", "E"), subtype, resource.get("outcome", "0"),
                       policy.access.client_id, next(iter(agents), None),
                       tuple(r for r in entities if r.startswith("Patient/")), tuple(entities), None, stored)


async def _append(request: Request, rid: str | None) -> Response:
    policy = policy_of(request)
    if not policy.allows("AuditEvent", "c"):
        raise Forbidden("The access token grants no scope to create AuditEvent resources")
    resource = check_body("AuditEvent", await read_json_body(request))
    if rid is not None and resource.get("id") != rid:
        raise BadRequest(f"Body id '{resource.get('id')}' does not match the URL id '{rid}'")
    validate_or_raise(resource)
    record = _submitted_record(resource, policy, rid)
    async with request.app.state.db.transaction() as conn:
        if rid is not None and await _exists(conn, rid):
            raise MethodNotAllowed(APPEND_ONLY)
        try:
            await insert_records(conn, [record])
        except psycopg.errors.UniqueViolation as exc:  # a concurrent PUT of the same new id won
            raise MethodNotAllowed(APPEND_ONLY) from exc
    base = request.app.state.settings.public_base
    headers = {"Location": f"{base}/AuditEvent/{record.id}"}
    return fhir_response(request, record.content, 201, headers)


async def _exists(conn: Any, rid: str) -> bool:
    return await (await conn.execute("SELECT 1 FROM audit_event WHERE id = %s", (rid,))).fetchone() is not None


@router.post("/AuditEvent")
async def create_audit(request: Request) -> Response:
    return await _append(request, None)


@router.put("/AuditEvent/{event_id}")
async def create_audit_with_id(request: Request, event_id: str) -> Response:
    """Update-as-create (http.html#upsert) of a new id appends; an existing AuditEvent never changes."""
    check_id(event_id)
    return await _append(request, event_id)


@router.api_route("/AuditEvent/{event_id}", methods=["PATCH", "DELETE"])
@router.api_route("/AuditEvent", methods=["PUT", "PATCH", "DELETE"])
async def refuse_change(request: Request) -> Response:
    raise MethodNotAllowed(APPEND_ONLY)
