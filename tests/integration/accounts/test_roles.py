"""Roles cap the scopes a user may be granted: requested ∩ client's ∩ role caps (migration 090),
so the token's scope (and the SQL predicates that read it) carry the role."""

from __future__ import annotations

import httpx
import pytest

from .conftest import add_user, bearer, token_response

VITALS = "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"
NURSE_SCOPE = ("openid fhirUser offline_access user/*.rs user/Encounter.cu user/MedicationAdministration.cu "
               f"user/Observation.cu?category={VITALS}")


@pytest.fixture(scope="module")
def users(database_url: str, server_url: str) -> None:
    add_user(database_url, "nurse.ng", "Practitioner/nurse-ng", "nurse")
    add_user(database_url, "dr.ada", "Practitioner/dr-ada", "doctor")
    add_user(database_url, "clerk.bo", "Practitioner/clerk-bo", "billing")


def observation(category: str) -> dict[str, object]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "valueQuantity": {"value": 72}}


CONDITION = {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
             "code": {"text": "Pneumonia"}}


def test_nurse_asking_for_everything_gets_the_nurse_role(browser: httpx.Client, root_url: str, server_url: str,
                                                          client_id: str, users: None) -> None:
    tokens = token_response(browser, root_url, server_url, client_id, "nurse.ng")
    assert tokens["scope"] == NURSE_SCOPE
    auth = bearer(tokens["access_token"])
    vital = browser.post(f"{server_url}/Observation", json=observation("vital-signs"), headers=auth)
    assert vital.status_code == 201, vital.text
    lab = browser.post(f"{server_url}/Observation", json=observation("laboratory"), headers=auth)
    assert lab.status_code == 403, lab.text
    condition = browser.post(f"{server_url}/Condition", json=CONDITION, headers=auth)
    assert condition.status_code == 403
    assert condition.json()["resourceType"] == "OperationOutcome"
    assert "create Condition" in condition.text
    # Reads are in the nurse's cap.
    assert browser.get(f"{server_url}/Observation/{vital.json()['id']}", headers=auth).status_code == 200


def test_doctor_writes_clinical_records_not_claims(browser: httpx.Client, root_url: str, server_url: str,
                                                    client_id: str, users: None) -> None:
    tokens = token_response(browser, root_url, server_url, client_id, "dr.ada")
    scope = tokens["scope"].split()
    assert "user/Condition.cruds" in scope and "user/*.rs" in scope and "user/*.cruds" not in scope
    auth = bearer(tokens["access_token"])
    assert browser.post(f"{server_url}/Condition", json=CONDITION, headers=auth).status_code == 201
    claim = {"resourceType": "Claim", "status": "active", "use": "claim",
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "oral"}]},
             "patient": {"reference": "Patient/p1"}, "created": "2026-01-01",
             "provider": {"reference": "Organization/o1"}, "priority": {"coding": [{"code": "normal"}]},
             "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/c1"}}]}
    assert browser.post(f"{server_url}/Claim", json=claim, headers=auth).status_code == 403


def test_billing_gets_only_billing_types(browser: httpx.Client, root_url: str, server_url: str,
                                         client_id: str, users: None) -> None:
    tokens = token_response(browser, root_url, server_url, client_id, "clerk.bo")
    assert tokens["scope"] == (
        "openid fhirUser offline_access user/Account.cruds user/ChargeItem.cruds user/Claim.cruds "
        "user/ClaimResponse.cruds user/Coverage.cruds user/Encounter.rs user/ExplanationOfBenefit.rs "
        "user/Invoice.cruds user/Organization.rs user/Patient.rs user/PaymentNotice.cruds "
        "user/PaymentReconciliation.cruds")
    auth = bearer(tokens["access_token"])
    response = browser.get(f"{server_url}/Observation", headers=auth)
    assert response.status_code == 403


def test_role_removed_revokes_tokens(database_url: str, browser: httpx.Client, root_url: str, server_url: str,
                                     client_id: str, users: None) -> None:
    from tests.integration.smart_auth.helpers import cli_json

    add_user(database_url, "float.nurse", "Practitioner/float", "nurse", "doctor")
    tokens = token_response(browser, root_url, server_url, client_id, "float.nurse")
    assert "user/Condition.cruds" in tokens["scope"].split()
    changed = cli_json(database_url, "user", "roles", "float.nurse", "--remove", "doctor")
    assert changed == {"username": "float.nurse", "roles": ["nurse"]}
    assert browser.get(f"{server_url}/Patient", headers=bearer(tokens["access_token"])).status_code == 401
    assert token_response(browser, root_url, server_url, client_id, "float.nurse")["scope"] == NURSE_SCOPE


def test_nurse_refused_on_every_write_path(browser: httpx.Client, root_url: str, server_url: str,
                                           client_id: str, users: None) -> None:
    """The cap is in the token, so PUT, PATCH and a transaction bundle refuse alike (403), writing nothing."""
    doctor = bearer(token_response(browser, root_url, server_url, client_id, "dr.ada")["access_token"])
    made = browser.put(f"{server_url}/Condition/c-cap", json={**CONDITION, "id": "c-cap"}, headers=doctor)
    assert made.status_code == 201, made.text
    nurse = bearer(token_response(browser, root_url, server_url, client_id, "nurse.ng")["access_token"])
    put = browser.put(f"{server_url}/Condition/c-cap", json={**CONDITION, "id": "c-cap", "code": {"text": "x"}},
                      headers=nurse)
    assert put.status_code == 403, put.text
    patch = browser.patch(f"{server_url}/Condition/c-cap",
                          headers={**nurse, "Content-Type": "application/json-patch+json"},
                          content=b'[{"op": "replace", "path": "/code/text", "value": "x"}]')
    assert patch.status_code == 403, patch.text
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": CONDITION, "request": {"method": "POST", "url": "Condition"}}]}
    posted = browser.post(server_url, json=bundle, headers=nurse)
    assert posted.status_code == 403, posted.text
    current = browser.get(f"{server_url}/Condition/c-cap", headers=doctor).json()
    assert current["meta"]["versionId"] == "1" and current["code"] == {"text": "Pneumonia"}
