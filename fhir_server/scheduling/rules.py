"""No double booking, kept by PostgreSQL: the write rules of Appointment and Slot (docs/rules.md).

http://hl7.org/fhir/R4/appointment.html, http://hl7.org/fhir/R4/slot.html. On every write of an
Appointment (REST, PATCH, conditional writes, bundle entries, ``fhir-server load``, the
scheduling operations) the rule replaces the Appointment's rows in ``scheduling_busy``: one per
actor it occupies and one per Slot it uses, while its status holds time. The table's exclusion
constraint (migration 080) refuses two overlapping rows for one actor, so a race between two
bookings ends in one commit and one 409, decided by PostgreSQL. The Slots an Appointment uses
follow it in the same transaction (busy / busy-tentative / free).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import ExclusionViolation

from ..errors import Conflict, FhirError, Forbidden, Unprocessable
from ..fhir.datetimes import parse_instant
from ..resources import repository
from ..rules import Change, register
from ..rules.context import writer
from ..search import indexer
from .access import is_administrator
from .availability import check_availability
from .model import Booking, booking_of, check_appointment, check_transition, holds_time, reference_id, slot_range
from .search_parameters import register_search_parameters

__all__ = ["HOLD_EXPIRES", "guard_appointment", "guard_slot"]

# Extension on a pending Appointment made by $hold: when the hold ends (hold.py sets it).
HOLD_EXPIRES = "http://fhir-server.example.org/StructureDefinition/hold-expires"
UNBOOKABLE = frozenset({"busy-unavailable", "entered-in-error"})
_FOLLOWING: ContextVar[bool] = ContextVar("scheduling_slot_following", default=False)

_INSERT_BUSY = """
INSERT INTO scheduling_busy (appointment_id, actor, during, share, expires_at)
SELECT %s, u.a, tstzrange(u.s, u.e, '[)'), u.sh, %s
FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[]) AS u(a, s, e, sh)
"""
_CONFLICTING = """
SELECT b.appointment_id, b.actor FROM scheduling_busy b
JOIN unnest(%s::text[], %s::timestamptz[], %s::timestamptz[], %s::text[]) AS u(a, s, e, sh)
  ON b.actor = u.a AND b.during && tstzrange(u.s, u.e, '[)') AND b.share <> u.sh
WHERE b.appointment_id <> %s LIMIT 1
"""


async def _live(conn: AsyncConnection[Any], rtype: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    cur = await conn.execute("SELECT id, content FROM resource WHERE resource_type = %s AND id = ANY(%s)"
                             " AND version_id > 0 AND NOT deleted", (rtype, ids))
    return {row[0]: row[1] for row in await cur.fetchall()}


def _actors_of(schedule: Mapping[str, Any] | None) -> set[str]:
    refs = (reference_id(a) for a in (schedule or {}).get("actor") or [])
    return {f"{r[0]}/{r[1]}" for r in refs if r is not None}


async def _check_slots(conn: AsyncConnection[Any], booking: Booking) -> dict[str, dict[str, Any]]:
    """The Slots the booking names: they exist, are bookable, belong to one of its actors and cover its time."""
    slots = await _live(conn, "Slot", list(booking.slots))
    for sid in booking.slots:
        if sid not in slots:
            raise Unprocessable(f"Appointment.slot Slot/{sid} is not known on this server")
        if slots[sid].get("status") in UNBOOKABLE:
            raise Conflict(f"Slot/{sid} is {slots[sid].get('status')}: it cannot be booked")
    if not slots:
        return slots
    schedule_ids = {r[1] for s in slots.values() if (r := reference_id(s.get("schedule"), "Schedule"))}
    schedules = await _live(conn, "Schedule", sorted(schedule_ids))
    for sid, slot in slots.items():
        ref = reference_id(slot.get("schedule"), "Schedule")
        owners = _actors_of(schedules.get(ref[1])) if ref else set()
        if not owners & set(booking.actors):
            raise Unprocessable(f"Slot/{sid} belongs to {', '.join(sorted(owners)) or 'no actor'}, none of whom "
                                "is a participant of the Appointment")
    ranges = [slot_range(s) for s in slots.values()]
    if booking.start < min(r[0] for r in ranges) or booking.end > max(r[1] for r in ranges):
        raise Unprocessable("The Appointment's start and end must lie within its Slots")
    return slots


def _check_not_past(booking: Booking) -> None:
    """Booking in the past is refused, except by an administrator back-filling records (access.py)."""
    if booking.start < datetime.now(UTC) and not is_administrator(writer()):
        raise Unprocessable(f"Appointment starts in the past ({booking.start.isoformat()}): only an administrator "
                            "may record past bookings")


def _newly_booked(old: Mapping[str, Any] | None, booking: Booking) -> bool:
    if not holds_time(old):
        return True
    assert old is not None
    return booking_of(old) != booking


def _hold_expiry(appointment: Mapping[str, Any]) -> datetime | None:
    if appointment.get("status") != "pending":
        return None
    for extension in appointment.get("extension") or []:
        if isinstance(extension, Mapping) and extension.get("url") == HOLD_EXPIRES:
            return parse_instant(str(extension.get("valueInstant") or extension.get("valueDateTime")),
                                 "hold-expires")
    return None


def _rows(appointment_id: str, booking: Booking, slots: Mapping[str, Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """(actor, start, end, share) for each actor and Slot; an overbooked Slot's rows share its time."""
    overbooked = [sid for sid, s in slots.items() if s.get("overbooked") is True]
    shared = f"slot:{overbooked[0]}" if overbooked else appointment_id
    rows = [(a, booking.start, booking.end, appointment_id if a.startswith("Patient/") else shared)
            for a in booking.actors]
    for sid, slot in slots.items():
        start, end = slot_range(slot)
        rows.append((f"Slot/{sid}", start, end, f"slot:{sid}" if sid in overbooked else appointment_id))
    return rows


