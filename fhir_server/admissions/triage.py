"""Encounter/$triage-queue: today's waiting patients, most urgent first (issue 15).

Waiting: Encounters with status ``arrived`` or ``triaged`` whose arrival (``period.start``) falls
on today in the hospital's time zone (``FHIR_TIMEZONE``). Order: ``Encounter.priority``
(v3-ActPriority) EM emergency, S stat, A ASAP, UR urgent, R routine, EL elective, then any other
or none; within a priority, earliest arrival first (then id). Optional ``class`` (a v3-ActCode
code, e.g. EMER, or system|code) narrows the queue. Out: a searchset Bundle; each entry carries its waiting time
(now minus arrival, whole minutes) as the extension ``WAITING`` (a Duration in UCUM ``min``).
The caller's Encounter search predicate is part of the statement, so scopes decide who is seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from psycopg import AsyncConnection

from ..errors import BadRequest, Forbidden
from ..search.sqlfrag import Q, fmt, join
from ..smart_auth.policy import Policy

__all__ = ["CAPABILITY_ENTRY", "PRIORITY_ORDER", "WAITING", "triage_queue"]

CAPABILITY_ENTRY = {"name": "triage-queue",
                    "definition": "http://fhir-server.example.org/OperationDefinition/Encounter-triage-queue"}
WAITING = "http://fhir-server.example.org/StructureDefinition/waiting-time"
PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
PRIORITY_ORDER = ["EM", "S", "A", "UR", "R", "EL"]
MAX_QUEUE = 500  # a longer queue is cut here (and says so with Bundle.total)
KNOWN = {"class", "_count", "_format", "_pretty"}

# The arrival instant, only for a full dateTime (a partial date has no time of arrival).
_ARRIVAL = ("CASE WHEN r.content->'period'->>'start' ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}T'"
            " THEN (r.content->'period'->>'start')::timestamptz END")
_PRIORITY = ("coalesce(array_position({}::text[], jsonb_path_query_first(r.content,"
             " '$.priority.coding[*] ? (@.system == $s).code', jsonb_build_object('s', {}::text)) #>> '{{}}'), {})")


def _today(timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, (start + timedelta(days=1)).replace(hour=0)


def _count(raw: str | None) -> int:
    if raw is None:
        return MAX_QUEUE
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest(f"$triage-queue _count '{raw}' is not a positive number")
    return min(int(raw), MAX_QUEUE)


def _statement(start: datetime, end: datetime, klass: str | None, access: Q | None, count: int) -> Q:
    arrival = fmt(_ARRIVAL)
    where = [fmt("r.resource_type = 'Encounter' AND r.version_id > 0 AND NOT r.deleted"),
             fmt("r.content->>'status' IN ('arrived', 'triaged')"),
             fmt("{} >= {} AND {} < {}", arrival, start, arrival, end)]
    if klass is not None:
        where.append(fmt("r.content->'class'->>'code' = {}", klass))
    if access is not None:
        where.append(access)
    rank = fmt(_PRIORITY, PRIORITY_ORDER, PRIORITY, len(PRIORITY_ORDER) + 1)
    return fmt("SELECT r.content::text, {}, {} FROM resource r WHERE {} ORDER BY 3, 2, r.id LIMIT {}",
               arrival, rank, join(" AND ", where), count + 1)


def _entry(base: str, content: dict[str, Any], arrival: datetime, now: datetime) -> dict[str, Any]:
    minutes = max(0, int((now - arrival).total_seconds() // 60))
    return {"fullUrl": f"{base}/Encounter/{content['id']}", "resource": content, "search": {"mode": "match"},
            "extension": [{"url": WAITING, "valueDuration": {"value": minutes, "unit": "min",
                                                             "system": "http://unitsofmeasure.org", "code": "min"}}]}


async def triage_queue(conn: AsyncConnection[Any], params: Mapping[str, str], policy: Policy, base: str,
                       timezone: str) -> dict[str, Any]:
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise BadRequest(f"$triage-queue does not know the parameter(s) {', '.join(unknown)}")
    if not policy.allows("Encounter", "s"):
        raise Forbidden("$triage-queue needs a scope to search Encounters (e.g. user/Encounter.rs)")
    count = _count(params.get("_count"))
    start, end = _today(timezone)
    klass = (params.get("class") or "").rpartition("|")[2] or None  # a code, or system|code
    statement = _statement(start, end, klass, policy.predicate("Encounter", "s"), count)
    rows = await (await conn.execute(statement.sql, statement.params)).fetchall()
    now = datetime.now(UTC)
    entries = [_entry(base, orjson.loads(row[0]), row[1], now) for row in rows[:count]]
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                              "link": [{"relation": "self", "url": f"{base}/Encounter/$triage-queue"}],
                              "entry": entries}
    if len(rows) <= count:
        bundle["total"] = len(entries)
    return bundle
