"""Dispensing against a prescription (dispense.py): quantity x (1 + repeats), fills, status of the
request, validity period, same medication and patient, mdd-1 and the dispense's own status rules;
refusals are 422 through POST, PUT, PATCH and a transaction, and store nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from fhir_server.cli import main

from .helpers import (
    IBUPROFEN,
    JSON_PATCH,
    created,
    diagnostics,
    dispense,
    order,
    patient,
    post_entry,
    practitioner,
    stored_dispenses,
    transaction,
)


@pytest.fixture(scope="module")
def people(client: httpx.Client) -> tuple[str, str]:
    return patient(client), f"Practitioner/{practitioner(client)}"


def _refused(response: httpx.Response, rule: str) -> str:
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["code"] == "business-rule"
    text = diagnostics(response)
    assert text.endswith(f"(pharmacy rule {rule})"), text
    return text


def test_quantity_times_one_plus_repeats(client: httpx.Client, people: tuple[str, str], database_url: str) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=30, repeats=2))  # 90 tablets in at most 3 fills
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 50)).status_code == 201
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 40)).status_code == 201
    text = _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 1)), "authorized-quantity")
    assert text.startswith(f"MedicationRequest/{rid} authorizes 90 in all (30 x (1 + 2 repeats)); 90 already "
                           "dispensed, 1 more asked")
    assert stored_dispenses(database_url, rid) == 2


def test_number_of_fills(client: httpx.Client, people: tuple[str, str], database_url: str) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=30, repeats=1))  # 2 fills of 30
    for _ in range(2):
        assert client.post("/MedicationDispense", json=dispense(rid, pat, 10)).status_code == 201
    text = _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 10)), "number-of-fills")
    assert text == (f"MedicationRequest/{rid} authorizes 2 fills (1 + 1 repeats); 2 already dispensed "
                    "(pharmacy rule number-of-fills)")
    no_repeats = created(client, order(pat, doctor, quantity=None, repeats=None))  # one fill, any quantity
    assert client.post("/MedicationDispense", json=dispense(no_repeats, pat, 500)).status_code == 201
    _refused(client.post("/MedicationDispense", json=dispense(no_repeats, pat, 1)), "number-of-fills")
    assert stored_dispenses(database_url, rid) == 2


def test_a_cancelled_dispense_gives_its_quantity_back(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=30, repeats=0))
    did = created(client, dispense(rid, pat, 30, status="preparation"))
    _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 30)), "number-of-fills")
    patched = client.patch(f"/MedicationDispense/{did}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/status", "value": "cancelled"}]')
    assert patched.status_code == 200, patched.text
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 30)).status_code == 201


def test_request_status_and_validity(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    for status in ("cancelled", "stopped", "completed", "entered-in-error", "on-hold"):
        rid = created(client, order(pat, doctor, status=status))
        text = _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 1)), "active-prescription")
        assert text.startswith(f"MedicationRequest/{rid} is {status}: it cannot be dispensed")
    period = {"start": "2020-01-01", "end": "2020-12-31"}
    old = created(client, order(pat, doctor, dispenseRequest={"validityPeriod": period,
                                                                "quantity": {"value": 30}}))
    text = _refused(client.post("/MedicationDispense", json=dispense(old, pat, 1)), "validity-period")
    assert "(2020-01-01 to 2020-12-31)" in text
    within = dispense(old, pat, 1, whenPrepared="2020-06-01T10:00:00Z", whenHandedOver="2020-06-01T11:00:00Z")
    assert client.post("/MedicationDispense", json=within).status_code == 201  # recorded when it happened


def test_same_medication_unless_substituted_and_same_patient(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, repeats=3))
    _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 1, code=IBUPROFEN)), "same-medication")
    substituted = dispense(rid, pat, 1, code=IBUPROFEN, substitution={"wasSubstituted": True})
    assert client.post("/MedicationDispense", json=substituted).status_code == 201
    other = patient(client)
    _refused(client.post("/MedicationDispense", json=dispense(rid, other, 1)), "same-patient")
    unauthorized = dispense(rid, pat, 1)
    del unauthorized["authorizingPrescription"]
    _refused(client.post("/MedicationDispense", json=unauthorized), "authorizing-prescription")


def test_mdd1_and_status_rules(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, repeats=5))
    backwards = dispense(rid, pat, 1, whenPrepared="2031-01-02T10:00:00Z", whenHandedOver="2031-01-02T09:00:00Z")
    response = client.post("/MedicationDispense", json=backwards)
    assert response.status_code == 422, response.text
    assert "mdd-1" in response.text
    did = created(client, dispense(rid, pat, 1))
    body: dict[str, Any] = client.get(f"/MedicationDispense/{did}").json()
    text = _refused(client.put(f"/MedicationDispense/{did}", json={**body, "status": "in-progress"}),
                    "dispense-status")
    assert text.startswith("A MedicationDispense cannot go from completed to in-progress")
    assert client.put(f"/MedicationDispense/{did}", json={**body, "status": "entered-in-error"}).status_code == 200
    _refused(client.put(f"/MedicationDispense/{did}", json={**body, "status": "completed"}), "dispense-status")


def test_put_patch_and_transaction_beyond_the_prescription(client: httpx.Client, people: tuple[str, str],
                                                          database_url: str) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=10, repeats=0))
    did = created(client, dispense(rid, pat, 10))
    patched = client.patch(f"/MedicationDispense/{did}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/quantity/value", "value": 11}]')
    _refused(patched, "authorized-quantity")
    body = client.get(f"/MedicationDispense/{did}").json()
    assert body["quantity"]["value"] == 10
    _refused(client.put(f"/MedicationDispense/{did}", json={**body, "quantity": {**body["quantity"], "value": 12}}),
             "authorized-quantity")
    other = created(client, order(pat, doctor, quantity=10, repeats=0))
    response = client.post("/", json=transaction(post_entry(dispense(other, pat, 6)),
                                                 post_entry(dispense(other, pat, 4))))
    assert response.status_code == 422, response.text
    assert diagnostics(response).startswith("entry 1 (POST MedicationDispense): ")
    assert stored_dispenses(database_url, other) == 0
    assert client.put(f"/MedicationDispense/{did}", json={**body, "note": [{"text": "checked"}]}).status_code == 200


def test_a_request_cannot_authorize_less_than_was_dispensed(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=30, repeats=1))
    assert client.post("/MedicationDispense", json=dispense(rid, pat, 40)).status_code == 201
    body = client.get(f"/MedicationRequest/{rid}").json()
    body["dispenseRequest"]["numberOfRepeatsAllowed"] = 0
    _refused(client.put(f"/MedicationRequest/{rid}", json=body), "authorized-quantity")
    body["status"] = "completed"
    body["dispenseRequest"]["numberOfRepeatsAllowed"] = 1
    assert client.put(f"/MedicationRequest/{rid}", json=body).status_code == 200
    _refused(client.post("/MedicationDispense", json=dispense(rid, pat, 1)), "active-prescription")


def test_fhir_server_load_is_held_to_the_same_limits(client: httpx.Client, people: tuple[str, str],
                                                     database_url: str, tmp_path: Path) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=10, repeats=1))  # 20 in two fills
    over = tmp_path / "over.json"
    over.write_bytes(orjson.dumps(transaction(post_entry(dispense(rid, pat, 15)), post_entry(dispense(rid, pat, 6)))))
    assert main(["load", str(over), "--database-url", database_url]) == 1
    assert stored_dispenses(database_url, rid) == 0
    within = tmp_path / "within.json"
    within.write_bytes(orjson.dumps(transaction(post_entry(dispense(rid, pat, 15)), post_entry(dispense(rid, pat, 5)))))
    assert main(["load", str(within), "--database-url", database_url]) == 0
    assert stored_dispenses(database_url, rid) == 2
