"""An active order needs a prescriber (prescriber.py), through POST, PUT, PATCH and a transaction;
each refusal is 422 business-rule naming the rule and stores nothing."""

from __future__ import annotations

import httpx
import psycopg

from .helpers import (
    JSON_PATCH,
    ROLE,
    created,
    diagnostics,
    fresh,
    order,
    patient,
    post_entry,
    practitioner,
    transaction,
)


def _orders_for(url: str, patient_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'MedicationRequest' AND NOT deleted"
                           " AND content->'subject'->>'reference' = %s", (f"Patient/{patient_id}",)).fetchone()
    assert row is not None
    return int(row[0])


def test_a_doctor_prescribes(client: httpx.Client) -> None:
    doctor, pat = practitioner(client), patient(client)
    response = client.post("/MedicationRequest", json=order(pat, f"Practitioner/{doctor}"))
    assert response.status_code == 201, response.text


def test_who_may_not_prescribe(client: httpx.Client, database_url: str) -> None:
    pat = patient(client)
    nurse, nobody = practitioner(client, role="nurse"), practitioner(client, role=None)
    gone, ended = practitioner(client, active=False), practitioner(client, role_active=False)
    roles = "http://terminology.hl7.org/CodeSystem/practitioner-role|doctor"
    expected = {
        f"Practitioner/{nurse}": f"Practitioner/{nurse} has no active PractitionerRole that may prescribe ({roles})",
        f"Practitioner/{nobody}": f"Practitioner/{nobody} has no active PractitionerRole that may prescribe ({roles})",
        f"Practitioner/{gone}": f"Practitioner/{gone} is not active: they may not prescribe",
        f"Practitioner/{ended}": f"Practitioner/{ended} has no active PractitionerRole that may prescribe ({roles})",
        "Practitioner/unknown-doc": "MedicationRequest.requester Practitioner/unknown-doc is not known on this server",
        f"Patient/{pat}": "An active order needs a requester who may prescribe: a Practitioner or PractitionerRole "
                          "reference",
    }
    for requester, message in expected.items():
        response = client.post("/MedicationRequest", json=order(pat, requester))
        assert response.status_code == 422, (requester, response.text)
        assert response.json()["issue"][0]["code"] == "business-rule"
        assert diagnostics(response) == message + " (pharmacy rule prescriber)"
    assert _orders_for(database_url, pat) == 0


def test_practitioner_role_as_requester(client: httpx.Client) -> None:
    pat, doctor = patient(client), practitioner(client, role=None)
    role = created(client, {"resourceType": "PractitionerRole", "active": True,
                            "practitioner": {"reference": f"Practitioner/{doctor}"},
                            "code": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/practitioner-role",
                                                  "code": "doctor"}]}],
                            "period": {"start": "2020-01-01"}})
    assert client.post("/MedicationRequest", json=order(pat, f"PractitionerRole/{role}")).status_code == 201
    expired = created(client, {"resourceType": "PractitionerRole",
                               "practitioner": {"reference": f"Practitioner/{doctor}"},
                               "code": [{"coding": [{"system": ROLE, "code": "doctor"}]}],
                               "period": {"end": "2021-01-01"}})
    response = client.post("/MedicationRequest", json=order(pat, f"PractitionerRole/{expired}"))
    assert response.status_code == 422
    assert diagnostics(response).startswith(f"PractitionerRole/{expired} is not an active prescriber role")


def test_what_is_not_an_active_order_needs_no_prescriber(client: httpx.Client) -> None:
    pat, nurse = patient(client), practitioner(client, role="nurse")
    for body in (order(pat, f"Practitioner/{nurse}", status="draft"), order(pat, f"Practitioner/{nurse}",
                 status="stopped"), {**order(pat, f"Practitioner/{nurse}"), "intent": "proposal"}):
        response = client.post("/MedicationRequest", json=body)
        assert response.status_code == 201, (body["status"], body["intent"], response.text)


def test_put_patch_and_transaction_are_refused(client: httpx.Client, database_url: str) -> None:
    pat, nurse = patient(client), practitioner(client, role="nurse")
    draft = created(client, order(pat, f"Practitioner/{nurse}", status="draft"))
    patched = client.patch(f"/MedicationRequest/{draft}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/status", "value": "active"}]')
    assert patched.status_code == 422, patched.text
    assert "pharmacy rule prescriber" in diagnostics(patched)
    put = client.put(f"/MedicationRequest/{draft}", json={**order(pat, f"Practitioner/{nurse}"), "id": draft})
    assert put.status_code == 422, put.text
    assert client.get(f"/MedicationRequest/{draft}").json()["status"] == "draft"
    new_id = fresh("mr-")
    put_create = client.put(f"/MedicationRequest/{new_id}", json={**order(pat, f"Practitioner/{nurse}"), "id": new_id})
    assert put_create.status_code == 422
    bundle = transaction(post_entry({"resourceType": "Patient", "name": [{"family": "Tx"}]}),
                         post_entry(order(pat, f"Practitioner/{nurse}")))
    response = client.post("/", json=bundle)
    assert response.status_code == 422, response.text
    assert diagnostics(response).startswith("entry 1 (POST MedicationRequest): ")
    assert _orders_for(database_url, pat) == 1  # the draft alone


def test_changing_the_requester_of_an_active_order_is_judged_again(client: httpx.Client) -> None:
    pat, doctor, nurse = patient(client), practitioner(client), practitioner(client, role="nurse")
    rid = created(client, order(pat, f"Practitioner/{doctor}"))
    body = client.get(f"/MedicationRequest/{rid}").json()
    body["note"] = [{"text": "take with food"}]
    assert client.put(f"/MedicationRequest/{rid}", json=body).status_code == 200
    body["requester"] = {"reference": f"Practitioner/{nurse}"}
    assert client.put(f"/MedicationRequest/{rid}", json=body).status_code == 422
