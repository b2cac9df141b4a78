"""Encounter/$charge: a finished Encounter becomes one billable ChargeItem priced by its type."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from .helpers import SYSTEM, account, fresh, params, price


def _encounter(client: httpx.Client, patient: str, code: str, status: str = "finished") -> str:
    made = client.post("/Encounter", json={
        "resourceType": "Encounter", "status": status, "subject": {"reference": f"Patient/{patient}"},
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": SYSTEM, "code": code}]}],
        "period": {"start": "2031-02-01T09:00:00Z", "end": "2031-02-01T09:30:00Z"}})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_finished_encounter_is_charged_once_on_the_patients_account(client: httpx.Client,
                                                                      server_url: str, database_url: str) -> None:
    code, patient = fresh("c"), fresh("p")
    price(client, code, 88.8)
    acct = account(client, patient)
    encounter = _encounter(client, patient, code)

    def charge(_: int) -> httpx.Response:
        with httpx.Client(base_url=server_url, timeout=60) as own:
            return own.post(f"/Encounter/{encounter}/$charge")

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(charge, range(5)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    made = next(a.json() for a in answers if a.status_code == 201)
    assert made["status"] == "billable" and made["account"] == [{"reference": f"Account/{acct}"}]
    assert made["priceOverride"] == {"value": 88.8, "currency": "EUR"}
    assert made["context"] == {"reference": f"Encounter/{encounter}"}
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'ChargeItem' AND NOT deleted"
                           " AND content->'context'->>'reference' = %s", (f"Encounter/{encounter}",)).fetchone()
    assert row == (1,)
    invoice = client.post(f"/Account/{acct}/$invoice").json()
    assert invoice["totalGross"] == {"value": 88.8, "currency": "EUR"}


def test_charge_bad_input(client: httpx.Client) -> None:
    code, patient = fresh("c"), fresh("p")
    price(client, code, 10)
    ongoing = _encounter(client, patient, code, status="in-progress")
    response = client.post(f"/Encounter/{ongoing}/$charge")
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"] == (
        f"Encounter/{ongoing} is in-progress: only a finished Encounter is charged")
    no_account = _encounter(client, patient, code)
    response = client.post(f"/Encounter/{no_account}/$charge")
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"] == (
        f"Patient/{patient} has no active Account: name one with the parameter account")
    acct = account(client, fresh("q"))
    named = client.post(f"/Encounter/{no_account}/$charge", json=params(
        {"name": "account", "valueReference": {"reference": f"Account/{acct}"}}))
    assert named.status_code == 201, named.text
    unpriced = _encounter(client, patient, fresh("none"))
    response = client.post(f"/Encounter/{unpriced}/$charge")
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"] == (
        f"Encounter/{unpriced}: no active ChargeItemDefinition matches its type")
