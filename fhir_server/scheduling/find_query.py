"""The free-Slot page behind $find: one keyset-paged statement over ``scheduling_slot``.

The side table holds each live Slot's Schedule and range under a GiST index (migration 080), so
"the free Slots of these Schedules in this window, soonest first" is an index range scan rather
than a general search sorted on a date index (which PostgreSQL plans poorly when the same
date also filters). The caller's access predicate on Slot (``Policy.predicate``, built on the
alias ``r`` like every search predicate) is part of the statement, so scopes still decide.
Cursor: ``<start instant>|<slot id>`` of the last Slot of the page, base64url.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection

from ..errors import BadRequest
from ..fhir.datetimes import format_instant, parse_instant
from ..search.sqlfrag import Q, fmt, join

__all__ = ["slot_page", "token_filter"]

CONCEPTS = {"specialty": ("specialty", True), "service-type": ("serviceType", True),
            "visit-type": ("appointmentType", False)}  # parameter -> (Slot element, is a list)


def token_filter(name: str, value: str) -> Q:
    """``system|code`` or ``code`` on a CodeableConcept element of the Slot, as JSON containment."""
    element, many = CONCEPTS[name]
    options = []
    for one in value.split(","):
        system, bar, code = one.partition("|")
        coding = {"system": system, "code": code} if bar else {"code": one}
        if bar and not system:
            coding = {"code": code}
        concept: Any = {"coding": [coding]}
        options.append(fmt("r.content->{} @> {}::jsonb", element, orjson.dumps([concept] if many else concept)
                           .decode()))
    return fmt("({})", join(" OR ", options))


def _cursor(raw: str | None) -> tuple[datetime, str] | None:
    if not raw:
        return None
    try:
        moment, _, sid = base64.urlsafe_b64decode(raw.encode() + b"==").decode().partition("|")
        return parse_instant(moment, "_cursor"), sid
    except (ValueError, BadRequest) as exc:
        raise BadRequest("$find: _cursor is not a cursor this server gave") from exc


def next_cursor(start: datetime, slot_id: str) -> str:
    return base64.urlsafe_b64encode(f"{format_instant(start)}|{slot_id}".encode()).decode().rstrip("=")


async def slot_page(conn: AsyncConnection[Any], schedules: list[str] | None, start: datetime, end: datetime,
                    filters: list[Q], access: Q | None, count: int,
                    cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``count`` free, unheld Slots starting in [start, end), soonest first; and the next cursor."""
    where = [fmt("s.during && tstzrange({}, {})", start, end), fmt("lower(s.during) >= {}", start),
             fmt("lower(s.during) < {}", end), fmt("r.content->>'status' IN ('free', 'busy-tentative')"),
             fmt("NOT EXISTS (SELECT 1 FROM scheduling_busy b WHERE b.actor = 'Slot/' || s.slot_id"
                 " AND (b.expires_at IS NULL OR b.expires_at > now()))"), *filters]
    if schedules is not None:
        where.append(fmt("s.schedule_id = ANY({})", schedules))
    if access is not None:
        where.append(access)
    after = _cursor(cursor)
    if after is not None:
        where.append(fmt("(lower(s.during), s.slot_id) > ({}, {})", after[0], after[1]))
    statement = fmt("SELECT lower(s.during), s.slot_id, r.content::text FROM scheduling_slot s"
                    " JOIN resource r ON r.resource_type = 'Slot' AND r.id = s.slot_id AND NOT r.deleted"
                    " WHERE {} ORDER BY lower(s.during), s.slot_id LIMIT {}", join(" AND ", where), count + 1)
    cur = await conn.execute(statement.sql, statement.params)
    rows = await cur.fetchall()
    page = rows[:count]
    more = next_cursor(page[-1][0], page[-1][1]) if len(rows) > count and page else None
    return [orjson.loads(row[2]) for row in page], more
