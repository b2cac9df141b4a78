"""Admissions demo data (``make serve``): the generated hospital already has its departments
(General medicine and Cardiology, ``partOf`` Organization/demo-hospital, and scheduling's
Cardiology clinic); here Ward A of General medicine with two rooms of three beds each, and one
inpatient (Patient/demo-patient) admitted to bed demo-bed-101a, so the bed shows occupied (O);
``Organization/demo-hospital/$tree`` lists the departments.
Fixed ids, written only when missing, beds before the admission (whose rule marks its bed O).
"""

from __future__ import annotations

from typing import Any

from ..resources.service import ResourceService
from .beds import ACT_CODE, BED_STATUS, PHYSICAL_TYPE

__all__ = ["ADMISSIONS_DEMO", "load_admissions_demo"]

def _place(rid: str, name: str, kind: str, part_of: str | None, **extra: Any) -> dict[str, Any]:
    place: dict[str, Any] = {"resourceType": "Location", "id": rid, "status": "active", "name": name,
                             "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": kind}]},
                             "managingOrganization": {"reference": "Organization/demo-dept-medicine"}}
    if part_of is not None:
        place["partOf"] = {"reference": f"Location/{part_of}"}
    return {**place, **extra}


def _beds() -> list[dict[str, Any]]:
    out = []
    for room in ("101", "102"):
        out.append(_place(f"demo-room-{room}", f"Room {room}", "ro", "demo-ward-a"))
        out.extend(_place(f"demo-bed-{room}{letter}", f"Bed {room}{letter.upper()}", "bd", f"demo-room-{room}",
                          operationalStatus={"system": BED_STATUS, "code": "U", "display": "Unoccupied"})
                   for letter in "abc")
    return out


ADMISSIONS_DEMO: list[dict[str, Any]] = [
    _place("demo-ward-a", "Ward A", "wa", None),
    *_beds(),
    {"resourceType": "Encounter", "id": "demo-admission", "status": "in-progress",
     "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
     "subject": {"reference": "Patient/demo-patient"}, "period": {"start": "2026-11-30T08:00:00Z"},
     "serviceProvider": {"reference": "Organization/demo-dept-medicine"},
     "location": [{"location": {"reference": "Location/demo-bed-101a"}, "status": "active"}]},
]


async def load_admissions_demo(service: ResourceService) -> int:
    """Write the missing admissions demo resources, in order; return how many were written."""
    return await service.write_missing(ADMISSIONS_DEMO)
