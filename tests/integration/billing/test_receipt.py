"""Receipts: every confirmed payment stores a PDF (Binary) referenced by a DocumentReference the
patient finds by ``DocumentReference?patient=...&type=...``, with the hospital, patient, lines,
amount, date and payment reference."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx

from .helpers import SYSTEM, account, charge, fresh, params

RECEIPT = "http://fhir-server.example.org/CodeSystem/billing-document|receipt"


def test_a_desk_payment_has_a_pdf_receipt_the_patient_finds(client: httpx.Client) -> None:
    made = client.post("/Patient", json={"resourceType": "Patient", "name": [{"given": ["Ada"], "family": "Byron"}]})
    patient = made.json()["id"]
    code = fresh("c")
    client.post("/ChargeItemDefinition", json={
        "resourceType": "ChargeItemDefinition", "url": f"urn:test:{code}", "status": "active",
        "code": {"coding": [{"system": SYSTEM, "code": code}]}, "title": "Physiotherapy session",
        "propertyGroup": [{"priceComponent": [{"type": "base", "amount": {"value": 33.3, "currency": "EUR"}}]}]})
    acct = account(client, patient)
    charge(client, acct, patient, code, quantity=2)  # 66.60
    invoice = client.post(f"/Account/{acct}/$invoice", json=params({"name": "issue", "valueBoolean": True})).json()
    key = fresh("desk-")
    paid = client.post(f"/Invoice/{invoice['id']}/$pay", headers={"Idempotency-Key": key}, json=params(
        {"name": "amount", "valueMoney": {"value": 66.6, "currency": "EUR"}}, {"name": "method", "valueCode": "card"}))
    assert paid.status_code == 201, paid.text
    found = client.get("/DocumentReference", params={"patient": patient, "type": RECEIPT}).json()
    assert len(found["entry"]) == 1
    document = found["entry"][0]["resource"]
    assert document["subject"] == {"reference": f"Patient/{patient}"}
    assert {"reference": f"PaymentReconciliation/{paid.json()['id']}"} in document["context"]["related"]
    url = document["content"][0]["attachment"]["url"]
    binary = client.get(f"/{url}", headers={"Accept": "application/fhir+json"}).json()
    pdf = base64.b64decode(binary["data"])
    assert pdf.startswith(b"%PDF")
    for text in (b"General Hospital", b"Ada Byron", b"Physiotherapy session", b"66.60 EUR", key.encode(),
                 datetime.now(UTC).strftime("%Y-%m-%d").encode(), f"Invoice/{invoice['id']}".encode()):
        assert text in pdf, text
