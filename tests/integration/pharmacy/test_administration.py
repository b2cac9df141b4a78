"""MedicationAdministration (administration.py): mad-1, and what was given follows an active
MedicationRequest for the same patient; through POST, PUT, PATCH and a transaction."""

from __future__ import annotations

from typing import Any

import httpx

from .helpers import (
    AMOXICILLIN,
    JSON_PATCH,
    RXNORM,
    created,
    diagnostics,
    order,
    patient,
    post_entry,
    practitioner,
    transaction,
)


def _given(request_id: str | None, patient_id: str, status: str = "completed", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "MedicationAdministration", "status": status,
                            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": AMOXICILLIN}]},
                            "subject": {"reference": f"Patient/{patient_id}"},
                            "effectiveDateTime": "2031-02-03T08:00:00Z",
                            "dosage": {"dose": {"value": 500, "unit": "mg"}}}
    if request_id is not None:
        body["request"] = {"reference": f"MedicationRequest/{request_id}"}
    body.update(extra)
    return body


def test_given_against_an_active_order_of_the_same_patient(client: httpx.Client) -> None:
    pat, other = patient(client), patient(client)
    doctor = f"Practitioner/{practitioner(client)}"
    rid = created(client, order(pat, doctor))
    assert client.post("/MedicationAdministration", json=_given(rid, pat)).status_code == 201
    wrong = client.post("/MedicationAdministration", json=_given(rid, other))
    assert wrong.status_code == 422
    assert diagnostics(wrong) == (f"MedicationRequest/{rid} is not for this administration's subject "
                                  "(pharmacy rule same-patient)")
    missing = client.post("/MedicationAdministration", json=_given(None, pat))
    assert diagnostics(missing).endswith("(pharmacy rule administration-request)")
    assert client.post("/MedicationAdministration", json=_given(None, pat, status="not-done")).status_code == 201
    stopped = created(client, order(pat, doctor, status="stopped"))
    refused = client.post("/MedicationAdministration", json=_given(stopped, pat))
    assert refused.status_code == 422
    assert diagnostics(refused) == (f"MedicationRequest/{stopped} is stopped: it cannot be administered "
                                    "(pharmacy rule active-prescription)")


def test_mad1_dose_or_rate(client: httpx.Client) -> None:
    pat = patient(client)
    rid = created(client, order(pat, f"Practitioner/{practitioner(client)}"))
    response = client.post("/MedicationAdministration", json=_given(rid, pat, dosage={"text": "one tablet"}))
    assert response.status_code == 422, response.text
    assert "mad-1" in response.text
    rate = _given(rid, pat, dosage={"rateQuantity": {"value": 5, "unit": "mL/h"}})
    assert client.post("/MedicationAdministration", json=rate).status_code == 201


def test_put_patch_and_transaction_refused(client: httpx.Client) -> None:
    pat = patient(client)
    doctor = f"Practitioner/{practitioner(client)}"
    rid, cancelled = created(client, order(pat, doctor)), created(client, order(pat, doctor, status="cancelled"))
    aid = created(client, _given(None, pat, status="not-done"))
    patched = client.patch(f"/MedicationAdministration/{aid}", headers=JSON_PATCH,
                           content=b'[{"op": "replace", "path": "/status", "value": "completed"}]')
    assert patched.status_code == 422, patched.text
    body = client.get(f"/MedicationAdministration/{aid}").json()
    body.update(status="completed", request={"reference": f"MedicationRequest/{cancelled}"})
    put = client.put(f"/MedicationAdministration/{aid}", json=body)
    assert put.status_code == 422
    assert client.get(f"/MedicationAdministration/{aid}").json()["status"] == "not-done"
    response = client.post("/", json=transaction(post_entry(_given(rid, pat)), post_entry(_given(cancelled, pat))))
    assert response.status_code == 422
    assert diagnostics(response).startswith("entry 1 (POST MedicationAdministration): ")
