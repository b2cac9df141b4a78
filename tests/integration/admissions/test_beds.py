"""One active inpatient per bed, kept by PostgreSQL; the bed's operationalStatus follows (issue 15)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from .helpers import (
    HOME,
    bed,
    bed_code,
    create,
    diagnostics,
    encounter,
    fresh,
    occupants,
    patch_status,
    put_entry,
    transaction,
)

RACERS = 10


def _taken(bed_id: str) -> str:
    return (f"Bed rule (admissions.bed-occupancy): Location/{bed_id} is already occupied by another active "
            "inpatient Encounter")


def test_admission_occupies_and_discharge_frees(client: httpx.Client, database_url: str) -> None:
    bid = bed(client)
    admitted = create(client, encounter("in-progress", bed=bid))
    assert bed_code(client, bid) == "O"
    assert occupants(database_url, bid) == [admitted["id"]]
    no_disposition = client.put(f"/Encounter/{admitted['id']}", json={**admitted, "status": "finished"})
    assert no_disposition.status_code == 422, no_disposition.text
    assert diagnostics(no_disposition) == ("Discharge rule (admissions.discharge): an inpatient Encounter is "
                                           "finished only with hospitalization.dischargeDisposition")
    assert bed_code(client, bid) == "O"
    discharged = client.put(f"/Encounter/{admitted['id']}", json={
        **admitted, "status": "finished", "hospitalization": {"dischargeDisposition": HOME}})
    assert discharged.status_code == 200, discharged.text
    assert bed_code(client, bid) == "U"
    assert occupants(database_url, bid) == []
    assert client.get(f"/Location/{bid}").json()["meta"]["versionId"] == "3"  # U -> O -> U


def test_second_inpatient_in_a_bed_is_409_by_post_put_patch_and_transaction(client: httpx.Client,
                                                                           database_url: str) -> None:
    bid = bed(client)
    first = create(client, encounter("in-progress", bed=bid))
    post = client.post("/Encounter", json=encounter("in-progress", bed=bid))
    assert post.status_code == 409, post.text
    assert post.json()["issue"][0]["code"] == "conflict"
    assert diagnostics(post) == _taken(bid)
    waiting = create(client, encounter("arrived", bed=bid))  # not yet in-progress: holds nothing
    put = client.put(f"/Encounter/{waiting['id']}", json={**waiting, "status": "in-progress"})
    assert put.status_code == 409 and diagnostics(put) == _taken(bid)
    patched = patch_status(client, waiting["id"], "in-progress")
    assert patched.status_code == 409 and diagnostics(patched) == _taken(bid)
    rid = fresh("enc-")
    bundle = client.post("/", json=transaction(put_entry({**encounter("in-progress", bed=bid), "id": rid})))
    assert bundle.status_code == 409, bundle.text
    assert diagnostics(bundle).endswith(_taken(bid))
    assert client.get(f"/Encounter/{rid}").status_code == 404
    assert client.get(f"/Encounter/{waiting['id']}").json()["status"] == "arrived"
    assert occupants(database_url, bid) == [first["id"]]


def test_outpatients_and_non_bed_locations_hold_nothing(client: httpx.Client, database_url: str) -> None:
    bid = bed(client)
    create(client, encounter("in-progress", klass="AMB", bed=bid))
    assert occupants(database_url, bid) == [] and bed_code(client, bid) == "U"
    ward = create(client, {"resourceType": "Location", "status": "active", "name": "ward", "physicalType": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}})
    create(client, encounter("in-progress", bed=ward["id"]))
    create(client, encounter("in-progress", bed=ward["id"]))  # a ward holds many


def test_transfer_moves_the_occupancy(client: httpx.Client, database_url: str) -> None:
    a, b = bed(client), bed(client)
    made = create(client, encounter("in-progress", bed=a))
    moved = client.put(f"/Encounter/{made['id']}", json={**made, "location": [
        {"location": {"reference": f"Location/{a}"}, "status": "completed"},
        {"location": {"reference": f"Location/{b}"}, "status": "active"}]})
    assert moved.status_code == 200, moved.text
    assert (bed_code(client, a), bed_code(client, b)) == ("U", "O")
    assert occupants(database_url, a) == [] and occupants(database_url, b) == [made["id"]]
    onleave = patch_status(client, made["id"], "onleave")
    assert onleave.status_code == 200 and occupants(database_url, b) == [made["id"]]  # kept during leave


def test_contaminated_bed_takes_no_admission_and_two_beds_are_refused(client: httpx.Client) -> None:
    dirty = bed(client, "K")
    response = client.post("/Encounter", json=encounter("in-progress", bed=dirty))
    assert response.status_code == 409
    assert diagnostics(response) == (f"Bed rule (admissions.bed-occupancy): Location/{dirty} is contaminated "
                                     "(operationalStatus K): it takes no admission until it is made unoccupied (U)")
    a, b = bed(client), bed(client)
    both = encounter("in-progress", bed=a)
    both["location"].append({"location": {"reference": f"Location/{b}"}, "status": "active"})
    two = client.post("/Encounter", json=both)
    assert two.status_code == 422
    first, second = sorted([a, b])
    assert diagnostics(two) == ("Bed rule (admissions.bed-occupancy): an inpatient Encounter holds one bed, but its "
                                f"active locations name Location/{first}, Location/{second}")


def test_an_occupied_bed_cannot_be_freed_by_hand_or_deleted(client: httpx.Client, database_url: str) -> None:
    bid = bed(client)
    made = create(client, encounter("in-progress", bed=bid))
    location = client.get(f"/Location/{bid}").json()
    for body in ({**location, "operationalStatus": {"system": "http://terminology.hl7.org/CodeSystem/v2-0116",
                                                    "code": "U"}}, {**location, "status": "inactive"}):
        response = client.put(f"/Location/{bid}", json=body)
        assert response.status_code == 409, response.text
        assert "is occupied by an inpatient Encounter" in diagnostics(response)
    assert client.delete(f"/Location/{bid}").status_code == 409
    assert occupants(database_url, bid) == [made["id"]]
    deleted = client.delete(f"/Encounter/{made['id']}")  # deleting the Encounter frees the bed
    assert deleted.status_code in (200, 204)
    assert occupants(database_url, bid) == [] and bed_code(client, bid) == "U"


def test_ten_concurrent_admissions_to_one_bed_store_one(server_url: str, database_url: str) -> None:
    with httpx.Client(base_url=server_url, timeout=60) as http:
        bid = bed(http)
        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            codes = sorted(pool.map(lambda _: http.post("/Encounter", json=encounter("in-progress", bed=bid))
                                    .status_code, range(RACERS)))
        assert codes == [201] + [409] * (RACERS - 1)
        assert bed_code(http, bid) == "O"
    assert len(occupants(database_url, bid)) == 1
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'Encounter' AND NOT deleted"
                              " AND content->'location'->0->'location'->>'reference' = %s",
                              (f"Location/{bid}",)).fetchone()
    assert stored == (1,)
