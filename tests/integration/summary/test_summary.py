"""Patient/[id]/$summary on a hand-made patient: the exact document (sections, their entries in
order, empty and truncated sections) over real HTTP on real PostgreSQL (auth off, section limit 2)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

LOINC = "http://loinc.org"
CODE = {"coding": [{"system": LOINC, "code": "2823-3"}]}


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", summary_section_limit=2)


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code}]}]


def _records(pid: str, other: str) -> list[dict[str, Any]]:
    subject = {"reference": f"Patient/{pid}"}
    med = {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]}
    return [
        {"resourceType": "Patient", "id": pid, "identifier": [{"system": "urn:test:mrn", "value": pid}]},
        {"resourceType": "Patient", "id": other},
        {"resourceType": "Condition", "id": f"{pid}-c1", "subject": subject, "recordedDate": "2024-01-01",
         "code": CODE},
        {"resourceType": "Condition", "id": f"{pid}-c2", "subject": subject, "recordedDate": "2025-01-01",
         "code": CODE},
        {"resourceType": "Condition", "id": f"{pid}-c3", "subject": subject, "recordedDate": "2025-06-01",
         "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                            "code": "entered-in-error"}]}},
        {"resourceType": "Condition", "id": f"{other}-c1", "subject": {"reference": f"Patient/{other}"}},
        {"resourceType": "MedicationStatement", "id": f"{pid}-ms1", "status": "active", "subject": subject,
         "medicationCodeableConcept": med, "effectiveDateTime": "2024-05-01"},
        {"resourceType": "MedicationRequest", "id": f"{pid}-mr1", "status": "active", "intent": "order",
         "subject": subject, "medicationCodeableConcept": med, "authoredOn": "2025-02-01"},
        {"resourceType": "AllergyIntolerance", "id": f"{pid}-a1", "patient": subject, "clinicalStatus": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]}},
        *({"resourceType": "Observation", "id": f"{pid}-lab{i}", "status": "final", "code": CODE, "subject": subject,
           "category": _category("laboratory"), "effectiveDateTime": f"2025-03-0{i}"} for i in (1, 2, 3)),
        {"resourceType": "Observation", "id": f"{pid}-vital", "status": "final", "code": CODE, "subject": subject,
         "category": _category("vital-signs"), "effectiveDateTime": "2025-03-09"},
        {"resourceType": "DiagnosticReport", "id": f"{pid}-dr1", "status": "preliminary", "code": CODE,
         "subject": subject, "effectiveDateTime": "2025-03-03"},
        {"resourceType": "Immunization", "id": f"{pid}-i1", "status": "completed", "patient": subject,
         "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]},
         "occurrenceDateTime": "2024-10-01"},
        {"resourceType": "Encounter", "id": f"{pid}-e1", "status": "finished", "subject": subject,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "period": {"start": "2025-03-01T10:00:00Z"}},
    ]


@pytest.fixture(scope="module")
def patient(client: httpx.Client) -> str:
    pid, other = f"sum-{uuid.uuid4().hex[:8]}", f"sum-{uuid.uuid4().hex[:8]}"
    for resource in _records(pid, other):
        response = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code == 201, response.text
    return pid


def _div(text: str) -> dict[str, str]:
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{text}</div>'}


def test_the_document_has_every_section_with_its_entries(client: httpx.Client, server_url: str,
                                                         patient: str) -> None:
    response = client.get(f"/Patient/{patient}/$summary")
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "document" and bundle["identifier"]["system"] == "urn:ietf:rfc:3986"
    assert bundle["timestamp"] == bundle["meta"]["lastUpdated"]
    composition = bundle["entry"][0]["resource"]
    assert bundle["entry"][0]["fullUrl"] == f"urn:uuid:{composition['id']}"
    assert composition["type"] == {"coding": [{"system": LOINC, "code": "60591-5",
                                               "display": "Patient summary Document"}]}
    assert composition["subject"] == {"reference": f"{server_url}/Patient/{patient}"}
    assert (composition["status"], composition["title"], composition["author"]) == (
        "final", "Patient summary", [{"display": "fhir_server"}])

    def refs(*names: str) -> list[dict[str, str]]:
        return [{"reference": f"{server_url}/{n.split('/')[0]}/{patient}-{n.split('/')[1]}"} for n in names]
    sections = [(s["code"]["coding"][0]["code"], s["title"], s.get("entry"), s.get("emptyReason"), s["text"])
                for s in composition["section"]]
    unavailable = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                               "code": "unavailable"}]}
    truncated = f" (the 2 most recent of each kind; all of them through Patient/{patient}/$everything)"
    assert sections == [
        ("11450-4", "Problem list", refs("Condition/c2", "Condition/c1"), None, _div("2 entries")),
        ("10160-0", "History of Medication use", refs("MedicationStatement/ms1", "MedicationRequest/mr1"), None,
         _div("2 entries")),
        ("48765-2", "Allergies and adverse reactions", refs("AllergyIntolerance/a1"), None, _div("1 entry")),
        ("30954-2", "Relevant diagnostic tests/laboratory data",
         refs("Observation/lab3", "Observation/lab2", "DiagnosticReport/dr1"), None, _div("3 entries" + truncated)),
        ("11369-6", "History of Immunization", refs("Immunization/i1"), None, _div("1 entry")),
        ("47519-4", "History of Procedures", None, unavailable, _div("No information recorded")),
        ("46240-8", "History of encounters", refs("Encounter/e1"), None, _div("1 entry")),
    ]
    listed = [e["fullUrl"] for e in bundle["entry"][1:]]
    assert listed == [f"{server_url}/Patient/{patient}"] + [
        r["reference"] for s in composition["section"] for r in s.get("entry", [])]
    assert all(e["resource"]["id"] == e["fullUrl"].rsplit("/", 1)[1] for e in bundle["entry"][1:])


def test_the_type_level_form_finds_the_patient_by_identifier(client: httpx.Client, patient: str) -> None:
    response = client.get("/Patient/$summary", params={"identifier": f"urn:test:mrn|{patient}"})
    assert response.status_code == 200, response.text
    assert response.json()["entry"][1]["resource"]["id"] == patient
    missing = client.get("/Patient/$summary", params={"identifier": "urn:test:mrn|nobody"})
    assert missing.status_code == 404
    assert missing.json()["issue"][0]["diagnostics"] == "No Patient with identifier urn:test:mrn|nobody is known"


def test_bad_requests(client: httpx.Client, patient: str) -> None:
    assert client.get("/Patient/nobody-here/$summary").status_code == 404
    unknown = client.get(f"/Patient/{patient}/$summary", params={"_count": "5"})
    assert unknown.status_code == 400
    assert unknown.json()["issue"][0]["diagnostics"] == "$summary does not take the parameter _count"
    assert client.get(f"/Patient/{patient}/$summary", params={"profile": "http://x"}).status_code == 400
    assert client.get("/Patient/$summary").status_code == 400


def test_the_operation_definition_is_served(client: httpx.Client) -> None:
    definition = client.get("/OperationDefinition/Patient-summary").json()
    assert (definition["url"], definition["code"], definition["resource"]) == (
        "http://hl7.org/fhir/uv/ips/OperationDefinition/summary", "summary", ["Patient"])
    operations = next(r for r in client.get("/metadata").json()["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"name": "summary", "definition": definition["url"]} in operations["operation"]
