"""The pharmacy demo (``fhir-server demo load``): stock received per lot, the prescription for
Patient/demo-patient-02 dispensable from the good lot, never from the expired one."""

from __future__ import annotations

from decimal import Decimal

import httpx
import psycopg
import pytest

from fhir_server.cli import main

from .helpers import diagnostics


@pytest.fixture(scope="module")
def loaded(database_url: str) -> str:
    assert main(["demo", "load", "--database-url", database_url]) == 0
    return database_url


def _dispense(lot_medication: str, units: int) -> dict[str, object]:
    return {"resourceType": "MedicationDispense", "status": "completed",
            "medicationReference": {"reference": f"Medication/{lot_medication}"},
            "subject": {"reference": "Patient/demo-patient-02"},
            "authorizingPrescription": [{"reference": "MedicationRequest/pharm-rx-amoxicillin"}],
            "location": {"reference": "Location/pharm-main-pharmacy"},
            "quantity": {"value": units, "unit": "capsule",
                         "system": "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm", "code": "CAP"}}


def test_demo_stock_and_prescription(loaded: str, client: httpx.Client) -> None:
    with psycopg.connect(loaded) as conn:
        rows = conn.execute("SELECT medication_id, lot, quantity FROM pharmacy_stock ORDER BY 1").fetchall()
    assert rows == [("pharm-amoxicillin-a1", "AMX-2041", Decimal(100)), ("pharm-amoxicillin-old", "AMX-1207",
                                                                        Decimal(20)),
                    ("pharm-lisinopril-l1", "LIS-0917", Decimal(8)), ("pharm-metformin-m1", "MET-3310", Decimal(200))]
    low = client.get("/Medication/$stock", params={"location": "Location/pharm-main-pharmacy", "below": "10"})
    assert [p["part"][0]["valueReference"]["reference"] for p in low.json()["parameter"]] == [
        "Medication/pharm-lisinopril-l1"]
    expired = client.post("/MedicationDispense", json=_dispense("pharm-amoxicillin-old", 21))
    assert expired.status_code == 422
    assert diagnostics(expired).endswith("(pharmacy rule expired-lot)")
    assert client.post("/MedicationDispense", json=_dispense("pharm-amoxicillin-a1", 21)).status_code == 201
    assert client.post("/MedicationDispense", json=_dispense("pharm-amoxicillin-a1", 21)).status_code == 201
    third = client.post("/MedicationDispense", json=_dispense("pharm-amoxicillin-a1", 1))
    assert third.status_code == 422  # 21 x (1 + 1 repeats) dispensed in two fills
    assert main(["demo", "load", "--database-url", loaded]) == 0  # again: nothing written, stock unchanged
    with psycopg.connect(loaded) as conn:
        row = conn.execute("SELECT quantity FROM pharmacy_stock"
                           " WHERE medication_id = 'pharm-amoxicillin-a1'").fetchone()
    assert row == (Decimal(58),)
