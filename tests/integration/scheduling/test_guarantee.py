"""No double booking through plain REST writes (create, update, PATCH, DELETE), on real PostgreSQL.

Each expectation is worked out from the issue's rules: statuses pending/booked/arrived/checked-in
hold time, [start, end) ranges (touching ones do not overlap), actors that are not
information-only, and a Slot that is not overbooked holds one booking.
"""

from __future__ import annotations

import httpx

from .helpers import appointment, at, diagnostics, fresh, schedule, slot, slot_status, stored_appointments

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def test_overlap_for_one_practitioner_is_409_naming_the_booking(client: httpx.Client, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    first = client.post("/Appointment", json=appointment(doctor, f"Patient/{fresh()}", start=at(9), end=at(10)))
    assert first.status_code == 201, first.text
    second = client.post("/Appointment", json=appointment(doctor, f"Patient/{fresh()}", start=at(9, 30),
                                                          end=at(10, 30)))
    assert second.status_code == 409
    assert second.json()["issue"][0]["code"] == "conflict"
    assert diagnostics(second) == (f"Double booking refused: {doctor} is already booked at that time by "
                                   f"Appointment/{first.json()['id']}")
    assert stored_appointments(database_url, doctor) == [first.json()["id"]]
    touching = client.post("/Appointment", json=appointment(doctor, start=at(10), end=at(11)))
    assert touching.status_code == 201, touching.text


def test_one_patient_cannot_be_in_two_places(client: httpx.Client) -> None:
    patient = f"Patient/{fresh()}"
    assert client.post("/Appointment", json=appointment(f"Practitioner/{fresh()}", patient, start=at(9),
                                                        end=at(10))).status_code == 201
    other = client.post("/Appointment", json=appointment(f"Practitioner/{fresh()}", patient, start=at(9, 45),
                                                         end=at(10, 15)))
    assert other.status_code == 409
    assert diagnostics(other).startswith(f"Double booking refused: {patient} is already booked")


def test_statuses_that_do_not_hold_time_and_information_only(client: httpx.Client, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    assert client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10))).status_code == 201
    for status in ("proposed", "waitlist", "cancelled"):
        response = client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10), status=status))
        assert response.status_code == 201, (status, response.text)
    informed = client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10),
                                                            required="information-only"))
    assert informed.status_code == 201, informed.text
    assert len(stored_appointments(database_url, doctor, "booked")) == 2  # the first and the information-only one


def test_patch_and_put_into_an_overlap_are_refused_and_change_nothing(client: httpx.Client) -> None:
    doctor = f"Practitioner/{fresh()}"
    assert client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10))).status_code == 201
    proposed = client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10), status="proposed"))
    pid = proposed.json()["id"]
    patched = client.patch(f"/Appointment/{pid}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/status", "value": "booked"}]')
    assert patched.status_code == 409, patched.text
    put = client.put(f"/Appointment/{pid}", json={**proposed.json(), "status": "pending"})
    assert put.status_code == 409
    current = client.get(f"/Appointment/{pid}").json()
    assert (current["status"], current["meta"]["versionId"]) == ("proposed", "1")


def test_cancelling_frees_the_time(client: httpx.Client) -> None:
    doctor = f"Practitioner/{fresh()}"
    first = client.post("/Appointment", json=appointment(doctor, start=at(14), end=at(15))).json()
    assert client.post("/Appointment", json=appointment(doctor, start=at(14), end=at(15))).status_code == 409
    cancelled = {**first, "status": "cancelled", "cancelationReason": {"text": "patient called"}}
    assert client.put(f"/Appointment/{first['id']}", json=cancelled).status_code == 200
    assert client.post("/Appointment", json=appointment(doctor, start=at(14), end=at(15))).status_code == 201


def test_deleting_an_appointment_frees_its_time(client: httpx.Client) -> None:
    doctor = f"Practitioner/{fresh()}"
    first = client.post("/Appointment", json=appointment(doctor, start=at(16), end=at(17))).json()
    assert client.delete(f"/Appointment/{first['id']}").status_code in (200, 204)
    assert client.post("/Appointment", json=appointment(doctor, start=at(16), end=at(17))).status_code == 201


def test_slot_holds_one_booking_unless_overbooked(client: httpx.Client) -> None:
    doctor, room = f"Practitioner/{fresh()}", f"Location/{fresh()}"
    sched = schedule(client, doctor, room)
    single = slot(client, sched, at(9), at(10))
    first = client.post("/Appointment", json=appointment(doctor, f"Patient/{fresh()}", start=at(9), end=at(10),
                                                         slot=single))
    assert first.status_code == 201, first.text
    assert slot_status(client, single) == "busy"
    # Another actor of the same Schedule: no actor overlaps, but the Slot itself is taken.
    second = client.post("/Appointment", json=appointment(room, f"Patient/{fresh()}", start=at(9), end=at(10),
                                                          slot=single))
    assert second.status_code == 409
    assert diagnostics(second) == ("Double booking refused: its Slot is already booked at that time by "
                                   f"Appointment/{first.json()['id']}")
    shared = slot(client, sched, at(11), at(12), overbooked=True)
    for _ in range(2):
        response = client.post("/Appointment", json=appointment(doctor, f"Patient/{fresh()}", start=at(11),
                                                                 end=at(12), slot=shared))
        assert response.status_code == 201, response.text
    assert slot_status(client, shared) == "busy"


def test_slot_follows_its_booking(client: httpx.Client) -> None:
    doctor = f"Practitioner/{fresh()}"
    one = slot(client, schedule(client, doctor), at(13), at(14))
    booked = client.post("/Appointment", json=appointment(doctor, start=at(13), end=at(14), slot=one)).json()
    assert slot_status(client, one) == "busy"
    # A booked Slot changes only with its bookings.
    freed = client.put(f"/Slot/{one}", json={**client.get(f"/Slot/{one}").json(), "status": "free"})
    assert freed.status_code == 409
    assert client.delete(f"/Slot/{one}").status_code == 409
    cancelled = {**booked, "status": "cancelled"}
    assert client.put(f"/Appointment/{booked['id']}", json=cancelled).status_code == 200
    assert slot_status(client, one) == "free"
