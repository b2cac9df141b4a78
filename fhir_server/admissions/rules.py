"""The admissions write rules (docs/rules.md), run on every write path in the write's transaction:

- Encounter: the status machine (``encounter_status``, 422), discharge of an inpatient needs
  ``hospitalization.dischargeDisposition`` (422), and bed occupancy (``beds``, 409 on a taken bed);
- Location: an occupied bed stays an active bed marked O until its inpatient leaves (409);
- Organization: ``partOf`` makes no cycle (``departments``, 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from ..errors import Conflict, Unprocessable
from ..rules import Change, register
from .beds import HOLDING, following, hold_bed, is_bed, is_inpatient, may_hold_a_bed, occupant_of
from .beds import RULE as BED_RULE
from .departments import check_part_of
from .encounter_status import check_transition

__all__ = ["guard_encounter", "guard_location", "guard_organization", "DISCHARGE_RULE"]

DISCHARGE_RULE = "admissions.discharge"


def _check_discharge(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """An inpatient who leaves (in-progress/onleave -> finished) leaves with a discharge disposition.
    A create as finished is history (Synthea) and is not asked for one."""
    if old is None or old.get("status") not in HOLDING or new.get("status") != "finished" or not is_inpatient(new):
        return
    hospitalization = new.get("hospitalization")
    if not isinstance(hospitalization, Mapping) or not hospitalization.get("dischargeDisposition"):
        raise Unprocessable(f"Discharge rule ({DISCHARGE_RULE}): an inpatient Encounter is finished only with "
                            "hospitalization.dischargeDisposition")


async def guard_encounter(conn: AsyncConnection[Any], change: Change) -> None:
    old, new = change.old, change.new
    if new is not None:
        check_transition(old.get("status") if old else None, new.get("status"))
        _check_discharge(old, new)
    await hold_bed(conn, change.id, old, new)


def _occupied_bed_ok(new: Mapping[str, Any] | None) -> bool:
    if new is None or not is_bed(new) or new.get("status", "active") != "active":
        return False
    status = new.get("operationalStatus")
    return isinstance(status, Mapping) and status.get("code") == "O"


async def guard_location(conn: AsyncConnection[Any], change: Change) -> None:
    """An occupied bed cannot be deleted, deactivated, re-typed or marked other than O: its
    status follows its inpatient (discharge or transfer them first)."""
    if following() or not is_bed(change.old) or _occupied_bed_ok(change.new):
        return
    occupant = await occupant_of(conn, change.id)
    if occupant is not None:
        raise Conflict(f"Bed rule ({BED_RULE}): Location/{change.id} is occupied by an inpatient Encounter: "
                       "it stays an active bed marked occupied (O) until the Encounter leaves it")


async def guard_organization(conn: AsyncConnection[Any], change: Change) -> None:
    await check_part_of(conn, change.id, change.old, change.new)


# ``creates``: what a create needs the rule for (docs/rules.md), so the bulk create paths keep the
# rest: a create checks no transition; only an Encounter that may hold a bed writes a row; a new
# Location is no occupied bed yet; a new Organization can close a cycle only through its partOf.
register("Encounter", guard_encounter, order=50, name="admissions.encounter", creates=may_hold_a_bed)
register("Location", guard_location, order=50, name="admissions.bed", creates=lambda _location: False)
register("Organization", guard_organization, order=50, name="admissions.organization-tree",
         creates=lambda organization: "partOf" in organization)
