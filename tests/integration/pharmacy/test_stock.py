"""Stock per Medication (lot), Location: receipts (SupplyDelivery) add, dispenses take, never beyond
stock (409) nor from an expired lot (422); Medication/$stock reports current and low stock; ten
concurrent dispenses of the last unit: exactly one succeeds (PostgreSQL's row lock decides)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import orjson
import psycopg
import pytest

from .helpers import (
    JSON_PATCH,
    created,
    delivery,
    diagnostics,
    dispense,
    location,
    medication,
    on_hand,
    order,
    patient,
    post_entry,
    practitioner,
    stored_dispenses,
    transaction,
)

RACERS = 10


@pytest.fixture(scope="module")
def people(client: httpx.Client) -> tuple[str, str]:
    return patient(client), f"Practitioner/{practitioner(client)}"


def _stocked(client: httpx.Client, units: int, lot: str = "A1", expires: str = "2035-01-31") -> tuple[str, str]:
    med, loc = medication(client, lot=lot, expires=expires), location(client)
    if units:
        created(client, delivery(med, loc, units))
    return med, loc


def test_receipts_and_dispenses_move_stock(client: httpx.Client, people: tuple[str, str], database_url: str) -> None:
    pat, doctor = people
    med, loc = _stocked(client, 100)
    created(client, delivery(med, loc, 20))
    created(client, delivery(med, loc, 5, status="in-progress"))  # not received yet: no stock
    assert on_hand(database_url, med, loc) == Decimal(120)
    rid = created(client, order(pat, doctor, quantity=30, repeats=3))
    did = created(client, dispense(rid, pat, 30, med=med, loc=loc))
    assert on_hand(database_url, med, loc) == Decimal(90)
    patched = client.patch(f"/MedicationDispense/{did}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/status", "value": "entered-in-error"}]')
    assert patched.status_code == 200, patched.text
    assert on_hand(database_url, med, loc) == Decimal(120)
    assert client.delete(f"/MedicationDispense/{created(client, dispense(rid, pat, 7, med=med, loc=loc))}"
                         ).status_code in (200, 204)
    assert on_hand(database_url, med, loc) == Decimal(120)


def test_beyond_stock_is_409_and_changes_nothing(client: httpx.Client, people: tuple[str, str],
                                                 database_url: str) -> None:
    pat, doctor = people
    med, loc = _stocked(client, 5)
    rid = created(client, order(pat, doctor, quantity=30, repeats=0))
    response = client.post("/MedicationDispense", json=dispense(rid, pat, 6, med=med, loc=loc))
    assert response.status_code == 409, response.text
    assert response.json()["issue"][0]["code"] == "conflict"
    assert diagnostics(response) == (f"Not enough stock of Medication/{med} lot A1 at Location/{loc}: 5 on hand, "
                                     "6 asked (pharmacy rule stock)")
    bundle = transaction(post_entry(dispense(rid, pat, 6, med=med, loc=loc)))
    assert client.post("/", json=bundle).status_code == 409
    did = created(client, dispense(rid, pat, 5, med=med, loc=loc))
    body = client.get(f"/MedicationDispense/{did}").json()
    put = client.put(f"/MedicationDispense/{did}", json={**body, "quantity": {**body["quantity"], "value": 6}})
    assert put.status_code == 409, put.text
    patched = client.patch(f"/MedicationDispense/{did}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/quantity/value", "value": 6}]')
    assert patched.status_code == 409, patched.text
    assert on_hand(database_url, med, loc) == Decimal(0)
    assert stored_dispenses(database_url, rid) == 1


def test_an_expired_lot_is_not_dispensed(client: httpx.Client, people: tuple[str, str]) -> None:
    pat, doctor = people
    med, loc = _stocked(client, 10, lot="OLD-7", expires="2024-06-30")
    rid = created(client, order(pat, doctor))
    response = client.post("/MedicationDispense", json=dispense(rid, pat, 1, med=med, loc=loc))
    assert response.status_code == 422, response.text
    assert diagnostics(response) == (f"Medication/{med} lot OLD-7 expired on 2024-06-30: it may not be dispensed "
                                     "(pharmacy rule expired-lot)")
    assert client.post("/", json=transaction(post_entry(dispense(rid, pat, 1, med=med, loc=loc)))).status_code == 422
    good = medication(client, lot="NEW-8")
    created(client, delivery(good, loc, 5))  # a good lot at the same place
    did = created(client, dispense(rid, pat, 1, med=good, loc=loc))
    body = client.get(f"/MedicationDispense/{did}").json()
    body["medicationReference"] = {"reference": f"Medication/{med}"}
    put = client.put(f"/MedicationDispense/{did}", json=body)
    assert put.status_code == 422, put.text
    patched = client.patch(f"/MedicationDispense/{did}", headers=JSON_PATCH, content=orjson.dumps(
        [{"op": "replace", "path": "/medicationReference/reference", "value": f"Medication/{med}"}]))
    assert patched.status_code == 422, patched.text
    assert diagnostics(patched).endswith("(pharmacy rule expired-lot)")


def test_a_receipt_whose_units_were_dispensed_cannot_be_undone(client: httpx.Client, people: tuple[str, str],
                                                               database_url: str) -> None:
    pat, doctor = people
    med, loc = medication(client, lot="B2"), location(client)
    sid = created(client, delivery(med, loc, 10))
    rid = created(client, order(pat, doctor))
    created(client, dispense(rid, pat, 8, med=med, loc=loc))
    body = client.get(f"/SupplyDelivery/{sid}").json()
    response = client.put(f"/SupplyDelivery/{sid}", json={**body, "status": "entered-in-error"})
    assert response.status_code == 409, response.text
    assert "only 2 are still on hand" in diagnostics(response)
    assert client.delete(f"/SupplyDelivery/{sid}").status_code == 409
    body["suppliedItem"]["quantity"]["value"] = 12  # a corrected count: 10 taken back, 12 received
    assert client.put(f"/SupplyDelivery/{sid}", json=body).status_code == 200
    assert on_hand(database_url, med, loc) == Decimal(4)
    bad = delivery(med, loc, 10)
    del bad["destination"]
    refused = client.post("/SupplyDelivery", json=bad)
    assert refused.status_code == 422
    assert diagnostics(refused).endswith("(pharmacy rule stock-receipt)")


def _items(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in parameters["parameter"]:
        parts = {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in item["part"]}
        out.append({**parts, "medication": parts["medication"]["reference"],
                    "location": parts["location"]["reference"]})
    return out


def test_stock_operation_lists_current_and_low_stock(client: httpx.Client) -> None:
    loc = location(client)
    plenty, few = medication(client, lot="P1"), medication(client, lot="F1", expires="2024-01-31")
    created(client, delivery(plenty, loc, 50))
    created(client, delivery(few, loc, 3))
    response = client.get("/Medication/$stock", params={"location": f"Location/{loc}"})
    assert response.status_code == 200, response.text
    items = sorted(_items(response.json()), key=lambda i: i["lot"])
    assert items == [
        {"medication": f"Medication/{few}", "location": f"Location/{loc}", "lot": "F1",
         "expirationDate": "2024-01-31", "expired": True, "quantity": 3},
        {"medication": f"Medication/{plenty}", "location": f"Location/{loc}", "lot": "P1",
         "expirationDate": "2035-01-31", "expired": False, "quantity": 50}]
    low = client.post("/Medication/$stock", json={"resourceType": "Parameters", "parameter": [
        {"name": "location", "valueReference": {"reference": f"Location/{loc}"}},
        {"name": "below", "valueDecimal": 10}]})
    assert [i["lot"] for i in _items(low.json())] == ["F1"]
    bad = client.get("/Medication/$stock", params={"below": "many"})
    assert bad.status_code == 400
    assert diagnostics(bad) == "$stock below must be a number, not 'many'"
    definition = client.get("/OperationDefinition/Medication-stock")
    assert definition.status_code == 200 and definition.json()["code"] == "stock"


def test_ten_concurrent_dispenses_of_the_last_unit(server_url: str, client: httpx.Client, people: tuple[str, str],
                                                   database_url: str) -> None:
    pat, doctor = people
    med, loc = _stocked(client, 1, lot="LAST")
    requests = [created(client, order(pat, doctor, quantity=1, repeats=0)) for _ in range(RACERS)]
    with httpx.Client(base_url=server_url, timeout=60) as http, ThreadPoolExecutor(max_workers=RACERS) as pool:
        codes = sorted(pool.map(lambda rid: http.post("/MedicationDispense", json=dispense(
            rid, pat, 1, med=med, loc=loc)).status_code, requests))
    assert codes == [201] + [409] * (RACERS - 1)
    with psycopg.connect(database_url) as conn:
        stock = conn.execute("SELECT quantity FROM pharmacy_stock WHERE medication_id = %s AND location_id = %s",
                             (med, loc)).fetchone()
        taken = conn.execute("SELECT count(*), sum(quantity) FROM pharmacy_dispense WHERE medication_id = %s",
                             (med,)).fetchone()
        stored = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'MedicationDispense'"
                              " AND NOT deleted AND content->'medicationReference'->>'reference' = %s",
                              (f"Medication/{med}",)).fetchone()
    assert stock == (Decimal(0),)
    assert taken == (1, Decimal(1))
    assert stored == (1,)


def test_ten_concurrent_dispenses_against_one_prescription(server_url: str, client: httpx.Client,
                                                           people: tuple[str, str], database_url: str) -> None:
    pat, doctor = people
    rid = created(client, order(pat, doctor, quantity=4, repeats=9))  # 40 in at most 10 fills
    with httpx.Client(base_url=server_url, timeout=60) as http, ThreadPoolExecutor(max_workers=RACERS) as pool:
        codes = sorted(pool.map(lambda _: http.post("/MedicationDispense", json=dispense(rid, pat, 8)).status_code,
                                range(RACERS)))
    assert codes == [201] * 5 + [422] * 5  # 5 x 8 = 40
    with psycopg.connect(database_url) as conn:
        taken = conn.execute("SELECT count(*), sum(quantity) FROM pharmacy_dispense WHERE request_id = %s",
                             (rid,)).fetchone()
    assert taken == (5, Decimal(40))
    assert stored_dispenses(database_url, rid) == 5


def test_a_stocked_lot_keeps_its_number_and_its_expiry_follows(client: httpx.Client, database_url: str) -> None:
    med, loc = _stocked(client, 4, lot="K9", expires="2034-05-31")
    body = client.get(f"/Medication/{med}").json()
    relabelled = {**body, "batch": {"lotNumber": "K10", "expirationDate": "2034-05-31"}}
    response = client.put(f"/Medication/{med}", json=relabelled)
    assert response.status_code == 422
    assert diagnostics(response) == (f"Medication/{med} has 4 units of lot K9 in stock: it cannot be given another "
                                     "batch.lotNumber (record another lot as its own Medication) "
                                     "(pharmacy rule stocked-lot)")
    assert client.delete(f"/Medication/{med}").status_code == 422
    corrected = {**body, "batch": {"lotNumber": "K9", "expirationDate": "2024-05-31"}}
    assert client.put(f"/Medication/{med}", json=corrected).status_code == 200
    stock = client.get("/Medication/$stock", params={"medication": f"Medication/{med}"}).json()
    parts = {p["name"]: p for p in stock["parameter"][0]["part"]}
    assert (parts["expirationDate"]["valueDate"], parts["expired"]["valueBoolean"]) == ("2024-05-31", True)
    assert on_hand(database_url, med, loc) == Decimal(4)
