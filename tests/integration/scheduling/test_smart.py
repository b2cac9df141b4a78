"""Who may do what, with authorization on (SMART App Launch 2.2 tokens from the real server):
a patient books, finds and cancels only for themselves; a practitioner manages only their own
Schedules and Slots and may not book the past; conflicts name only Appointments the caller may read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

from .helpers import appointment, at, diagnostics

REDIRECT = "https://app.example.org/callback"
PATIENT_SCOPE = "launch patient/Appointment.cru patient/Slot.rs"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning")


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    client = cli_json(database_url, "client", "add", "--name", "Scheduling app", "--public", "--redirect-uri",
                      REDIRECT, "--scope", f"launch openid fhirUser user/*.cruds {PATIENT_SCOPE}")["client_id"]
    for name in ("doc-1", "doc-2"):
        cli_json(database_url, "user", "add", "--username", name, "--password", f"pw-{name}-123",
                 "--fhir-user", f"Practitioner/{name}")
    tokens: dict[str, str] = {}
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        for name in ("doc-1", "doc-2"):
            tokens[name] = token_for(browser, root, server_url, client, "openid fhirUser user/*.cruds", name,
                                     f"pw-{name}-123")
        for patient in ("pat-a", "pat-b"):
            launch = cli_json(database_url, "launch", "add", "--patient", patient)["launch"]
            tokens[patient] = token_for(browser, root, server_url, client, PATIENT_SCOPE, "doc-1", "pw-doc-1-123",
                                        launch)
    return {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
            for name, token in tokens.items()}


def _clinic(doc: httpx.Client, day: str = "2031-05-05") -> tuple[str, list[str]]:
    sched = doc.post("/Schedule", json={"resourceType": "Schedule", "actor": [{"reference": "Practitioner/doc-1"}]})
    assert sched.status_code == 201, sched.text
    slots = []
    for hour in (9, 10, 11):
        made = doc.post("/Slot", json={"resourceType": "Slot", "status": "free", "start": at(hour, day=day),
                                       "schedule": {"reference": f"Schedule/{sched.json()['id']}"},
                                       "end": at(hour + 1, day=day)})
        assert made.status_code == 201, made.text
        slots.append(made.json()["id"])
    return sched.json()["id"], slots


def _booking(patient: str, slot_id: str, hour: int) -> dict[str, Any]:
    return appointment("Practitioner/doc-1", f"Patient/{patient}", start=at(hour, day="2031-05-06"),
                       end=at(hour + 1, day="2031-05-06"), status="proposed", slot=slot_id)


def test_a_practitioner_manages_only_their_own_schedule(http: dict[str, httpx.Client]) -> None:
    sched, _ = _clinic(http["doc-1"])
    foreign = http["doc-2"].post("/Slot", json={"resourceType": "Slot", "schedule": {"reference": f"Schedule/{sched}"},
                                                "status": "free", "start": at(14), "end": at(15)})
    assert foreign.status_code == 403
    assert diagnostics(foreign) == "Practitioner/doc-2 manages only their own Schedules and Slots"
    _, (own, *_) = _clinic(http["doc-1"], "2031-05-04")
    assert http["doc-2"].delete(f"/Slot/{own}").status_code == 403
    assert http["doc-1"].get(f"/Slot/{own}").status_code == 200
    taken = http["doc-2"].post("/Schedule", json={"resourceType": "Schedule",
                                                  "actor": [{"reference": "Practitioner/doc-1"}]})
    assert taken.status_code == 403


def test_a_practitioner_may_not_book_the_past(http: dict[str, httpx.Client]) -> None:
    past = http["doc-1"].post("/Appointment", json=appointment("Practitioner/doc-1", start="2020-01-07T09:00:00Z",
                                                               end="2020-01-07T10:00:00Z"))
    assert past.status_code == 422
    assert diagnostics(past) == ("Appointment starts in the past (2020-01-07T09:00:00+00:00): only an administrator "
                                 "may record past bookings")


def test_patient_finds_books_and_cancels_only_their_own(http: dict[str, httpx.Client]) -> None:
    _, slots = _clinic(http["doc-1"], "2031-05-06")
    found = http["pat-a"].get("/Appointment/$find", params={"start": at(0, day="2031-05-06"),
                                                            "end": at(23, day="2031-05-06"),
                                                            "practitioner": "doc-1"})
    assert found.status_code == 200, found.text
    offered = [e["resource"] for e in found.json()["entry"]]
    assert [a["slot"][0]["reference"] for a in offered] == [f"Slot/{s}" for s in slots]
    assert {p["actor"]["reference"] for a in offered for p in a["participant"]} == {"Practitioner/doc-1",
                                                                                    "Patient/pat-a"}
    other = http["pat-a"].get("/Appointment/$find", params={"start": at(0, day="2031-05-06"),
                                                            "end": at(23, day="2031-05-06"), "patient": "pat-b"})
    assert other.status_code == 403
    for_b = http["pat-a"].post("/Appointment/$book", json=_booking("pat-b", slots[0], 9))
    assert for_b.status_code == 403, for_b.text
    mine = http["pat-a"].post("/Appointment/$book", json=offered[0])
    assert mine.status_code == 200, mine.text
    theirs = http["pat-b"].post("/Appointment/$book", json=_booking("pat-b", slots[1], 10))
    assert theirs.status_code == 200, theirs.text
    # pat-a may not learn which Appointment holds the time; the practitioner may.
    clash = http["pat-a"].post("/Appointment/$book", json=_booking("pat-a", slots[1], 10))
    assert clash.status_code == 409
    assert diagnostics(clash) == ("Double booking refused: Practitioner/doc-1 is already booked at that time by "
                                  "another Appointment")
    named = http["doc-1"].post("/Appointment/$book", json=_booking("pat-c", slots[1], 10))
    assert diagnostics(named).endswith(f"by Appointment/{theirs.json()['id']}")
    assert http["pat-a"].post(f"/Appointment/{theirs.json()['id']}/$cancel").status_code in (403, 404)
    assert http["pat-b"].get(f"/Appointment/{theirs.json()['id']}").json()["status"] == "booked"
    cancelled = http["pat-a"].post(f"/Appointment/{mine.json()['id']}/$cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert http["doc-1"].get(f"/Slot/{slots[0]}").json()["status"] == "free"


def test_everything_is_audited(http: dict[str, httpx.Client], database_url: str) -> None:
    import psycopg

    _, slots = _clinic(http["doc-1"], "2031-05-07")
    booked = http["pat-a"].post("/Appointment/$book", json={**_booking("pat-a", slots[2], 11),
                                                            "start": at(11, day="2031-05-07"),
                                                            "end": at(12, day="2031-05-07")})
    assert booked.status_code == 200, booked.text
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT subtype FROM audit_event WHERE %s = ANY(entity_refs)",
                            (f"Appointment/{booked.json()['id']}",)).fetchall()
    assert "create" in {r[0] for r in rows}
