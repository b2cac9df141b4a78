"""Building lab resources and checking refusals, for the laboratory tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def task(status: str, rid: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Task", "status": status, "intent": "order", **extra}
    if rid is not None:
        body["id"] = rid
    return body


def report(status: str, rid: str | None = None, result: bool = True, performer: bool = True,
           **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "DiagnosticReport", "status": status,
                            "category": [LAB], "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8"}]},
                            **extra}
    if rid is not None:
        body["id"] = rid
    if result:
        body["result"] = [{"reference": "Observation/lab-o1"}]
    if performer:
        body["performer"] = [{"reference": "Organization/lab-1"}]
    return body


def put(client: httpx.Client, resource: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in ((200, 201) if status == 200 else (status,)), response.text
    return dict(response.json())


def refused(response: httpx.Response, diagnostics: str, status: int = 422, code: str = "business-rule") -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "diagnostics": diagnostics}]}


def transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def put_entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}}


def stored(client: httpx.Client, rtype: str, rid: str) -> tuple[str, str]:
    """(status, versionId) of the current version."""
    body = client.get(f"/{rtype}/{rid}").json()
    return str(body["status"]), str(body["meta"]["versionId"])