async def _occupy(conn: AsyncConnection[Any], appointment_id: str, rows: list[tuple[Any, ...]],
                  expires: datetime | None) -> None:
    columns = [list(c) for c in zip(*rows, strict=True)]
    # Holds that expired no longer hold time: they make way for this booking.
    await conn.execute("DELETE FROM scheduling_busy b USING unnest(%s::text[], %s::timestamptz[], %s::timestamptz[])"
                       " AS u(a, s, e) WHERE b.expires_at <= now() AND b.actor = u.a"
                       " AND b.during && tstzrange(u.s, u.e, '[)')", columns[:3])
    try:
        async with conn.transaction():  # a savepoint: after a conflict we can still say with whom
            await conn.execute(_INSERT_BUSY, (appointment_id, expires, *columns))
    except ExclusionViolation:
        cur = await conn.execute(_CONFLICTING, (*columns, appointment_id))
        other = await cur.fetchone()
        raise await _conflict(conn, other) from None


async def _conflict(conn: AsyncConnection[Any], other: tuple[str, str] | None) -> Conflict:
    if other is None:
        return Conflict("The Appointment overlaps another booking of one of its participants or Slots")
    what = "its Slot" if other[1].startswith("Slot/") else other[1]
    policy = writer()
    named = policy is None or policy.open
    if not named and policy is not None:
        try:
            await policy.check_visible(conn, "Appointment", other[0], "r")
            named = True
        except FhirError:
            named = False
    who = f"Appointment/{other[0]}" if named else "another Appointment"
    return Conflict(f"Double booking refused: {what} is already booked at that time by {who}")


async def _held_slots(conn: AsyncConnection[Any], appointment_id: str) -> set[str]:
    cur = await conn.execute("DELETE FROM scheduling_busy WHERE appointment_id = %s RETURNING actor",
                             (appointment_id,))
    return {row[0].removeprefix("Slot/") for row in await cur.fetchall() if row[0].startswith("Slot/")}


async def _follow(conn: AsyncConnection[Any], slot_ids: set[str], status_of: Mapping[str, str]) -> None:
    """Write each Slot's status as its bookings make it (through the repository: versioned, indexed)."""
    if not slot_ids:
        return
    cur = await conn.execute("SELECT substr(actor, 6) FROM scheduling_busy WHERE actor = ANY(%s)"
                             " AND (expires_at IS NULL OR expires_at > now())", ([f"Slot/{s}" for s in slot_ids],))
    still = {row[0] for row in await cur.fetchall()}
    slots = await _live(conn, "Slot", sorted(slot_ids))
    token = _FOLLOWING.set(True)
    try:
        for sid, slot in sorted(slots.items()):
            wanted = status_of.get(sid) or ("busy" if sid in still else "free")
            if slot.get("status") != wanted and slot.get("status") not in UNBOOKABLE:
                await repository.update(conn, indexer, {**slot, "status": wanted}, sid)
    finally:
        _FOLLOWING.reset(token)


async def guard_appointment(conn: AsyncConnection[Any], change: Change) -> None:
    old, new = change.old, change.new
    if new is not None:
        check_appointment(new)
        check_transition(old.get("status") if old else None, new.get("status"))
    released = await _held_slots(conn, change.id)
    status_of: dict[str, str] = {}
    if new is not None and holds_time(new):
        booking = booking_of(new)
        if _newly_booked(old, booking):
            _check_not_past(booking)
        slots = await _check_slots(conn, booking)
        rows = _rows(change.id, booking, slots)
        if rows:
            await _occupy(conn, change.id, rows, _hold_expiry(new))
        tentative = "busy-tentative" if new.get("status") == "pending" else "busy"
        status_of = {sid: tentative for sid in slots if slots[sid].get("overbooked") is not True}
        status_of.update({sid: "busy" for sid in slots if sid not in status_of})
    await _follow(conn, released | set(status_of), status_of)


