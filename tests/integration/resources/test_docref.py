"""DocumentReference/$docref (US Core, http://hl7.org/fhir/us/core/OperationDefinition/docref):
the patient's stored documents, by care period and type, newest first without a period."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

LOINC = "http://loinc.org"
DISCHARGE, PROGRESS = "18842-5", "11506-3"


def _document(did: str, code: str, start: str, end: str, date: str, patient: str = "docref-p") -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "id": did, "status": "current",
            "type": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{patient}"},
            "date": date, "content": [{"attachment": {"contentType": "text/plain", "url": f"Binary/{did}"}}],
            "context": {"period": {"start": start, "end": end}}}


@pytest.fixture(scope="module", autouse=True)
def documents(client: httpx.Client) -> None:
    for pid in ("docref-p", "docref-other"):
        assert client.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid}).status_code == 201
    for doc in (_document("doc-2023", DISCHARGE, "2023-03-01", "2023-03-05", "2023-03-05T10:00:00Z"),
                _document("doc-2024", PROGRESS, "2024-06-10", "2024-06-10", "2024-06-10T09:00:00Z"),
                _document("doc-2025", DISCHARGE, "2025-01-20", "2025-02-02", "2025-02-02T16:00:00Z"),
                _document("doc-other", DISCHARGE, "2025-01-01", "2025-01-02", "2025-01-02T00:00:00Z",
                          "docref-other")):
        assert client.put(f"/DocumentReference/{doc['id']}", json=doc).status_code == 201


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset"
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_without_a_period_the_most_current_come_first(client: httpx.Client) -> None:
    assert _ids(client.get("/DocumentReference/$docref", params={"patient": "docref-p"})) == [
        "doc-2025", "doc-2024", "doc-2023"]


def test_a_period_selects_documents_whose_care_period_overlaps_it(client: httpx.Client) -> None:
    # 2023-03-04..2024-06-10 overlaps doc-2023 (ends 03-05) and doc-2024 (on 06-10), not doc-2025
    found = _ids(client.get("/DocumentReference/$docref",
                            params={"patient": "Patient/docref-p", "start": "2023-03-04", "end": "2024-06-10"}))
    assert sorted(found) == ["doc-2023", "doc-2024"]
    assert _ids(client.get("/DocumentReference/$docref", params={"patient": "docref-p", "start": "2024-07-01"})) \
        == ["doc-2025"]


def test_type_narrows_and_post_takes_parameters(client: httpx.Client) -> None:
    assert _ids(client.get("/DocumentReference/$docref", params={"patient": "docref-p",
                                                                "type": f"{LOINC}|{DISCHARGE}"})) == [
        "doc-2025", "doc-2023"]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueId": "docref-p"},
        {"name": "type", "valueCoding": {"system": LOINC, "code": PROGRESS}}]}
    assert _ids(client.post("/DocumentReference/$docref", json=body,
                            headers={"Content-Type": "application/fhir+json"})) == ["doc-2024"]


@pytest.mark.parametrize("params, code, text", [
    ({}, "invalid", "$docref needs exactly one patient"),
    ({"patient": "docref-p", "on-demand": "true"}, "not-supported", "does not assemble documents on demand"),
    ({"patient": "docref-p", "category": "x"}, "invalid", "$docref does not take category"),
])
def test_bad_requests_are_400_and_say_why(client: httpx.Client, params: dict[str, str], code: str, text: str) -> None:
    answer = client.get("/DocumentReference/$docref", params=params)
    assert answer.status_code == 400
    issue = answer.json()["issue"][0]
    assert issue["code"] == code and text in issue["diagnostics"]


def test_the_capability_statement_declares_docref_on_document_reference(client: httpx.Client) -> None:
    resources = client.get("/metadata").json()["rest"][0]["resource"]
    docs = next(r for r in resources if r["type"] == "DocumentReference")
    docref = {"name": "docref", "definition": "http://hl7.org/fhir/us/core/OperationDefinition/docref"}
    assert docref in docs["operation"]
    patient = next(r for r in resources if r["type"] == "Patient")
    assert "docref" not in {op["name"] for op in patient["operation"]}
