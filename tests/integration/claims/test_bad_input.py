"""Bad claims: one OperationOutcome that says what is wrong, nothing stored; the Claim rule holds
on plain PUT, PATCH and transaction bundles too."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import psycopg
import pytest

from .helpers import claim, coverage, diagnostics, fresh, item, patient, payer

PATCH = {"Content-Type": "application/json-patch+json"}


def _good(client: httpx.Client) -> dict[str, Any]:
    payer(client)
    pid = patient(client)
    return claim(pid, coverage(client, pid), [item(1, "99213", 1, 150), item(2, "80053", 2, 40)])


def _stored_claims(database_url: str, value: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'Claim' AND version_id > 0"
                           " AND content->'identifier' @> %s::jsonb", (f'[{{"value": "{value}"}}]',)).fetchone()
    return int(row[0]) if row else 0


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _mixed(body: dict[str, Any]) -> dict[str, Any]:
    body["item"][1]["unitPrice"]["currency"] = "EUR"
    return body


def _negative(body: dict[str, Any]) -> dict[str, Any]:
    body["item"][1]["quantity"]["value"] = -2
    return body


CASES = [
    ("no patient", lambda b: _without(b, "patient"), "Claim.patient is missing: a claim is for one patient"),
    ("no insurer", lambda b: _without(b, "insurer"), "Claim.insurer is missing: a claim is addressed to one insurer"),
    ("no coverage", lambda b: {**b, "insurance": [{"sequence": 1, "focal": True}]},
     "Claim.insurance is missing or names no Coverage: each insurance needs a coverage"),
    ("no items", lambda b: _without(b, "item"), "Claim.item is missing: a claim has at least one item"),
    ("mixed currencies", _mixed, "Claim amounts are in mixed currencies (EUR, USD): one currency per claim"),
    ("negative quantity", _negative, "Claim.item[1].quantity is negative (-2): quantities are zero or more"),
]


@pytest.mark.parametrize(("case", "spoil", "message"), CASES, ids=[c[0] for c in CASES])
def test_submit_refuses_with_one_outcome_and_stores_nothing(client: httpx.Client, database_url: str, case: str,
                                                            spoil: Any, message: str) -> None:
    body = spoil(_good(client))
    response = client.post("/Claim/$submit", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["issue"][0]["code"] == "business-rule"
    assert diagnostics(response) == message
    assert _stored_claims(database_url, body["identifier"][0]["value"]) == 0


def test_submit_needs_an_identifier_and_a_claim(client: httpx.Client) -> None:
    response = client.post("/Claim/$submit", json=_without(_good(client), "identifier"))
    assert response.status_code == 422
    assert diagnostics(response).startswith("Claim.identifier is missing: $submit needs the Claim's business "
                                            "identifier")
    response = client.post("/Claim/$submit", json={"resourceType": "Patient"})
    assert response.status_code == 400
    assert diagnostics(response) == "$submit takes a Claim, or a Bundle whose first entry is the Claim"
    response = client.post("/Claim/$submit", content=b"{not json", headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 400


def test_rule_holds_on_put_patch_and_transaction(client: httpx.Client, database_url: str) -> None:
    body = _good(client)
    rid = fresh("claim-")
    mixed = _mixed(copy.deepcopy(body))
    put = client.put(f"/Claim/{rid}", json={**mixed, "id": rid})
    assert put.status_code == 422 and diagnostics(put).startswith("Claim amounts are in mixed currencies")
    assert client.put(f"/Claim/{rid}", json={**body, "id": rid}).status_code == 201
    patched = client.patch(f"/Claim/{rid}", headers=PATCH,
                           content=b'[{"op": "replace", "path": "/item/0/quantity/value", "value": -1}]')
    assert patched.status_code == 422
    assert diagnostics(patched) == "Claim.item[0].quantity is negative (-1): quantities are zero or more"
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "NotStoredEither"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": _negative({**copy.deepcopy(body), "identifier": [{"system": "urn:x", "value": fresh()}]}),
         "request": {"method": "POST", "url": "Claim"}}]}
    refused = client.post("/", json=transaction)
    assert refused.status_code == 422
    assert diagnostics(refused) == ("entry 1 (POST Claim): Claim.item[1].quantity is negative (-2): quantities "
                                    "are zero or more")
    assert client.get("/Patient", params={"family": "NotStoredEither"}).json()["total"] == 0
    assert client.get(f"/Claim/{rid}").json()["item"][0]["quantity"]["value"] == 1


def test_a_stored_claim_without_what_adjudication_needs_is_accepted(client: httpx.Client) -> None:
    """Synthea's Claims name no insurer and a Coverage by display only: stored, never adjudicated."""
    body = _without(_good(client), "insurer") | {"insurance": [{"sequence": 1, "focal": True,
                                                                 "coverage": {"display": "private"}}]}
    assert client.post("/Claim", json=body).status_code == 201


def test_an_identifier_names_one_submitted_claim(client: httpx.Client) -> None:
    """Claims written by REST or a bundle are records from elsewhere and may share an identifier
    (the official R4 examples do); $submit keeps one submitted Claim per identifier."""
    body = _good(client)
    other = fresh()
    for response in (client.post("/Claim", json=body),
                     client.put(f"/Claim/{other}", json={**body, "id": other}),
                     client.post("/", json={"resourceType": "Bundle", "type": "transaction", "entry": [
                         {"resource": body, "request": {"method": "POST", "url": "Claim"}}]})):
        assert response.status_code in (200, 201), response.text
    first = client.post("/Claim/$submit", json=body)
    assert first.status_code == 200, first.text
    again = client.post("/Claim/$submit", json=body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]  # the earlier answer
    changed = client.post("/Claim/$submit", json={**body, "priority": {"coding": [{"code": "stat"}]}})
    assert changed.status_code == 409, changed.text
    assert "was submitted earlier with this identifier and different content" in diagnostics(changed)
