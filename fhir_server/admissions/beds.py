"""Bed occupancy: one active inpatient per bed, kept by PostgreSQL (issue 15, migration 095).

An inpatient Encounter (``class`` IMP of v3-ActCode) that is ``in-progress`` or ``onleave`` (the
bed is kept for a patient on leave) holds the bed it names through an active
``Encounter.location`` (status ``active`` or not given) whose Location is a bed (``physicalType``
``bd``). The Encounter write rule replaces the Encounter's row in ``admissions_bed_occupancy`` in
the Encounter's own transaction; the table's primary key refuses a second inpatient in one bed,
so a race between admissions ends in one commit and 409s, decided by PostgreSQL. The bed's
``operationalStatus`` (v2-0116) follows in the same transaction, written through the resource
repository (versioned and indexed like any write): O while held, U once freed.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation

from ..errors import Conflict, Unprocessable
from ..resources import repository
from ..search import indexer
from .references import coded, reference_id

__all__ = ["ACT_CODE", "PHYSICAL_TYPE", "BED_STATUS", "HOLDING", "RULE", "is_inpatient", "is_bed",
           "following", "hold_bed", "occupant_of", "may_hold_a_bed"]

RULE = "admissions.bed-occupancy"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"
HOLDING = frozenset({"in-progress", "onleave"})
DISPLAY = {"O": "Occupied", "U": "Unoccupied", "K": "Contaminated", "H": "Housekeeping"}
NOT_READY = {"K": "contaminated", "H": "in housekeeping"}  # a bed in these states takes no admission
_FOLLOWING: ContextVar[bool] = ContextVar("admissions_bed_following", default=False)


def is_inpatient(encounter: Mapping[str, Any] | None) -> bool:
    return encounter is not None and coded(encounter.get("class"), ACT_CODE, "IMP")


def is_bed(location: Mapping[str, Any] | None) -> bool:
    return location is not None and coded(location.get("physicalType"), PHYSICAL_TYPE, "bd")


def following() -> bool:
    """True while this module writes a bed's status (the Location rule lets those writes through)."""
    return _FOLLOWING.get()


def _candidates(encounter: Mapping[str, Any] | None) -> list[str]:
    """Location ids an inpatient Encounter's active locations name while it holds a bed."""
    if encounter is None or encounter.get("status") not in HOLDING or not is_inpatient(encounter):
        return []
    ids = []
    for entry in encounter.get("location") or []:
        if isinstance(entry, Mapping) and entry.get("status", "active") == "active":
            lid = reference_id(entry.get("location"), "Location")
            if lid is not None:
                ids.append(lid)
    return ids


def may_hold_a_bed(encounter: Mapping[str, Any]) -> bool:
    """Could this Encounter hold a bed (inpatient, in-progress/onleave, an active location)?"""
    return bool(_candidates(encounter))


async def _beds(conn: AsyncConnection[Any], ids: list[str]) -> dict[str, dict[str, Any]]:
    cur = await conn.execute("SELECT id, content FROM resource WHERE resource_type = 'Location' AND id = ANY(%s)"
                             " AND version_id > 0 AND NOT deleted", (ids,))
    return {row[0]: row[1] for row in await cur.fetchall() if is_bed(row[1])}


def _status_code(bed: Mapping[str, Any]) -> str | None:
    status = bed.get("operationalStatus")
    return status.get("code") if isinstance(status, Mapping) else None


def _check_bed(bed_id: str, bed: Mapping[str, Any], already_ours: bool) -> None:
    if bed.get("status", "active") != "active":
        raise Unprocessable(f"Bed rule ({RULE}): Location/{bed_id} is {bed.get('status')}: only an active bed "
                            "takes an inpatient")
    code = _status_code(bed)
    if not already_ours and code in NOT_READY:
        raise Conflict(f"Bed rule ({RULE}): Location/{bed_id} is {NOT_READY[code]} (operationalStatus {code}): "
                       "it takes no admission until it is made unoccupied (U)")


async def _occupy(conn: AsyncConnection[Any], bed_id: str, encounter_id: str) -> None:
    try:
        async with conn.transaction():  # a savepoint: the refusal names the bed, not a constraint
            await conn.execute("INSERT INTO admissions_bed_occupancy (bed_id, encounter_id) VALUES (%s, %s)",
                               (bed_id, encounter_id))
    except UniqueViolation:
        raise Conflict(f"Bed rule ({RULE}): Location/{bed_id} is already occupied by another active inpatient "
                       "Encounter") from None


async def _follow(conn: AsyncConnection[Any], wanted: Mapping[str, str]) -> None:
    """Write each bed's operationalStatus as its occupancy makes it (only where it differs)."""
    if not wanted:
        return
    beds = await _beds(conn, sorted(wanted))
    token = _FOLLOWING.set(True)
    try:
        for bed_id, bed in sorted(beds.items()):
            code = wanted[bed_id]
            if _status_code(bed) != code:
                status = {"system": BED_STATUS, "code": code, "display": DISPLAY[code]}
                await repository.update(conn, indexer, {**bed, "operationalStatus": status}, bed_id)
    finally:
        _FOLLOWING.reset(token)


async def hold_bed(conn: AsyncConnection[Any], encounter_id: str, old: Mapping[str, Any] | None,
                   new: Mapping[str, Any] | None) -> None:
    """Replace the Encounter's bed row and make the beds' statuses follow; no SQL at all when
    neither version could hold a bed (every finished Encounter of a Synthea load)."""
    named, held_before = _candidates(new), _candidates(old)
    if not named and not held_before:
        return
    cur = await conn.execute("DELETE FROM admissions_bed_occupancy WHERE encounter_id = %s RETURNING bed_id",
                             (encounter_id,))
    released = {row[0] for row in await cur.fetchall()}
    wanted: dict[str, str] = {}
    beds = await _beds(conn, named) if named else {}
    if len(beds) > 1:
        raise Unprocessable(f"Bed rule ({RULE}): an inpatient Encounter holds one bed, but its active locations "
                            f"name {', '.join(f'Location/{b}' for b in sorted(beds))}")
    for bed_id, bed in beds.items():
        _check_bed(bed_id, bed, bed_id in released)
        await _occupy(conn, bed_id, encounter_id)
        wanted[bed_id] = "O"
    wanted.update({bed_id: "U" for bed_id in released if bed_id not in wanted})
    await _follow(conn, wanted)


async def occupant_of(conn: AsyncConnection[Any], bed_id: str) -> str | None:
    cur = await conn.execute("SELECT encounter_id FROM admissions_bed_occupancy WHERE bed_id = %s", (bed_id,))
    row = await cur.fetchone()
    return row[0] if row else None
