"""The demo data (``make serve``): the cardiology department's doctors can be booked at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", demo=True)


def test_demo_doctors_have_bookable_slots(client: httpx.Client) -> None:
    now = datetime.now(UTC)
    window = {"start": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end": (now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "specialty": "http://snomed.info/sct|394579002", "patient": "demo-patient", "_count": "50"}
    found = client.get("/Appointment/$find", params=window)
    assert found.status_code == 200, found.text
    offers = [e["resource"] for e in found.json()["entry"]]
    doctors = {p["actor"]["reference"] for a in offers for p in a["participant"]
               if p["actor"]["reference"].startswith("Practitioner/")}
    assert doctors == {"Practitioner/demo-practitioner", "Practitioner/demo-dr-lee", "Practitioner/demo-dr-patel"}
    booked = client.post("/Appointment/$book", json=offers[0])
    assert booked.status_code == 200, booked.text
    assert client.get(f"/{offers[0]['slot'][0]['reference']}").json()["status"] == "busy"
