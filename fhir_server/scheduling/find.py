"""Appointment/$find (IHE ITI Scheduling, R4; Argonaut Scheduling's $find before it).

Parameters: ``start`` and ``end`` (required; at most ``MAX_WINDOW_DAYS`` apart), ``practitioner``,
``location`` (Schedule actors), ``specialty``, ``service-type``, ``visit-type`` (Slot
``appointment-type``), ``patient``, ``_count``. Out: a searchset Bundle of ``proposed``
Appointments, one per free Slot, soonest first, paged like any search (``next`` link with
``_cursor``). A Slot is offered only if it is free (or its hold expired), starts in the window and
not in the past, and no unexpired booking row holds it: taken and held times are never offered.
The Slots are found by the search layer (``search.service.search``) under the caller's access.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from psycopg import AsyncConnection

from ..errors import BadRequest, Forbidden
from ..fhir.datetimes import format_instant, parse_instant
from ..search.service import SearchOptions, search
from ..search.sqlfrag import fmt
from ..smart_auth.policy import Policy
from .model import reference_id

__all__ = ["find", "CAPABILITY_ENTRY", "MAX_WINDOW_DAYS"]

CAPABILITY_ENTRY = {"name": "find", "definition": "http://fhir-server.example.org/OperationDefinition/Appointment-find"}
MAX_WINDOW_DAYS = 31
# A Slot no unexpired booking row holds (the row of a held or booked Slot is "Slot/<id>").
NOT_HELD = fmt("NOT EXISTS (SELECT 1 FROM scheduling_busy b WHERE b.actor = 'Slot/' || r.id"
               " AND (b.expires_at IS NULL OR b.expires_at > now()))")
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


async def _schedules_of(conn: AsyncConnection[Any], params: Mapping[str, str]) -> list[tuple[str, str]]:
    """``schedule`` criteria for the practitioner and location asked for. Schedules are looked up
    here, not through a chained search, so a patient token needs no Schedule scope: their actors
    are practitioners, roles and locations, not patient data."""
    items = []
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
        ids = [f"Schedule/{row[0]}" for row in await cur.fetchall()]
        items.append(("schedule", ",".join(ids) or "Schedule/-none-"))
    return items


def _slot_query(params: Mapping[str, str], start: datetime, end: datetime) -> list[tuple[str, str]]:
    items = [("start", f"ge{format_instant(start)}"), ("start", f"lt{format_instant(end)}"),
             ("status", "free,busy-tentative"), ("_sort", "start")]
    items += [(code, params[name]) for name, code in FILTERS.items() if name in params]
    items += [(name, params[name]) for name in ("_count", "_cursor") if name in params]
    return items


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
    items = [*_slot_query(params, start, end), *await _schedules_of(conn, params)]
    result = await search(conn, ["Slot"], items, options, extra=NOT_HELD, access=policy)
    slots = [orjson.loads(row[2]) for row in result.matches]
    schedules = await _schedules(conn, slots)
    entries = []
    for slot in slots:
        ref = reference_id(slot.get("schedule"), "Schedule")
        entries.append({"resource": _proposal(slot, schedules.get(ref[1]) if ref else None, patient),
                        "search": {"mode": "match"}})
    kept = [(k, v) for k, v in params.items() if k != "_cursor"]
    if result.next_cursor:
        links.append({"relation": "next", "url": f"{base}?{urlencode([*kept, ('_cursor', result.next_cursor)])}"})
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
