"""Account/$invoice: lines, totals and the patient's share worked out by hand; ChargeItems billed once."""

from __future__ import annotations

import httpx
import psycopg

from .helpers import account, charge, claim_response, ext, fresh, params, price


def _stored_invoices(url: str, account_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'Invoice' AND NOT deleted"
                           " AND version_id > 0 AND content->'account'->>'reference' = %s",
                           (f"Account/{account_id}",)).fetchone()
    return int(row[0]) if row else 0


def test_invoice_prices_lines_and_bills_the_charges(client: httpx.Client) -> None:
    visit, xray = fresh("v"), fresh("x")
    price(client, visit, 120.00)
    price(client, xray, 45.50)
    patient = fresh("p")
    acct = account(client, patient)
    first = charge(client, acct, patient, visit)
    second = charge(client, acct, patient, xray, quantity=2)
    response = client.post(f"/Account/{acct}/$invoice")
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert invoice["status"] == "draft"
    assert invoice["subject"] == {"reference": f"Patient/{patient}"}
    assert sorted((line["chargeItemReference"]["reference"], line["priceComponent"][0]["amount"]["value"],
                   line["priceComponent"][0]["factor"]) for line in invoice["lineItem"]) == sorted(
        [(f"ChargeItem/{first}", 120.0, 1.0), (f"ChargeItem/{second}", 91.0, 2.0)])
    # 120.00 + 2 x 45.50 = 211.00; no insurance named: the patient owes all of it
    assert invoice["totalNet"] == {"value": 211.0, "currency": "EUR"}
    assert invoice["totalGross"] == {"value": 211.0, "currency": "EUR"}
    assert ext(invoice, "invoice-insurance-paid") == {"value": 0.0, "currency": "EUR"}
    assert ext(invoice, "invoice-patient-responsibility") == {"value": 211.0, "currency": "EUR"}
    for cid in (first, second):
        assert client.get(f"/ChargeItem/{cid}").json()["status"] == "billed"
    again = client.post(f"/Account/{acct}/$invoice")
    assert again.status_code == 422
    assert "no billable ChargeItems" in again.json()["issue"][0]["diagnostics"]


def test_patient_share_subtracts_the_completed_claim_benefit(client: httpx.Client) -> None:
    code = fresh("c")
    price(client, code, 80.00)
    patient = fresh("p")
    acct = account(client, patient)
    charge(client, acct, patient, code, quantity=3)  # 240.00
    paid = claim_response(client, patient, [100.00, 50.25])  # benefit 150.25 (the copay rows are not paid)
    response = client.post(f"/Account/{acct}/$invoice", json=params(
        {"name": "claimResponse", "valueReference": {"reference": f"ClaimResponse/{paid}"}},
        {"name": "issue", "valueBoolean": True}))
    assert response.status_code == 201, response.text
    invoice = response.json()
    assert invoice["status"] == "issued"
    assert invoice["totalGross"] == {"value": 240.0, "currency": "EUR"}
    assert ext(invoice, "invoice-insurance-paid") == {"value": 150.25, "currency": "EUR"}
    assert ext(invoice, "invoice-patient-responsibility") == {"value": 89.75, "currency": "EUR"}


def test_a_queued_claim_response_is_refused_and_nothing_is_written(client: httpx.Client,
                                                                    database_url: str) -> None:
    code = fresh("c")
    price(client, code, 10)
    patient = fresh("p")
    acct = account(client, patient)
    cid = charge(client, acct, patient, code)
    pending = claim_response(client, patient, [5], outcome="queued")
    response = client.post(f"/Account/{acct}/$invoice", json=params(
        {"name": "claimResponse", "valueReference": {"reference": f"ClaimResponse/{pending}"}}))
    assert response.status_code == 422
    assert "not a completed ClaimResponse" in response.json()["issue"][0]["diagnostics"]
    assert _stored_invoices(database_url, acct) == 0
    assert client.get(f"/ChargeItem/{cid}").json()["status"] == "billable"


def test_mixed_currencies_are_refused_and_nothing_is_written(client: httpx.Client, database_url: str) -> None:
    euros, dollars = fresh("e"), fresh("d")
    price(client, euros, 10, "EUR")
    price(client, dollars, 10, "USD")
    patient = fresh("p")
    acct = account(client, patient)
    first = charge(client, acct, patient, euros)
    charge(client, acct, patient, dollars)
    response = client.post(f"/Account/{acct}/$invoice")
    assert response.status_code == 422
    assert "mixes currencies (EUR, USD)" in response.json()["issue"][0]["diagnostics"]
    assert _stored_invoices(database_url, acct) == 0
    assert client.get(f"/ChargeItem/{first}").json()["status"] == "billable"


def test_a_charge_without_a_price_is_refused(client: httpx.Client) -> None:
    patient = fresh("p")
    acct = account(client, patient)
    cid = charge(client, acct, patient, fresh("unpriced"))
    response = client.post(f"/Account/{acct}/$invoice")
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"] == (
        f"ChargeItem/{cid} has no price: no active ChargeItemDefinition for its code")


def test_negative_quantity_is_refused_on_write(client: httpx.Client) -> None:
    response = client.post("/ChargeItem", json={"resourceType": "ChargeItem", "status": "billable",
                                                "subject": {"reference": "Patient/x"},
                                                "code": {"text": "x"}, "quantity": {"value": -1}})
    assert response.status_code == 422
    assert response.json()["issue"][0]["diagnostics"] == "ChargeItem.quantity must not be negative"
