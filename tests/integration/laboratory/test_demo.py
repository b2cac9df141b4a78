"""The lab demo data (``make serve``): an order in progress and a final report for the demo patient,
found the way the README walk-through finds them."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", demo=True)


def test_the_order_in_progress(client: httpx.Client) -> None:
    tasks = client.get("/Task", params={"focus": "ServiceRequest/lab-order-cbc"}).json()
    assert [(e["resource"]["id"], e["resource"]["status"]) for e in tasks["entry"]] == [("lab-task-cbc",
                                                                                         "in-progress")]
    specimen = client.get("/Specimen", params={"patient": "demo-patient"}).json()  # R4 has no Specimen?request=
    assert [(e["resource"]["id"], e["resource"]["request"]) for e in specimen["entry"]] == [
        ("lab-specimen-cbc", [{"reference": "ServiceRequest/lab-order-cbc"}])]
    refused = client.patch("/Task/lab-task-cbc", content=b'[{"op": "replace", "path": "/status", "value": '
                           b'"cancelled"}]', headers={"Content-Type": "application/json-patch+json"})
    assert refused.status_code == 422


def test_the_final_report_and_the_summary(client: httpx.Client) -> None:
    reports = client.get("/DiagnosticReport", params={"based-on": "ServiceRequest/lab-order-bmp"}).json()
    assert [(e["resource"]["id"], e["resource"]["status"]) for e in reports["entry"]] == [("lab-report-bmp", "final")]
    summary = client.get("/Patient/demo-patient/$summary").json()
    results = next(s for s in summary["entry"][0]["resource"]["section"]
                   if s["code"]["coding"][0]["code"] == "30954-2")
    refs = [r["reference"].split("/fhir/", 1)[1] for r in results["entry"]]
    assert {"Observation/lab-obs-glucose", "Observation/lab-obs-potassium",
            "DiagnosticReport/lab-report-bmp"} <= set(refs)
