"""Encounter/$triage-queue and Organization/[id]/$tree over real HTTP (issue 15).

Triage order (triage.py, README): priority EM, S, A, UR, R, EL, then other/none; then arrival.
Each module has its own database, so the queue holds only this module's Encounters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .helpers import create, encounter

PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
WAITING = "http://fhir-server.example.org/StructureDefinition/waiting-time"
DEPTH = "http://fhir-server.example.org/StructureDefinition/tree-depth"


def _ago(minutes: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _waiting(status: str, priority: str | None, minutes: int, klass: str = "EMER") -> dict[str, object]:
    body = encounter(status, klass=klass, period={"start": _ago(minutes)})
    if priority is not None:
        body["priority"] = {"coding": [{"system": PRIORITY, "code": priority}]}
    return body


def test_triage_queue_orders_by_priority_then_arrival_with_waiting_time(client: httpx.Client) -> None:
    now = datetime.now(UTC)
    minutes_today = now.hour * 60 + now.minute  # arrivals must fall on today (UTC, the tests' time zone)
    early, late = min(40, minutes_today), min(10, minutes_today)
    routine_early = create(client, _waiting("arrived", "R", early))
    urgent = create(client, _waiting("triaged", "UR", late))
    emergency_late = create(client, _waiting("arrived", "EM", late))
    emergency_early = create(client, _waiting("triaged", "EM", early))
    unprioritised = create(client, _waiting("arrived", None, early, klass="AMB"))
    create(client, _waiting("in-progress", "EM", early))  # not waiting
    create(client, encounter("arrived", klass="EMER", period={"start": "2001-01-01T10:00:00Z"}))  # not today
    response = client.get("/Encounter/$triage-queue")
    assert response.status_code == 200, response.text
    bundle = response.json()
    ids = [e["resource"]["id"] for e in bundle["entry"]]
    expected = [emergency_early["id"], emergency_late["id"], urgent["id"], routine_early["id"], unprioritised["id"]]
    if early == late:  # just after midnight: equal arrivals order by id
        expected[:2] = sorted(expected[:2])
    assert ids == expected
    assert bundle["total"] == 5
    waits = [e["extension"][0] for e in bundle["entry"]]
    assert all(w["url"] == WAITING and w["valueDuration"]["code"] == "min" for w in waits)
    assert waits[0]["valueDuration"]["value"] in (early, early + 1)
    emer = client.get("/Encounter/$triage-queue", params={"class": "EMER"}).json()
    assert [e["resource"]["id"] for e in emer["entry"]] == expected[:4]
    coded = client.get("/Encounter/$triage-queue", params={
        "class": "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB", "_count": "1"}).json()
    assert [e["resource"]["id"] for e in coded["entry"]] == [unprioritised["id"]]


def test_triage_queue_refuses_unknown_parameters(client: httpx.Client) -> None:
    response = client.get("/Encounter/$triage-queue", params={"status": "arrived"})
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"] == "$triage-queue does not know the parameter(s) status"
    assert client.get("/Encounter/$triage-queue", params={"_count": "x"}).status_code == 400


def test_tree_returns_the_department_tree_level_by_level(client: httpx.Client) -> None:
    hospital = create(client, {"resourceType": "Organization", "name": "General Hospital"})
    surgery = create(client, {"resourceType": "Organization", "name": "Surgery",
                              "partOf": {"reference": f"Organization/{hospital['id']}"}})
    medicine = create(client, {"resourceType": "Organization", "name": "Medicine",
                               "partOf": {"reference": f"Organization/{hospital['id']}"}})
    cardio = create(client, {"resourceType": "Organization", "name": "Cardiology",
                             "partOf": {"reference": f"{client.base_url}Organization/{medicine['id']}"}})
    create(client, {"resourceType": "Organization", "name": "Elsewhere"})
    response = client.get(f"/Organization/{hospital['id']}/$tree")
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [(e["resource"]["id"], e["extension"][0]["valueInteger"]) for e in entries] == [
        (hospital["id"], 0), (medicine["id"], 1), (surgery["id"], 1), (cardio["id"], 2)]
    below = client.get(f"/Organization/{medicine['id']}/$tree").json()
    assert [e["resource"]["id"] for e in below["entry"]] == [medicine["id"], cardio["id"]]
    assert client.get("/Organization/nope/$tree").status_code == 404


def test_operation_definitions_are_served(client: httpx.Client) -> None:
    for rid, code in (("Encounter-triage-queue", "triage-queue"), ("Organization-tree", "tree")):
        response = client.get(f"/OperationDefinition/{rid}")
        assert response.status_code == 200 and response.json()["code"] == code


def test_bed_board_lists_the_ward_beds_with_status_and_occupant(client: httpx.Client) -> None:
    ward = create(client, {"resourceType": "Location", "name": "Ward Z", "physicalType": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "wa"}]}})
    room = create(client, {"resourceType": "Location", "name": "Room 1", "partOf": {
        "reference": f"Location/{ward['id']}"}, "physicalType": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": "ro"}]}})
    beds = {}
    for name in ("Bed B", "Bed A"):
        beds[name] = create(client, {
            "resourceType": "Location", "name": name, "status": "active",
            "partOf": {"reference": f"Location/{room['id']}"},
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                         "code": "bd"}]},
            "operationalStatus": {"system": "http://terminology.hl7.org/CodeSystem/v2-0116", "code": "U"}})["id"]
    admitted = create(client, encounter("in-progress", bed=beds["Bed B"]))
    response = client.get(f"/Location/{ward['id']}/$bed-board")
    assert response.status_code == 200, response.text
    assert response.json() == {"resourceType": "Parameters", "parameter": [
        {"name": "bed", "part": [{"name": "location", "valueReference": {"reference": f"Location/{beds['Bed A']}"}},
                                 {"name": "status", "valueCode": "U"}]},
        {"name": "bed", "part": [{"name": "location", "valueReference": {"reference": f"Location/{beds['Bed B']}"}},
                                 {"name": "status", "valueCode": "O"},
                                 {"name": "encounter",
                                  "valueReference": {"reference": f"Encounter/{admitted['id']}"}}]}]}
    assert client.get("/Location/nope/$bed-board").status_code == 404
