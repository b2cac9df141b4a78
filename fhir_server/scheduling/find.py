"""Appointment/$find (IHE ITI Scheduling, R4; Argonaut Scheduling's $find before it).

Parameters: ``start`` and ``end`` (required; at most ``MAX_WINDOW_DAYS`` apart), ``practitioner``,
``location`` (Schedule actors), ``specialty``, ``service-type``, ``visit-type`` (Slot
``appointment-type``), ``patient``, ``_count``. Out: a searchset Bundle of ``proposed``
Appointments, one per free Slot, soonest first, paged like any search (``next`` link with
``_cursor``). A Slot is offered only if it is free (or its hold expired), starts in the window and
not in the past, and no unexpired booking row holds it: taken and held times are never offered.
The Slots come from one keyset-paged statement over the Slot side table (``find_query``), with
the caller's Slot access predicate in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from psycopg import AsyncConnection

from ..errors import BadRequest, Forbidden
from ..fhir.datetimes import parse_instant
from ..search.service import SearchOptions
from ..smart_auth.policy import Policy
from .find_query import slot_page, token_filter
from .model import reference_id

__all__ = ["find", "CAPABILITY_ENTRY", "MAX_WINDOW_DAYS"]

CAPABILITY_ENTRY = {"name": "find", "definition": "http://fhir-server.example.org/OperationDefinition/Appointment-find"}
MAX_WINDOW_DAYS = 31
FILTERS = {"specialty": "specialty", "service-type": "service-type", "visit-type": "appointment-type"}
ACTORS = {"practitioner": "Practitioner", "location": "Location"}
KNOWN = {"start", "end", "patient", "_count", "_cursor", "_format", "_pretty", *FILTERS, *ACTORS}


def _window(params: Mapping[str, str]) -> tuple[datetime, datetime]:
    if "start" not in params or "end" not in params:
        raise BadRequest("$find needs both start and end")
    start, end = parse_instant(params["start"], "start"), parse_instant(params["end"], "end")
    if end <= start:
        raise BadRequest("$find: end must be after start")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise BadRequest(f"$find: the window from start to end may span at most {MAX_WINDOW_DAYS} days")
    return max(start, datetime.now(UTC)), end


def _actor(kind: str, value: str) -> str:
    return value if value.startswith(f"{kind}/") else f"{kind}/{value}"


async def _schedules_of(conn: AsyncConnection[Any], params: Mapping[str, str]) -> list[str] | None:
    """Ids of the Schedules of the practitioner and location asked for (None: no such criterion).
    Looked up here rather than through a chained search, so a patient token needs no Schedule scope:
    their actors are practitioners, roles and locations, not patient data."""
    found: set[str] | None = None
    for name, kind in ACTORS.items():
        if name not in params:
            continue
        actor = _actor(kind, params[name])
        cur = await conn.execute(
            "SELECT id FROM resource WHERE resource_type = 'Schedule' AND version_id > 0 AND NOT deleted"
            " AND (content->'actor' @> jsonb_build_array(jsonb_build_object('reference', %s::text))"
            " OR EXISTS (SELECT 1 FROM resource p, jsonb_array_elements(content->'actor') a"
            "  WHERE p.resource_type = 'PractitionerRole' AND p.id = substr(a->>'reference', 18)"
            "  AND a->>'reference' LIKE 'PractitionerRole/%%' AND p.content->'practitioner'->>'reference' = %s))",
            (actor, actor))
        ids = {row[0] for row in await cur.fetchall()}
        found = ids if found is None else found & ids
    return None if found is None else sorted(found)


def _count(params: Mapping[str, str], options: SearchOptions) -> int:
    raw = params.get("_count")
    if raw is None:
        return options.default_count
    if not raw.isdigit():
        raise BadRequest(f"$find _count '{raw}' is not a number")
    return min(int(raw), options.max_count)


def _patient(params: Mapping[str, str], policy: Policy) -> str | None:
    """The patient the proposals are for: a patient token may only ask for its own."""
    patient = _actor("Patient", params["patient"]) if params.get("patient") else None
    access = policy.access
    own = f"Patient/{access.patient}" if access.patient else (access.user if (access.user or "").startswith(
        "Patient/") else None)
    if own is not None and access.kind == "patient":
        if patient is not None and patient != own:
            raise Forbidden("$find: a patient token may only look for its own patient's appointments")
        return own
    return patient


async def _schedules(conn: AsyncConnection[Any], slots: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Slots' Schedules (their actors are practitioners, roles, locations: no patient data)."""
    ids = sorted({r[1] for s in slots if (r := reference_id(s.get("schedule"), "Schedule"))})
    cur = await conn.execute("SELECT id, content FROM resource WHERE resource_type = 'Schedule' AND id = ANY(%s)"
                             " AND version_id > 0 AND NOT deleted", (ids,))
    return {row[0]: row[1] for row in await cur.fetchall()}


def _proposal(slot: dict[str, Any], schedule: Mapping[str, Any] | None, patient: str | None) -> dict[str, Any]:
    participants = [{"actor": actor, "required": "required", "status": "needs-action"}
                    for actor in (schedule or {}).get("actor") or [] if isinstance(actor, dict)]
    if patient is not None:
        participants.append({"actor": {"reference": patient}, "required": "required", "status": "needs-action"})
    proposal: dict[str, Any] = {"resourceType": "Appointment", "status": "proposed"}
    for source, target in (("serviceCategory", "serviceCategory"), ("serviceType", "serviceType"),
                           ("specialty", "specialty")):
        if slot.get(source):
            proposal[target] = slot[source]
    if slot.get("appointmentType"):
        proposal["appointmentType"] = slot["appointmentType"]
    proposal.update({"start": slot["start"], "end": slot["end"], "slot": [{"reference": f"Slot/{slot['id']}"}],
                     "participant": participants})
    return proposal


async def find(conn: AsyncConnection[Any], params: Mapping[str, str], policy: Policy,
               options: SearchOptions) -> dict[str, Any]:
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise BadRequest(f"$find does not know the parameter(s) {', '.join(unknown)}")
    start, end = _window(params)
    patient = _patient(params, policy)
    base = f"{options.base}/Appointment/$find"
    links = [{"relation": "self", "url": f"{base}?{urlencode(list(params.items()))}"}]
    if start >= end:  # the whole window is in the past: nothing can be offered
        return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": []}
    if not policy.allows("Slot", "s"):
        raise Forbidden("$find needs a scope to search Slots (e.g. patient/Slot.rs)")
    filters = [token_filter(name, params[name]) for name in FILTERS if name in params]
    slots, more = await slot_page(conn, await _schedules_of(conn, params), start, end, filters,
                                  policy.predicate("Slot", "s"), _count(params, options), params.get("_cursor"))
    schedules = await _schedules(conn, slots)
    entries = []
    for slot in slots:
        ref = reference_id(slot.get("schedule"), "Schedule")
        entries.append({"resource": _proposal(slot, schedules.get(ref[1]) if ref else None, patient),
                        "search": {"mode": "match"}})
    kept = [(k, v) for k, v in params.items() if k != "_cursor"]
    if more:
        links.append({"relation": "next", "url": f"{base}?{urlencode([*kept, ('_cursor', more)])}"})
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
