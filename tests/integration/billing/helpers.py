"""Building billing resources over HTTP for the billing tests (every code is fresh per test)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

SYSTEM = "http://www.ama-assn.org/go/cpt"


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def price(client: httpx.Client, code: str, amount: float, currency: str = "EUR") -> dict[str, Any]:
    body = {"resourceType": "ChargeItemDefinition", "url": f"urn:test:price:{code}", "status": "active",
            "code": {"coding": [{"system": SYSTEM, "code": code}]},
            "propertyGroup": [{"priceComponent": [{"type": "base",
                                                   "amount": {"value": amount, "currency": currency}}]}]}
    response = client.post("/ChargeItemDefinition", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def account(client: httpx.Client, patient: str) -> str:
    response = client.post("/Account", json={"resourceType": "Account", "status": "active",
                                             "subject": [{"reference": f"Patient/{patient}"}]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def charge(client: httpx.Client, account_id: str, patient: str, code: str, quantity: float = 1,
           **extra: Any) -> str:
    body = {"resourceType": "ChargeItem", "status": "billable", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": SYSTEM, "code": code}]}, "quantity": {"value": quantity},
            "account": [{"reference": f"Account/{account_id}"}], **extra}
    response = client.post("/ChargeItem", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def claim_response(client: httpx.Client, patient: str, benefits: list[float], outcome: str = "complete",
                   currency: str = "EUR") -> str:
    body = {"resourceType": "ClaimResponse", "status": "active", "type": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
        "use": "claim", "patient": {"reference": f"Patient/{patient}"}, "created": "2031-01-01",
        "insurer": {"reference": "Organization/payer"}, "outcome": outcome,
        "item": [{"itemSequence": i, "adjudication": [
            {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication",
                                      "code": "benefit"}]}, "amount": {"value": b, "currency": currency}},
            {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication",
                                      "code": "copay"}]}, "amount": {"value": 10, "currency": currency}}]}
            for i, b in enumerate(benefits, start=1)]}
    response = client.post("/ClaimResponse", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def params(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


def ext(invoice: dict[str, Any], name: str) -> Any:
    return next(e["valueMoney"] for e in invoice["extension"] if e["url"].endswith(name))
