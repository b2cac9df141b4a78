"""Claim/$submit as a client sees it: idempotent by Claim.identifier (also under concurrency),
the Da Vinci PAS Bundle shape, a pended claim completed later by a reviewer, $inquire."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from .helpers import adjudication, claim, coverage, diagnostics, fresh, item, patient, payer, totals


def _claims_with(database_url: str, value: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM resource WHERE resource_type = 'Claim' AND NOT deleted AND version_id > 0"
                            " AND content->'identifier' @> %s::jsonb", (f'[{{"value": "{value}"}}]',)).fetchall()
    return [r[0] for r in rows]


def _count(database_url: str, rtype: str, request: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = %s AND NOT deleted AND version_id > 0"
                           " AND content->'request'->>'reference' = %s", (rtype, request)).fetchone()
    return int(row[0]) if row else 0


def test_identical_resubmission_returns_the_earlier_response(client: httpx.Client, database_url: str) -> None:
    payer(client)
    pid = patient(client)
    body = claim(pid, coverage(client, pid), [item(1, "99213", 1, 150)], identifier=fresh("dup-"))
    first = client.post("/Claim/$submit", json=body)
    again = client.post("/Claim/$submit", json=copy.deepcopy(body))
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["meta"]["versionId"] == "1"
    value = body["identifier"][0]["value"]
    assert _claims_with(database_url, value) == [first.json()["request"]["reference"].split("/")[1]]
    assert _count(database_url, "ClaimResponse", first.json()["request"]["reference"]) == 1
    changed = copy.deepcopy(body)
    changed["item"][0]["unitPrice"]["value"] = 175
    refused = client.post("/Claim/$submit", json=changed)
    assert refused.status_code == 409
    assert diagnostics(refused).endswith("was submitted earlier with this identifier and different content: "
                                         "a new claim needs a new identifier")


def test_concurrent_duplicates_make_one_claim(client: httpx.Client, server_url: str, database_url: str) -> None:
    payer(client)
    pid = patient(client)
    body = claim(pid, coverage(client, pid), [item(1, "99213", 1, 150)], identifier=fresh("race-"))

    def submit(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=server_url, timeout=30) as http:
            response = http.post("/Claim/$submit", json=body)
            return response.status_code, response.json().get("id", "")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(submit, range(8)))
    assert {status for status, _ in answers} == {200}
    assert len({rid for _, rid in answers}) == 1
    assert len(_claims_with(database_url, body["identifier"][0]["value"])) == 1


def test_pas_bundle_is_stored_atomically_and_answered_with_a_bundle(client: httpx.Client) -> None:
    """Claim first; the Patient and Coverage follow as urn:uuid entries (created), the insurer by id."""
    payer(client)
    body = claim("x", "y", [item(1, "99213", 1, 150)])
    body["patient"] = {"reference": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000001"}
    body["insurance"][0]["coverage"] = {"reference": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000002"}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000000", "resource": body},
        {"fullUrl": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000001",
         "resource": {"resourceType": "Patient", "name": [{"family": "Bundled"}]}},
        {"fullUrl": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000002",
         "resource": {"resourceType": "Coverage", "status": "active", "period": {"start": "2031-01-01"},
                      "beneficiary": {"reference": "urn:uuid:7c1c0f6e-0000-4000-8000-000000000001"},
                      "payor": [{"reference": "Organization/payer-demo"}]}}]}
    response = client.post("/Claim/$submit", json=bundle)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resourceType"] == "Bundle"
    assert [e["resource"]["resourceType"] for e in answer["entry"]] == ["ClaimResponse", "Claim"]
    claim_response, stored = answer["entry"][0]["resource"], answer["entry"][1]["resource"]
    assert claim_response["outcome"] == "complete" and totals(claim_response)["benefit"] == "150.00"
    patient_ref = stored["patient"]["reference"]
    assert patient_ref.startswith("Patient/") and claim_response["patient"]["reference"] == patient_ref
    assert client.get(f"/{patient_ref}").json()["name"] == [{"family": "Bundled"}]
    # A Coverage that fails validation: nothing of the bundle is stored.
    bad = copy.deepcopy(bundle)
    bad["entry"][0]["resource"]["identifier"][0]["value"] = fresh()
    bad["entry"][1]["resource"]["name"] = [{"family": "NeverStored"}]
    bad["entry"][2]["resource"]["status"] = "not-a-status"
    refused = client.post("/Claim/$submit", json=bad)
    assert refused.status_code in (400, 422) and refused.json()["resourceType"] == "OperationOutcome"
    assert client.get("/Patient", params={"family": "NeverStored"}).json()["total"] == 0


def test_a_pended_claim_is_completed_by_a_reviewer(client: httpx.Client) -> None:
    """99499 (unlisted service) needs a person: queued. The reviewer PUTs the decided ClaimResponse
    (submitted 400.00, eligible 400.00, copay 20.00, deductible 100.00, benefit 280.00); the submitter
    finds it by ClaimResponse?request=Claim/[id] and by $inquire; its EOB exists; it cannot change again."""
    payer(client)
    pid = patient(client)
    body = claim(pid, coverage(client, pid), [item(1, "99499", 1, 400)])
    pended = client.post("/Claim/$submit", json=body).json()
    assert pended["outcome"] == "queued" and adjudication(pended["item"][0]) == {"submitted": "400.00"}
    request = pended["request"]["reference"]
    assert client.get("/ExplanationOfBenefit", params={"claim": request}).json()["total"] == 0

    def category(code: str, value: float) -> dict[str, object]:
        return {"category": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adjudication",
                                         "code": code}]}, "amount": {"value": value, "currency": "USD"}}
    decided = {**pended, "outcome": "complete", "disposition": "Reviewed and approved",
               "item": [{"itemSequence": 1, "adjudication": [category("submitted", 400), category("eligible", 400),
                                                             category("copay", 20), category("deductible", 100),
                                                             category("benefit", 280)]}],
               "total": [category("benefit", 280)],
               "payment": {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype",
                                                "code": "complete"}]}, "amount": {"value": 280, "currency": "USD"}}}
    del decided["meta"]
    updated = client.put(f"/ClaimResponse/{pended['id']}", json=decided)
    assert updated.status_code == 200, updated.text
    found = client.get("/ClaimResponse", params={"request": request}).json()
    assert [e["resource"]["outcome"] for e in found["entry"]] == ["complete"]
    inquired = client.post("/Claim/$inquire", json={"resourceType": "Claim", "identifier": body["identifier"]})
    assert inquired.status_code == 200 and inquired.json()["outcome"] == "complete"
    assert inquired.json()["meta"]["versionId"] == "2"
    eobs = client.get("/ExplanationOfBenefit", params={"claim": request}).json()
    assert eobs["total"] == 1
    assert eobs["entry"][0]["resource"]["payment"]["amount"]["value"] == 280
    again = client.put(f"/ClaimResponse/{pended['id']}", json={**decided, "outcome": "error"})
    assert again.status_code == 409
    assert diagnostics(again) == (f"ClaimResponse/{pended['id']} is complete: its adjudication (outcome) cannot "
                                  "change; a decided claim is corrected by a new Claim")
    # The reviewer's deductible counted: the next visit pays no deductible (150.00 - copay 20.00).
    nxt = client.post("/Claim/$submit", json=claim(pid, body["insurance"][0]["coverage"]["reference"].split("/")[1],
                                                   [item(1, "99213", 1, 150)])).json()
    assert adjudication(nxt["item"][0])["deductible"] == "0.00" and totals(nxt)["benefit"] == "130.00"


def test_inquire_for_an_unknown_identifier_is_404(client: httpx.Client) -> None:
    response = client.post("/Claim/$inquire", json={"resourceType": "Claim",
                                                    "identifier": [{"system": "urn:x", "value": fresh()}]})
    assert response.status_code == 404
    assert diagnostics(response) == "No Claim with this identifier was submitted"


def test_a_cancellation_cancels_the_submitted_claim(client: httpx.Client) -> None:
    """Da Vinci PAS: the same Claim (same identifier) re-submitted with status cancelled."""
    payer(client)
    pid = patient(client)
    body = claim(pid, coverage(client, pid), [item(1, "99499", 1, 400)])
    pended = client.post("/Claim/$submit", json=body).json()
    assert pended["outcome"] == "queued"
    cancelled = client.post("/Claim/$submit", json={**body, "status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["id"] == pended["id"] and cancelled.json()["status"] == "cancelled"
    assert client.get(f"/{pended['request']['reference']}").json()["status"] == "cancelled"
    unknown = client.post("/Claim/$submit", json={**body, "status": "cancelled",
                                                  "identifier": [{"system": "urn:x", "value": fresh()}]})
    assert unknown.status_code == 404
    assert diagnostics(unknown) == "No Claim with this identifier was submitted: there is nothing to cancel"
