"""The patient booking journey: department -> doctor -> date -> free slot -> confirm -> booked.

Everything goes through the API with the patient's token: departments are HealthcareServices,
doctors their PractitionerRoles (with the Practitioner), free times ``Appointment/$find``
(which never offers a past, taken or held Slot), and the booking ``Appointment/$book`` with an
``Idempotency-Key`` made when the confirmation page is shown, so a retried or double-clicked
confirmation books once. Times are shown in the hospital's time zone (``FHIR_TIMEZONE``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from ..smart_auth.patient_card import display_name
from . import sessions
from .fhir_api import api

__all__ = ["departments", "doctors", "doctor", "free_times", "offer", "book", "cancel", "local_time", "BookingFailed"]


class BookingFailed(Exception):
    """The API refused; ``status`` and the OperationOutcome's text say why."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status, self.text = status, text


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


def local_time(request: Request, instant: str) -> str:
    """"2030-05-06 09:00" in the hospital's zone."""
    moment = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return moment.astimezone(_zone(request)).strftime("%Y-%m-%d %H:%M")


async def _get(request: Request, session: sessions.Session, path: str, **params: str) -> dict[str, Any]:
    answer = await api(request, session.access_token, "GET", path, params=params)
    if answer.status_code != 200:
        raise BookingFailed(answer.status_code, _outcome_text(answer.json()))
    body: dict[str, Any] = answer.json()
    return body


def _outcome_text(body: Any) -> str:
    issues = body.get("issue") if isinstance(body, dict) else None
    return str((issues or [{}])[0].get("diagnostics") or "the server refused the request")


def _entries(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == rtype]


def _text(concepts: list[dict[str, Any]] | None) -> str:
    for concept in concepts or []:
        label = concept.get("text") or next((c.get("display") for c in concept.get("coding", []) if c.get("display")),
                                            None)
        if label:
            return str(label)
    return ""


async def departments(request: Request, session: sessions.Session) -> list[dict[str, str]]:
    bundle = await _get(request, session, "HealthcareService", active="true", _sort="name", _count="100")
    return [{"id": s["id"], "name": str(s.get("name", "")), "specialty": _text(s.get("specialty"))}
            for s in _entries(bundle, "HealthcareService")]


def _doctor_row(role: dict[str, Any], people: dict[str, dict[str, Any]]) -> dict[str, str]:
    person = people.get(str(role.get("practitioner", {}).get("reference", "")), {})
    return {"role": role["id"], "name": display_name(person) or "-", "specialty": _text(role.get("specialty")),
            "practitioner": str(person.get("id", ""))}


async def doctors(request: Request, session: sessions.Session, service: str) -> list[dict[str, str]]:
    bundle = await _get(request, session, "PractitionerRole", service=f"HealthcareService/{service}", active="true",
                        _include="PractitionerRole:practitioner", _count="100")
    people = {f"Practitioner/{p['id']}": p for p in _entries(bundle, "Practitioner")}
    return [_doctor_row(role, people) for role in _entries(bundle, "PractitionerRole")]


async def doctor(request: Request, session: sessions.Session, role: str) -> dict[str, str]:
    bundle = await _get(request, session, "PractitionerRole", _id=role, _include="PractitionerRole:practitioner")
    roles = _entries(bundle, "PractitionerRole")
    if not roles:
        raise BookingFailed(404, "no such doctor")
    return _doctor_row(roles[0], {f"Practitioner/{p['id']}": p for p in _entries(bundle, "Practitioner")})


def _day_window(request: Request, day: date) -> tuple[str, str]:
    start = datetime.combine(day, time(0), _zone(request))
    return start.isoformat(), (start + timedelta(days=1)).isoformat()


async def free_times(request: Request, session: sessions.Session, practitioner: str, day: date) -> list[dict[str, Any]]:
    """The proposed Appointments $find offers for that doctor on that day (never a past time)."""
    start, end = _day_window(request, day)
    bundle = await _get(request, session, "Appointment/$find", start=start, end=end, practitioner=practitioner,
                        patient=f"Patient/{session.patient}", _count="100")
    return _entries(bundle, "Appointment")


async def offer(request: Request, session: sessions.Session, practitioner: str, slot: str) -> dict[str, Any] | None:
    """The offer for ``slot`` again, straight from $find (so nothing the browser sent is booked as is)."""
    answer = await api(request, session.access_token, "GET", f"Slot/{slot}")
    if answer.status_code != 200:
        return None
    day = datetime.fromisoformat(str(answer.json()["start"]).replace("Z", "+00:00")).astimezone(_zone(request)).date()
    for proposed in await free_times(request, session, practitioner, day):
        if any(s.get("reference") == f"Slot/{slot}" for s in proposed.get("slot", [])):
            return proposed
    return None


async def book(request: Request, session: sessions.Session, proposed: dict[str, Any], key: str) -> dict[str, Any]:
    answer = await api(request, session.access_token, "POST", "Appointment/$book", json=proposed,
                       headers={"Content-Type": "application/fhir+json", "Idempotency-Key": key})
    if answer.status_code != 200:
        raise BookingFailed(answer.status_code, _outcome_text(answer.json()))
    booked: dict[str, Any] = answer.json()
    return booked


async def cancel(request: Request, session: sessions.Session, appointment: str) -> None:
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "cancelled by the patient"}]}
    answer = await api(request, session.access_token, "POST", f"Appointment/{appointment}/$cancel", json=body,
                       headers={"Content-Type": "application/fhir+json"})
    if answer.status_code != 200:
        raise BookingFailed(answer.status_code, _outcome_text(answer.json()))
