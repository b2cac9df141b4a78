"""$summary is readable with the same scopes as $everything: a patient reads their own summary,
another patient's is 404 (as for $everything), a doctor reads any; a narrower patient token gets
the sections its scopes cover and the others marked withheld."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.laboratory.smart_fixtures import NARROW_SCOPE, patient_token

LAB = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}]


@pytest.fixture(scope="module")
def records(http: dict[str, httpx.Client]) -> dict[str, str]:
    made: dict[str, str] = {}
    for patient in ("pat-a", "pat-b"):
        for body in ({"resourceType": "Observation", "status": "final", "category": LAB,
                      "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]}},
                     {"resourceType": "Condition", "code": {"text": "Asthma"}}):
            body = {**body, "subject": {"reference": f"Patient/{patient}"}}
            response = http["doc-1"].post(f"/{body['resourceType']}", json=body)
            assert response.status_code == 201, response.text
            made[f"{patient}/{body['resourceType']}"] = response.json()["id"]
    return made


def _entries(bundle: dict[str, Any]) -> list[str]:
    return [e["fullUrl"].split("/fhir/", 1)[-1] for e in bundle["entry"][1:]]


def test_a_patient_reads_only_their_own_summary(http: dict[str, httpx.Client], records: dict[str, str]) -> None:
    own = http["pat-a"].get("/Patient/pat-a/$summary")
    assert own.status_code == 200, own.text
    assert _entries(own.json()) == ["Patient/pat-a", f"Condition/{records['pat-a/Condition']}",
                                    f"Observation/{records['pat-a/Observation']}"]
    other = http["pat-a"].get("/Patient/pat-b/$summary")
    assert other.status_code == 404, other.text
    assert http["pat-a"].get("/Patient/pat-b/$everything").status_code == 404  # the same rule


def test_a_doctor_reads_any_patients_summary(http: dict[str, httpx.Client], records: dict[str, str]) -> None:
    response = http["doc-2"].get("/Patient/pat-b/$summary")
    assert response.status_code == 200, response.text
    assert _entries(response.json()) == ["Patient/pat-b", f"Condition/{records['pat-b/Condition']}",
                                         f"Observation/{records['pat-b/Observation']}"]


def test_sections_outside_the_scopes_are_withheld(http: dict[str, httpx.Client], records: dict[str, str],
                                                  server_url: str, database_url: str, app_client: str) -> None:
    token = patient_token(server_url, database_url, app_client, "pat-a", NARROW_SCOPE)
    with httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as narrow:
        response = narrow.get("/Patient/pat-a/$summary")
    assert response.status_code == 200, response.text
    sections = response.json()["entry"][0]["resource"]["section"]
    reasons = [(s["code"]["coding"][0]["code"], (s.get("emptyReason") or {}).get("coding", [{}])[0].get("code"))
               for s in sections]
    assert reasons == [("11450-4", "withheld"), ("10160-0", "withheld"), ("48765-2", "withheld"), ("30954-2", None),
                       ("11369-6", "withheld"), ("47519-4", "withheld"), ("46240-8", "withheld")]
    assert sections[3]["text"]["div"] == ('<div xmlns="http://www.w3.org/1999/xhtml">1 entry; DiagnosticReport'
                                          ' withheld</div>')
    assert _entries(response.json()) == ["Patient/pat-a", f"Observation/{records['pat-a/Observation']}"]
