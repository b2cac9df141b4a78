"""Schedule/[id]/$generate-slots and ``fhir-server slots generate``: Slots from availability.

The Schedule's actors that carry availability (PractitionerRole, HealthcareService) give the
slot times (``availability.slot_times``) from ``start`` to ``end`` (dates, inclusive, in the
hospital's time zone), each ``slotMinutes`` long (default 60). Idempotent: a time that already
has its Slot gets no second one (and the ``scheduling_slot`` exclusion constraint refuses
overlapping Slots of one Schedule even under concurrent runs); a free Slot the availability no
longer gives is blocked (``busy-unavailable``), a blocked one it gives again is freed; a Slot a
booking uses is never touched or removed. Past times get no Slots.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import BadRequest, Unprocessable
from ..fhir.datetimes import format_instant
from ..resources import repository
from .availability import check_availability, slot_times
from .model import reference_id
from .writes import Writes, content

__all__ = ["generate", "CAPABILITY_ENTRY", "MAX_DAYS", "parse_day"]

CAPABILITY_ENTRY = {"name": "generate-slots", "definition": "http://fhir-server.example.org/OperationDefinition/Schedule-generate-slots"}
MAX_DAYS = 366
SOURCES = ("PractitionerRole", "HealthcareService")
Span = tuple[datetime, datetime]

_EXISTING = """
SELECT s.slot_id, lower(s.during), upper(s.during), r.content->>'status' FROM scheduling_slot s
JOIN resource r ON r.resource_type = 'Slot' AND r.id = s.slot_id AND NOT r.deleted
WHERE s.schedule_id = %s AND s.during && tstzrange(%s, %s)
"""


def parse_day(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise BadRequest(f"$generate-slots {name} '{value}' is not a date (YYYY-MM-DD)") from exc


async def _sources(writes: Writes, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [r for a in schedule.get("actor") or [] if (r := reference_id(a)) and r[0] in SOURCES]
    found = []
    for rtype, rid in refs:
        if await repository.is_live(writes.conn, rtype, rid):
            found.append(content(await repository.read(writes.conn, rtype, rid)))
    found = [f for f in found if f.get("availableTime")]
    if not found:
        raise Unprocessable(f"Schedule/{schedule['id']} has no PractitionerRole or HealthcareService actor with "
                            "availableTime: there is no availability to make Slots from")
    return found


def _wanted(sources: list[dict[str, Any]], first: date, last: date, zone: str, minutes: int) -> list[Span]:
    now, chosen = datetime.now(UTC), list[Span]()
    for source in sources:
        check_availability(source)
        chosen.extend(s for s in slot_times(source, first, last, zone, minutes) if s[0] >= now)
    kept: list[Span] = []
    for span in sorted(set(chosen)):  # two sources giving overlapping times: the earlier Slot wins
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _slot(schedule: dict[str, Any], span: Span) -> dict[str, Any]:
    slot: dict[str, Any] = {"resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule['id']}"},
                            "status": "free", "start": format_instant(span[0]), "end": format_instant(span[1])}
    for name in ("serviceCategory", "serviceType", "specialty"):
        if schedule.get(name):
            slot[name] = schedule[name]
    return slot


async def _set_status(writes: Writes, slot_id: str, status: str) -> None:
    current = content(await repository.read(writes.conn, "Slot", slot_id))
    await writes.update("Slot", slot_id, {**current, "status": status})


async def generate(writes: Writes, schedule_id: str, first: date, last: date, zone: str,
                   minutes: int) -> dict[str, int]:
    """Make the Schedule's Slots for ``first``..``last``; the counts created, freed and blocked."""
    if not 5 <= minutes <= 24 * 60:
        raise BadRequest("$generate-slots slotMinutes must be between 5 and 1440")
    if last < first or (last - first).days >= MAX_DAYS:
        raise BadRequest(f"$generate-slots: end must not be before start, and at most {MAX_DAYS} days after it")
    await writes.policy.check_visible(writes.conn, "Schedule", schedule_id, "u")
    schedule = content(await repository.read(writes.conn, "Schedule", schedule_id))
    wanted = _wanted(await _sources(writes, schedule), first, last, zone, minutes)
    tz = ZoneInfo(zone)
    window = (datetime.combine(first, time(0), tz), datetime.combine(last + timedelta(days=1), time(0), tz))
    cur = await writes.conn.execute(_EXISTING, (schedule_id, *window))
    existing = {(row[1], row[2]): (row[0], row[3]) for row in await cur.fetchall()}
    counts = {"created": 0, "freed": 0, "blocked": 0}
    wanted_set = set(wanted)
    for span, (slot_id, status) in sorted(existing.items()):
        if span in wanted_set and status == "busy-unavailable":
            await _set_status(writes, slot_id, "free")
            counts["freed"] += 1
        elif span not in wanted_set and status == "free" and span[0] >= datetime.now(UTC):
            await _set_status(writes, slot_id, "busy-unavailable")
            counts["blocked"] += 1
    taken = sorted(existing)
    for span in wanted:
        if span in existing or any(span[0] < e[1] and span[1] > e[0] for e in taken):
            continue
        await writes.create("Slot", _slot(schedule, span))
        counts["created"] += 1
    return counts
