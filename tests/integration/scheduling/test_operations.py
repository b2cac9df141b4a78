"""$book, $cancel, $hold, $find and reschedules over real HTTP and PostgreSQL.

Expected results are worked out by hand from each test's own Schedule and Slots (2031, never past).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from .helpers import appointment, at, diagnostics, fresh, schedule, slot, slot_status, stored_appointments


def _clinic(client: httpx.Client, hours: tuple[int, ...] = (9, 10, 11)) -> tuple[str, str, list[str]]:
    doctor = f"Practitioner/{fresh()}"
    sched = schedule(client, doctor)
    return doctor, sched, [slot(client, sched, at(h), at(h + 1)) for h in hours]


def _booking(doctor: str, slot_id: str, hour: int, patient: str | None = None, **extra: Any) -> dict[str, Any]:
    return appointment(doctor, patient or f"Patient/{fresh()}", start=at(hour), end=at(hour + 1), status="proposed",
                       slot=slot_id, **extra)


def test_book_stores_booked_appointment_busy_slot_and_responses(client: httpx.Client, database_url: str) -> None:
    doctor, _, (first, *_) = _clinic(client)
    patient = f"Patient/{fresh()}"
    response = client.post("/Appointment/$book", json=_booking(doctor, first, 9, patient))
    assert response.status_code == 200, response.text
    booked = response.json()
    assert (booked["status"], booked["slot"]) == ("booked", [{"reference": f"Slot/{first}"}])
    assert slot_status(client, first) == "busy"
    responses = client.get("/AppointmentResponse", params={"appointment": f"Appointment/{booked['id']}"}).json()
    actors = sorted(e["resource"]["actor"]["reference"] for e in responses.get("entry", []))
    assert actors == sorted([doctor, patient])
    assert {e["resource"]["participantStatus"] for e in responses["entry"]} == {"accepted"}
    again = client.post("/Appointment/$book", json=_booking(doctor, first, 9))
    assert again.status_code == 409 and again.json()["issue"][0]["code"] == "conflict"


def test_book_parameters_and_bundle_forms(client: httpx.Client) -> None:
    doctor, _, (first, second, _) = _clinic(client)
    as_parameters = {"resourceType": "Parameters", "parameter": [{"name": "appointment",
                                                                  "resource": _booking(doctor, first, 9)}]}
    assert client.post("/Appointment/$book", json=as_parameters).status_code == 200
    as_bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": _booking(doctor, second, 10)}]}
    assert client.post("/Appointment/$book", json=as_bundle).status_code == 200
    empty = client.post("/Appointment/$book", json={"resourceType": "Bundle", "type": "collection"})
    assert empty.status_code == 400
    assert diagnostics(empty) == "$book needs exactly one Appointment (found 0)"


def test_fifty_concurrent_books_of_one_slot(server_url: str, client: httpx.Client, database_url: str) -> None:
    doctor, _, (first, *_) = _clinic(client, (12,))
    with httpx.Client(base_url=server_url, timeout=60) as http, ThreadPoolExecutor(max_workers=50) as pool:
        codes = sorted(pool.map(lambda _: http.post("/Appointment/$book", json=_booking(doctor, first, 12))
                                .status_code, range(50)))
    assert codes == [200] + [409] * 49
    assert len(stored_appointments(database_url, doctor, "booked")) == 1
    assert slot_status(client, first) == "busy"


def test_idempotent_retry_books_once(client: httpx.Client, database_url: str) -> None:
    doctor, _, (first, second, _) = _clinic(client)
    body, key = _booking(doctor, first, 9), fresh("key-")
    one = client.post("/Appointment/$book", json=body, headers={"Idempotency-Key": key})
    two = client.post("/Appointment/$book", json=body, headers={"Idempotency-Key": key})
    assert one.status_code == two.status_code == 200
    assert two.json() == one.json()
    assert two.headers["Idempotent-Replayed"] == "true"
    assert len(stored_appointments(database_url, doctor)) == 1
    other = client.post("/Appointment/$book", json=_booking(doctor, second, 10), headers={"Idempotency-Key": key})
    assert other.status_code == 422
    assert diagnostics(other) == "This Idempotency-Key was already used for a different request"


def test_reschedule_cancels_the_old_booking_atomically(client: httpx.Client, database_url: str) -> None:
    doctor, sched, (first, second, _) = _clinic(client)
    patient = f"Patient/{fresh()}"
    old = client.post("/Appointment/$book", json=_booking(doctor, first, 9, patient)).json()
    taken = client.post("/Appointment/$book", json=_booking(doctor, second, 10)).json()
    # The new Slot is taken: the reschedule fails and the old booking stays as it was.
    failed = client.post("/Appointment/$book", json={**_booking(doctor, second, 10, patient), "id": old["id"]})
    assert failed.status_code == 409, failed.text
    assert client.get(f"/Appointment/{old['id']}").json()["status"] == "booked"
    assert slot_status(client, first) == "busy"
    assert client.post(f"/Appointment/{taken['id']}/$cancel").status_code == 200
    moved = client.post("/Appointment/$book", json={**_booking(doctor, second, 10, patient), "id": old["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] != old["id"]
    cancelled = client.get(f"/Appointment/{old['id']}").json()
    assert (cancelled["status"], cancelled["cancelationReason"]["text"]) == ("cancelled", "rescheduled")
    assert (slot_status(client, first), slot_status(client, second)) == ("free", "busy")


def test_cancel_frees_the_slot_and_only_from_pending_or_booked(client: httpx.Client) -> None:
    doctor, _, (first, *_) = _clinic(client)
    booked = client.post("/Appointment/$book", json=_booking(doctor, first, 9)).json()
    reason = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "patient ill"}]}
    cancelled = client.post(f"/Appointment/{booked['id']}/$cancel", json=reason)
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["cancelationReason"]) == ("cancelled", {"text": "patient ill"})
    assert slot_status(client, first) == "free"
    again = client.post(f"/Appointment/{booked['id']}/$cancel")
    assert again.status_code == 409
    assert diagnostics(again).startswith(f"Appointment/{booked['id']} is cancelled: only a pending or booked")


def test_hold_blocks_others_until_booked(client: httpx.Client) -> None:
    doctor, _, (first, *_) = _clinic(client)
    held = client.post("/Appointment/$hold", json=_booking(doctor, first, 9))
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "pending"
    assert slot_status(client, first) == "busy-tentative"
    assert client.post("/Appointment/$book", json=_booking(doctor, first, 9)).status_code == 409
    found = client.get("/Appointment/$find", params={"start": at(8), "end": at(13), "practitioner": doctor})
    assert [e["resource"]["start"] for e in found.json()["entry"]] == [at(10), at(11)]
    confirmed = client.post("/Appointment/$book", json=held.json())
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["id"], confirmed.json()["status"]) == (held.json()["id"], "booked")
    assert "extension" not in confirmed.json()
    assert slot_status(client, first) == "busy"


def test_expired_hold_no_longer_holds(client: httpx.Client, database_url: str) -> None:
    doctor, _, (first, *_) = _clinic(client)
    held = client.post("/Appointment/$hold", json=_booking(doctor, first, 9)).json()
    with psycopg.connect(database_url, autocommit=True) as conn:  # let the hold run out, as time would
        conn.execute("UPDATE scheduling_busy SET expires_at = now() - interval '1 second' WHERE appointment_id = %s",
                     (held["id"],))
    found = client.get("/Appointment/$find", params={"start": at(8), "end": at(10), "practitioner": doctor})
    assert [e["resource"]["slot"] for e in found.json()["entry"]] == [[{"reference": f"Slot/{first}"}]]
    assert client.post("/Appointment/$book", json=_booking(doctor, first, 9)).status_code == 200
    assert client.post("/Appointment/$book", json=held).status_code == 409  # the hold was overtaken


def test_find_offers_free_slots_soonest_first_with_paging(client: httpx.Client) -> None:
    doctor, sched, slots = _clinic(client, (9, 10, 11, 12))
    client.post("/Appointment/$book", json=_booking(doctor, slots[1], 10))
    patient = f"Patient/{fresh()}"
    page = client.get("/Appointment/$find", params={"start": at(0), "end": at(23), "practitioner": doctor,
                                                     "patient": patient, "_count": "2"})
    assert page.status_code == 200, page.text
    bundle = page.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    first = [e["resource"] for e in bundle["entry"]]
    assert [(a["status"], a["start"], a["slot"][0]["reference"]) for a in first] == [
        ("proposed", at(9), f"Slot/{slots[0]}"), ("proposed", at(11), f"Slot/{slots[2]}")]
    assert [p["actor"]["reference"] for p in first[0]["participant"]] == [doctor, patient]
    next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    rest = httpx.get(next_url, timeout=30).json()
    assert [e["resource"]["start"] for e in rest["entry"]] == [at(12)]
    assert not [link for link in rest["link"] if link["relation"] == "next"]


def test_find_refuses_bad_windows(client: httpx.Client) -> None:
    assert diagnostics(client.get("/Appointment/$find", params={"start": at(9)})) == "$find needs both start and end"
    wide = client.get("/Appointment/$find", params={"start": "2031-01-01", "end": "2031-03-01"})
    assert wide.status_code == 400
    assert diagnostics(wide) == "$find: the window from start to end may span at most 31 days"
    past = client.get("/Appointment/$find", params={"start": "2020-01-01", "end": "2020-01-05"})
    assert past.status_code == 200 and past.json().get("entry", []) == []


def test_operation_definitions_and_capability(client: httpx.Client) -> None:
    book = client.get("/OperationDefinition/Appointment-book")
    assert book.status_code == 200
    assert (book.json()["code"], book.json()["resource"]) == ("book", ["Appointment"])
    capability = client.get("/metadata").json()
    by_type = {r["type"]: r for r in capability["rest"][0]["resource"]}
    names = [o["name"] for o in by_type["Appointment"]["operation"]]
    assert {"find", "hold", "book", "cancel"} <= set(names)
    assert "generate-slots" in [o["name"] for o in by_type["Schedule"]["operation"]]
    assert "end" in [p["name"] for p in by_type["Slot"]["searchParam"]]
    assert "end" in [p["name"] for p in by_type["Appointment"]["searchParam"]]
    assert client.get("/SearchParameter/Slot-end").json()["expression"] == "Slot.end"


def test_end_search_parameter_finds_what_overlaps(client: httpx.Client) -> None:
    _, sched, slots = _clinic(client, (13, 14, 15))
    found = client.get("/Slot", params={"schedule": f"Schedule/{sched}", "start": f"lt{at(15)}",
                                        "end": f"gt{at(14, 30)}"}).json()
    assert sorted(e["resource"]["id"] for e in found["entry"]) == [slots[1]]


def test_book_a_stored_proposal_in_place(client: httpx.Client) -> None:
    doctor, _, (first, *_) = _clinic(client, (15,))
    proposal = client.post("/Appointment", json=_booking(doctor, first, 15)).json()
    booked = client.post("/Appointment/$book", json=proposal)
    assert booked.status_code == 200, booked.text
    assert (booked.json()["id"], booked.json()["status"], booked.json()["meta"]["versionId"]) == (
        proposal["id"], "booked", "2")
