"""The demo data (``make serve``): the demo patient's Coverage with the demo payer takes a claim at once.
One visit of 700.00: copay 20.00, deductible 500.00 (the whole yearly deductible), benefit 180.00.
The billing demo prices 99213 at 95.00 EUR: not a price for this USD claim, so 700.00 stays eligible."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

from .helpers import adjudication, claim, item


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", demo=True)


def test_demo_patient_claim_is_adjudicated(client: httpx.Client) -> None:
    assert client.get("/Coverage/cov-demo").json()["payor"] == [{"reference": "Organization/payer-demo"}]
    body = claim("demo-patient", "cov-demo", [item(1, "99213", 1, 700)],
                 provider={"reference": "Organization/demo-hospital"})
    answer = client.post("/Claim/$submit", json=body).json()
    assert answer["outcome"] == "complete", answer
    assert adjudication(answer["item"][0]) == {"submitted": "700.00", "eligible": "700.00", "copay": "20.00",
                                               "deductible": "500.00", "benefit": "180.00"}
