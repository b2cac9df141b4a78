"""Scheduling demo data (``make serve``): a cardiology department of the demo hospital with three
doctors, each a PractitionerRole with weekday availability (09:00-13:00 local, ``FHIR_TIMEZONE``)
and a Schedule, and free Slots for the next 14 days, so a booking can be made at once:
``GET /fhir/Appointment/$find?start=...&end=...&specialty=http://snomed.info/sct|394579002``.
Fixed ids, written only when missing; Slots are (re)generated idempotently at each start.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..config import load_settings
from ..errors import FhirError
from ..resources.service import ResourceService
from ..smart_auth.policy import OPEN_POLICY
from .generate_slots import generate
from .writes import unit_of_work

__all__ = ["SCHEDULING_DEMO", "load_scheduling_demo"]

log = logging.getLogger(__name__)
CARDIOLOGY = {"coding": [{"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"}]}
CONSULT = {"coding": [{"system": "http://snomed.info/sct", "code": "11429006", "display": "Consultation"}]}
WEEKDAYS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "availableStartTime": "09:00:00",
             "availableEndTime": "13:00:00"}]
DOCTORS = [("demo-practitioner", None, None), ("demo-dr-lee", "Lee", "Grace"), ("demo-dr-patel", "Patel", "Ravi")]
HORIZON_DAYS = 14


def _doctor(pid: str, family: str | None, given: str | None) -> list[dict[str, Any]]:
    role, schedule = f"{pid}-cardiology", f"{pid}-schedule"
    out: list[dict[str, Any]] = []
    if family is not None:
        out.append({"resourceType": "Practitioner", "id": pid, "active": True,
                    "name": [{"family": family, "given": [given], "prefix": ["Dr."]}]})
    out.append({"resourceType": "PractitionerRole", "id": role, "active": True,
                "practitioner": {"reference": f"Practitioner/{pid}"},
                "organization": {"reference": "Organization/demo-cardiology"},
                "healthcareService": [{"reference": "HealthcareService/demo-cardiology-clinic"}],
                "specialty": [CARDIOLOGY], "availableTime": WEEKDAYS})
    out.append({"resourceType": "Schedule", "id": schedule, "active": True, "specialty": [CARDIOLOGY],
                "serviceType": [CONSULT], "actor": [{"reference": f"PractitionerRole/{role}"},
                                                    {"reference": f"Practitioner/{pid}"}]})
    return out


SCHEDULING_DEMO: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "demo-cardiology", "active": True, "name": "Cardiology",
     "partOf": {"reference": "Organization/demo-hospital"}},
    {"resourceType": "HealthcareService", "id": "demo-cardiology-clinic", "active": True,
     "providedBy": {"reference": "Organization/demo-cardiology"}, "name": "Cardiology outpatient clinic",
     "specialty": [CARDIOLOGY], "type": [CONSULT]},
    *(resource for doctor in DOCTORS for resource in _doctor(*doctor)),
]


async def load_scheduling_demo(service: ResourceService) -> int:
    """Write the missing demo resources, then make the Slots of the next ``HORIZON_DAYS`` days."""
    written = await service.write_missing(SCHEDULING_DEMO)
    zone = load_settings().timezone
    today = datetime.now(ZoneInfo(zone)).date()
    for schedule in (r["id"] for r in SCHEDULING_DEMO if r["resourceType"] == "Schedule"):
        try:
            async with unit_of_work(service, OPEN_POLICY) as writes:
                await generate(writes, schedule, today, today + timedelta(days=HORIZON_DAYS - 1), zone, 60)
        except FhirError as exc:  # e.g. another worker generating at the same moment: its Slots are as good
            log.info("demo slots for Schedule/%s not generated: %s", schedule, exc.message)
    return written
