"""The audit trail as the FHIR ``AuditEvent`` type: search, read, and create by POST; an existing
AuditEvent is never updated or deleted, and clients never choose an AuditEvent's id.

http://hl7.org/fhir/R4/auditevent.html. The server's own records and AuditEvents that other
systems submit (``POST AuditEvent``, as an IHE ATNA/BALP audit feed does) live in the same
append-only, hash-chained table. Reading it is for administrators only: a token whose
``user/`` (Practitioner) or ``system/`` scopes name ``AuditEvent`` explicitly, without a
granular filter (``user/*.rs`` is not enough: a clinician's wildcard must not open the trail).
Submitting needs the same explicit ``c`` scope (``system/AuditEvent.c`` or an administrator's
``user/AuditEvent.c``); a patient's token is refused (403).

A submitted AuditEvent is a *report*, not something the server observed: its content is kept,
but ``source.observer`` names the reporting client (the claimed observer moves into the
``reported-by`` extension, with the client, the user and the time of receipt), and the indexed
columns come from the authenticated caller: ``user_ref``/``patient_refs`` are the token's user
and launch patient, never the body's agents, and ``recorded`` is the time of receipt, so
``AuditEvent?agent=Practitioner/dr`` does not find a report merely naming Practitioner/dr.
Its ids are random UUIDs assigned here (``PUT AuditEvent/<id>`` answers 405): no client can
take an id the server is about to use for its own records.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.events import AuditRecord, new_record_id, sealed
from ..audit.query import audit_statement, parse_audit_query
from ..audit.recorder import insert_records
from ..errors import Forbidden, MethodNotAllowed, NotFound
from ..fhir.body import read_json_body
from ..fhir.datetimes import format_instant, now_instant
from ..render import fhir_response
from ..smart_auth.policy import Policy, policy_of
from .interactions import check_body, validate_or_raise

__all__ = ["router", "audit_administrator"]

router = APIRouter()
APPEND_ONLY = "AuditEvents are an append-only trail: they cannot be updated or deleted"
NO_CLIENT_IDS = ("AuditEvent ids are assigned by the server: submit a new AuditEvent with POST [base]/AuditEvent"
                 " (the trail is append-only: AuditEvents are never updated)")
REPORTED_BY = "urn:fhir-server:audit:reported-by"
CLIENT_SYSTEM = "urn:fhir-server:client"


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


def _reported(resource: dict[str, Any], policy: Policy, rid: str, received: str) -> dict[str, Any]:
    """The submitted content, with the server's own observation: who reported it, and when."""
    access = policy.access
    client = access.client_id or "anonymous"
    source = resource["source"] if isinstance(resource.get("source"), dict) else {}
    parts: list[dict[str, Any]] = [
        {"url": "client", "valueIdentifier": {"system": CLIENT_SYSTEM, "value": client}},
        {"url": "received", "valueInstant": received}]
    if access.user:
        parts.append({"url": "user", "valueReference": {"reference": access.user}})
    if isinstance(source.get("observer"), dict):
        parts.append({"url": "claimedObserver", "valueReference": source["observer"]})
    extensions = [e for e in resource.get("extension", []) if isinstance(e, dict) and e.get("url") != REPORTED_BY]
    observer = {"identifier": {"system": CLIENT_SYSTEM, "value": client}, "display": f"reported by client {client}"}
    return {**resource, "id": rid, "extension": [*extensions, {"url": REPORTED_BY, "extension": parts}],
            "source": {**source, "observer": observer}}


def _submitted_record(resource: dict[str, Any], policy: Policy, key: bytes | None) -> AuditRecord:
    """An AuditEvent from another system, stored as reported by the caller under a server-assigned id."""
    rid, received = new_record_id(), now_instant()
    stored = _reported(resource, policy, rid, format_instant(received))
    entities = _refs([e.get("what") for e in resource.get("entity", [])])
    subtype = (resource.get("subtype") or [resource.get("type") or {}])[0].get("code", "unknown")
    access = policy.access
    patients = (f"Patient/{access.patient}",) if access.patient else ()
    return sealed(AuditRecord(rid, received, resource.get("action", "E"), subtype, resource.get("outcome", "0"),
                              access.client_id, access.user, patients, tuple(entities), None, stored), key)


@router.post("/AuditEvent")
async def create_audit(request: Request) -> Response:
    policy = policy_of(request)
    if not audit_administrator(policy, "c"):
        raise Forbidden("Submitting AuditEvents needs an explicit AuditEvent create scope of a system client"
                        " (system/AuditEvent.c) or an administrator (user/AuditEvent.c)")
    resource = check_body("AuditEvent", await read_json_body(request))
    validate_or_raise(resource)
    trail = request.app.state.audit
    record = _submitted_record(resource, policy, trail.recorder.key if trail is not None else None)
    async with request.app.state.db.transaction() as conn:
        await insert_records(conn, [record])
    base = request.app.state.settings.public_base
    return fhir_response(request, record.content, 201, {"Location": f"{base}/AuditEvent/{record.id}"})


@router.put("/AuditEvent/{event_id}")
async def refuse_client_id(request: Request, event_id: str) -> Response:
    raise MethodNotAllowed(NO_CLIENT_IDS)


@router.api_route("/AuditEvent/{event_id}", methods=["PATCH", "DELETE"])
@router.api_route("/AuditEvent", methods=["PUT", "PATCH", "DELETE"])
async def refuse_change(request: Request) -> Response:
    raise MethodNotAllowed(APPEND_ONLY)
