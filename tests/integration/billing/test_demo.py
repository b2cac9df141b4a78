"""The demo data (``make serve``): the demo patient has an unpaid issued Invoice priced from the list."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", demo=True)


def test_demo_patient_has_an_unpaid_issued_invoice(client: httpx.Client) -> None:
    found = client.get("/Invoice", params={"subject": "Patient/demo-patient", "status": "issued"}).json()
    invoice = next(e["resource"] for e in found["entry"] if e["resource"]["id"] == "bill-invoice")
    # 95.00 + 62.50 + 2 x 18.75 = 195.00 EUR
    assert invoice["totalGross"] == {"value": 195.0, "currency": "EUR"}
    assert [line["priceComponent"][0]["amount"]["value"] for line in invoice["lineItem"]] == [95.0, 62.5, 37.5]
    prices = client.get("/ChargeItemDefinition/bill-price-99213").json()
    assert prices["propertyGroup"][0]["priceComponent"][0]["amount"] == {"value": 95.0, "currency": "EUR"}
    assert client.get("/Account/bill-account").json()["subject"] == [{"reference": "Patient/demo-patient"}]