async def _booked_by(conn: AsyncConnection[Any], slot_id: str) -> str | None:
    cur = await conn.execute("SELECT appointment_id FROM scheduling_busy WHERE actor = %s"
                             " AND (expires_at IS NULL OR expires_at > now()) LIMIT 1", (f"Slot/{slot_id}",))
    row = await cur.fetchone()
    return row[0] if row else None


def _booking_fields(slot: Mapping[str, Any] | None) -> tuple[Any, ...]:
    slot = slot or {}
    return (slot.get("start"), slot.get("end"), slot.get("schedule"), slot.get("status"), slot.get("overbooked"))


async def guard_slot(conn: AsyncConnection[Any], change: Change) -> None:
    """A Slot has end after start and a known Schedule; two Slots of one Schedule never overlap;
    a booked Slot changes (or goes) only as its bookings do."""
    if not _FOLLOWING.get() and change.old is not None and _booking_fields(change.old) != _booking_fields(change.new):
        booked = await _booked_by(conn, change.id)
        if booked is not None:
            raise Conflict(f"Slot/{change.id} is booked (an Appointment uses it): cancel or reschedule that "
                           "Appointment first; the Slot follows its bookings")
    new = change.new
    if change.old is not None and not _FOLLOWING.get():  # nobody takes a Slot off another's Schedule
        old_ref = reference_id(change.old.get("schedule"), "Schedule")
        old_schedule = await _live(conn, "Schedule", [old_ref[1]]) if old_ref else {}
        await _check_manager(conn, next(iter(old_schedule.values()), None))
    if new is None or new.get("status") == "entered-in-error":
        await conn.execute("DELETE FROM scheduling_slot WHERE slot_id = %s", (change.id,))
        return
    start, end = slot_range(new)
    schedule = reference_id(new.get("schedule"), "Schedule")
    found = await _live(conn, "Schedule", [schedule[1]]) if schedule else {}
    if schedule is None or not found:
        raise Unprocessable(f"Slot.schedule {(new.get('schedule') or {}).get('reference')!r} is not a Schedule "
                            "known on this server")
    if not _FOLLOWING.get():
        await _check_manager(conn, found[schedule[1]])
    await conn.execute("INSERT INTO scheduling_slot (slot_id, schedule_id, during) VALUES (%s, %s, tstzrange(%s, %s))"
                       " ON CONFLICT (slot_id) DO UPDATE SET schedule_id = EXCLUDED.schedule_id,"
                       " during = EXCLUDED.during", (change.id, schedule[1], start, end))


async def _check_manager(conn: AsyncConnection[Any], schedule: Mapping[str, Any] | None) -> None:
    """A practitioner user manages only the Schedules (and their Slots) they are an actor of,
    themselves or through one of their PractitionerRoles; administrators manage all (access.py)."""
    policy = writer()
    if is_administrator(policy) or schedule is None:
        return
    assert policy is not None
    user = policy.access.user or ""
    if not user.startswith("Practitioner/"):
        return  # patients and others: their scopes alone decide
    actors = _actors_of(schedule)
    roles = [a.removeprefix("PractitionerRole/") for a in actors if a.startswith("PractitionerRole/")]
    if user in actors:
        return
    if roles:
        cur = await conn.execute("SELECT 1 FROM resource WHERE resource_type = 'PractitionerRole' AND id = ANY(%s)"
                                 " AND NOT deleted AND content->'practitioner'->>'reference' = %s LIMIT 1",
                                 (roles, user))
        if await cur.fetchone() is not None:
            return
    raise Forbidden(f"{user} manages only their own Schedules and Slots")


async def guard_schedule(conn: AsyncConnection[Any], change: Change) -> None:
    await _check_manager(conn, change.old)
    await _check_manager(conn, change.new)


async def guard_availability(conn: AsyncConnection[Any], change: Change) -> None:
    """Availability that overlaps itself on one weekday is refused (422): it cannot give Slots."""
    if change.new is not None:
        check_availability(change.new)


register_search_parameters()  # the end parameters are indexed wherever these rules run
register("Appointment", guard_appointment, order=50, name="scheduling.appointment")
register("Slot", guard_slot, order=50, name="scheduling.slot",
         conflicts={"scheduling_slot_overlap": "The Slot overlaps another Slot of the same Schedule"})
register("Schedule", guard_schedule, order=50, name="scheduling.schedule")
register("PractitionerRole", guard_availability, order=50, name="scheduling.availability")
register("HealthcareService", guard_availability, order=50, name="scheduling.availability")
