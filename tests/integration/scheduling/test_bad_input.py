"""Bad scheduling input: a clear OperationOutcome (400/409/422) and nothing changed."""

from __future__ import annotations

import httpx

from .helpers import appointment, at, diagnostics, fresh, schedule, slot, slot_status, stored_appointments


def _slot_body(sched: str, start: str, end: str, **extra: str) -> dict[str, object]:
    return {"resourceType": "Slot", "schedule": {"reference": f"Schedule/{sched}"}, "status": "free",
            "start": start, "end": end, **extra}


def test_slot_end_not_after_start_and_unknown_schedule(client: httpx.Client) -> None:
    sched = schedule(client, f"Practitioner/{fresh()}")
    backwards = client.post("/Slot", json=_slot_body(sched, at(10), at(10)))
    assert backwards.status_code == 422
    assert diagnostics(backwards) == f"Slot end {at(10)} must be after its start {at(10)}"
    unknown = client.post("/Slot", json=_slot_body("no-such-schedule", at(9), at(10)))
    assert unknown.status_code == 422
    assert diagnostics(unknown) == "Slot.schedule 'Schedule/no-such-schedule' is not a Schedule known on this server"
    assert client.get("/Slot", params={"schedule": f"Schedule/{sched}"}).json().get("entry", []) == []


def test_overlapping_slots_of_one_schedule(client: httpx.Client) -> None:
    sched = schedule(client, f"Practitioner/{fresh()}")
    slot(client, sched, at(9), at(10))
    overlap = client.post("/Slot", json=_slot_body(sched, at(9, 30), at(10, 30)))
    assert overlap.status_code == 409
    assert diagnostics(overlap) == "The Slot overlaps another Slot of the same Schedule"


def test_appointment_slot_problems(client: httpx.Client, database_url: str) -> None:
    doctor, stranger = f"Practitioner/{fresh()}", f"Practitioner/{fresh()}"
    sched = schedule(client, doctor)
    own, closed = slot(client, sched, at(9), at(10)), slot(client, sched, at(10), at(11), status="busy-unavailable")
    unknown = client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10), slot="nope"))
    assert unknown.status_code == 422
    assert diagnostics(unknown) == "Appointment.slot Slot/nope is not known on this server"
    other = client.post("/Appointment", json=appointment(stranger, start=at(9), end=at(10), slot=own))
    assert other.status_code == 422
    assert diagnostics(other) == (f"Slot/{own} belongs to {doctor}, none of whom is a participant of the Appointment")
    outside = client.post("/Appointment", json=appointment(doctor, start=at(9, 30), end=at(10, 30), slot=own))
    assert (outside.status_code, diagnostics(outside)) == (422, "The Appointment's start and end must lie within "
                                                                "its Slots")
    blocked = client.post("/Appointment", json=appointment(doctor, start=at(10), end=at(11), slot=closed))
    assert (blocked.status_code, diagnostics(blocked)) == (409, f"Slot/{closed} is busy-unavailable: it cannot be "
                                                                "booked")
    assert stored_appointments(database_url, doctor) == []
    assert slot_status(client, own) == "free"


def test_appointment_without_times_and_bad_status_moves(client: httpx.Client) -> None:
    doctor = f"Practitioner/{fresh()}"
    untimed = client.post("/Appointment", json=appointment(doctor, start=None, end=None))
    assert untimed.status_code == 422
    half = client.post("/Appointment", json=appointment(doctor, start=at(9), end=None, status="proposed"))
    assert half.status_code == 422
    booked = client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10))).json()
    fulfilled = client.put(f"/Appointment/{booked['id']}", json={**booked, "status": "fulfilled"})
    assert fulfilled.status_code == 409
    assert diagnostics(fulfilled).startswith("Appointment status cannot move from booked to fulfilled")
    for status in ("checked-in", "fulfilled"):
        current = client.get(f"/Appointment/{booked['id']}").json()
        assert client.put(f"/Appointment/{booked['id']}", json={**current, "status": status}).status_code == 200
    back = client.put(f"/Appointment/{booked['id']}", json={**client.get(f"/Appointment/{booked['id']}").json(),
                                                            "status": "booked"})
    assert back.status_code == 409
    assert diagnostics(back) == ("Appointment status cannot move from fulfilled to booked "
                                 "(allowed from fulfilled: entered-in-error)")
    assert client.get(f"/Appointment/{booked['id']}").json()["status"] == "fulfilled"


def test_a_reason_on_a_noshow_is_valid(client: httpx.Client) -> None:
    response = client.post("/Appointment", json=appointment(f"Practitioner/{fresh()}", start=at(9), end=at(10),
                                                            status="noshow", cancelationReason={"text": "absent"}))
    assert response.status_code == 201, response.text
    booked_reason = client.post("/Appointment", json=appointment(f"Practitioner/{fresh()}", start=at(9), end=at(10),
                                                                 cancelationReason={"text": "x"}))
    assert booked_reason.status_code == 422


def test_administrator_back_fills_the_past(client: httpx.Client) -> None:
    # With authorization off every caller is the administrator (scheduling/access.py).
    past = client.post("/Appointment", json=appointment(f"Practitioner/{fresh()}", start="2020-01-07T09:00:00Z",
                                                        end="2020-01-07T10:00:00Z"))
    assert past.status_code == 201, past.text
