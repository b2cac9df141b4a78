"""Building claims resources for the claims tests (the payer ``payer-demo`` is adjudicated here by default)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

CPT = "http://www.ama-assn.org/go/cpt"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
DAY = "2031-03-04"


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def put(client: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def payer(client: httpx.Client, rid: str = "payer-demo") -> str:
    put(client, {"resourceType": "Organization", "id": rid, "active": True, "name": "Demo Health Plan",
                 "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                       "code": "pay"}]}]})
    return rid


def patient(client: httpx.Client) -> str:
    return str(put(client, {"resourceType": "Patient", "id": fresh("pat-"), "name": [{"family": "Claimant"}]})["id"])


def coverage(client: httpx.Client, patient_id: str, payer_id: str = "payer-demo", copay: str | None = "20.00",
             deductible: str | None = "100.00", status: str = "active", start: str = "2031-01-01",
             end: str = "2031-12-31") -> str:
    costs = []
    for kind, value in (("copay", copay), ("deductible", deductible)):
        if value is not None:
            costs.append({"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-copay-type",
                                               "code": kind}]},
                          "valueMoney": {"value": float(value), "currency": "USD"}})
    body = {"resourceType": "Coverage", "id": fresh("cov-"), "status": status,
            "beneficiary": {"reference": f"Patient/{patient_id}"}, "payor": [{"reference": f"Organization/{payer_id}"}],
            "period": {"start": start, "end": end}}
    if costs:
        body["costToBeneficiary"] = costs
    return str(put(client, body)["id"])


def item(sequence: int, code: str, quantity: float, unit_price: float, currency: str = "USD",
         **extra: Any) -> dict[str, Any]:
    return {"sequence": sequence, "productOrService": {"coding": [{"system": CPT, "code": code}]},
            "servicedDate": DAY, "quantity": {"value": quantity},
            "unitPrice": {"value": unit_price, "currency": currency}, **extra}


def claim(patient_id: str, coverage_id: str, items: list[dict[str, Any]], payer_id: str = "payer-demo",
          identifier: str | None = None, use: str = "claim", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Claim", "identifier": [{"system": "urn:example:claims", "value": identifier or fresh()}],
            "status": "active", "use": use,
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                 "code": "professional"}]},
            "patient": {"reference": f"Patient/{patient_id}"}, "created": f"{DAY}T10:00:00Z",
            "insurer": {"reference": f"Organization/{payer_id}"}, "provider": {"reference": "Organization/hospital"},
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                     "code": "normal"}]},
            "billablePeriod": {"start": DAY, "end": DAY},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage_id}"}}],
            "item": items, **extra}


def adjudication(item_answer: dict[str, Any]) -> dict[str, str]:
    """category code -> amount as text (exact decimals)."""
    return {a["category"]["coding"][0]["code"]: f"{a['amount']['value']:.2f}" for a in item_answer["adjudication"]}


def totals(response: dict[str, Any]) -> dict[str, str]:
    return {t["category"]["coding"][0]["code"]: f"{t['amount']['value']:.2f}" for t in response.get("total") or []}


def diagnostics(response: httpx.Response) -> str:
    issues = response.json()["issue"]
    assert len(issues) == 1, issues
    return str(issues[0]["diagnostics"])
