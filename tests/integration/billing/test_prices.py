"""The price list: ``fhir-server billing prices load`` (CSV and JSON) and $apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from fhir_server.billing.prices import definition_id

from .helpers import SYSTEM, fresh, params, price

CLI = [sys.executable, "-m", "fhir_server.cli"]


def _load(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FHIR_DATABASE_URL": database_url}
    return subprocess.run([*CLI, "billing", "prices", "load", str(path)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_csv_load_and_reload_updates_the_same_definitions(client: httpx.Client, database_url: str,
                                                          tmp_path: Path) -> None:
    code = fresh("c")
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text(f"system,code,display,amount,currency\n{SYSTEM},{code},Office visit,120.00,EUR\n"
                        f"{SYSTEM},{code}b,X-ray,45.5,eur\n")
    done = _load(database_url, csv_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"loaded": 2}
    stored = client.get(f"/ChargeItemDefinition/{definition_id(SYSTEM, code)}").json()
    assert stored["status"] == "active"
    assert stored["code"]["coding"] == [{"system": SYSTEM, "code": code, "display": "Office visit"}]
    assert stored["propertyGroup"][0]["priceComponent"] == [{"type": "base",
                                                            "amount": {"value": 120.0, "currency": "EUR"}}]
    xray = client.get(f"/ChargeItemDefinition/{definition_id(SYSTEM, code + 'b')}").json()
    assert xray["propertyGroup"][0]["priceComponent"][0]["amount"] == {"value": 45.5, "currency": "EUR"}
    csv_file.write_text(f"system,code,display,amount,currency\n{SYSTEM},{code},Office visit,130,EUR\n")
    assert _load(database_url, csv_file).returncode == 0
    again = client.get(f"/ChargeItemDefinition/{definition_id(SYSTEM, code)}").json()
    assert again["meta"]["versionId"] == "2"
    assert again["propertyGroup"][0]["priceComponent"][0]["amount"]["value"] == 130.0


def test_a_bad_row_loads_nothing(client: httpx.Client, database_url: str, tmp_path: Path) -> None:
    code = fresh("c")
    json_file = tmp_path / "prices.json"
    json_file.write_text(json.dumps([{"system": SYSTEM, "code": code, "amount": "10", "currency": "EUR"},
                                     {"system": SYSTEM, "code": code + "x", "amount": "-1", "currency": "EUR"}]))
    done = _load(database_url, json_file)
    assert done.returncode == 1
    assert "price row 2: amount must be a number >= 0" in done.stdout
    assert client.get(f"/ChargeItemDefinition/{definition_id(SYSTEM, code)}").status_code == 404


def test_apply_prices_a_stored_charge_and_an_unsaved_one(client: httpx.Client) -> None:
    code = fresh("c")
    definition = price(client, code, 12.34)
    stored = client.post("/ChargeItem", json={"resourceType": "ChargeItem", "status": "billable",
                                              "subject": {"reference": "Patient/a"}, "quantity": {"value": 3},
                                              "code": {"coding": [{"system": SYSTEM, "code": code}]}})
    assert stored.status_code == 201, stored.text
    url = f"/ChargeItemDefinition/{definition['id']}/$apply"
    by_ref = client.post(url, json=params({"name": "chargeItem",
                                           "valueReference": {"reference": f"ChargeItem/{stored.json()['id']}"}}))
    assert by_ref.status_code == 200, by_ref.text
    assert by_ref.json()["priceOverride"] == {"value": 37.02, "currency": "EUR"}  # 3 x 12.34
    assert by_ref.json()["definitionCanonical"] == [f"urn:test:price:{code}"]
    assert client.get(f"/ChargeItem/{stored.json()['id']}").json().get("priceOverride") is None  # nothing stored
    unsaved = client.post(url, json=params({"name": "chargeItem", "resource": {
        "resourceType": "ChargeItem", "status": "planned", "subject": {"reference": "Patient/a"},
        "code": {"text": "x"}}}))
    assert unsaved.status_code == 200, unsaved.text
    assert unsaved.json()["priceOverride"] == {"value": 12.34, "currency": "EUR"}  # quantity defaults to 1


def test_apply_bad_input(client: httpx.Client) -> None:
    definition = price(client, fresh("c"), 5)
    url = f"/ChargeItemDefinition/{definition['id']}/$apply"
    missing = client.post(url, json=params())
    assert missing.status_code == 400
    assert "exactly one parameter chargeItem" in missing.json()["issue"][0]["diagnostics"]
    negative = client.post(url, json=params({"name": "chargeItem", "resource": {
        "resourceType": "ChargeItem", "status": "planned", "subject": {"reference": "Patient/a"},
        "code": {"text": "x"}, "quantity": {"value": -2}}}))
    assert negative.status_code == 422
    assert negative.json()["issue"][0]["diagnostics"] == "ChargeItem.quantity must not be negative"
    unknown = client.post(url, json=params({"name": "chargeItem", "valueReference": {"reference": "ChargeItem/nope"}}))
    assert unknown.status_code == 404


def test_operation_definitions_are_served(client: httpx.Client) -> None:
    for rid in ("Account-invoice", "ChargeItemDefinition-apply"):
        response = client.get(f"/OperationDefinition/{rid}")
        assert response.status_code == 200
        assert response.json()["id"] == rid
    capability = client.get("/metadata").json()
    operations = {(r["type"], o["name"]) for r in capability["rest"][0]["resource"] for o in r.get("operation", [])}
    assert {("Account", "invoice"), ("ChargeItemDefinition", "apply")} <= operations
