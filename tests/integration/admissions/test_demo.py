"""The admissions demo data (``make serve``): departments as a tree, a ward of six beds, one inpatient."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", demo=True)


def test_demo_hospital_tree_ward_and_admitted_bed(client: httpx.Client) -> None:
    tree = client.get("/Organization/demo-hospital/$tree").json()
    ids = [e["resource"]["id"] for e in tree["entry"]]
    assert ids[0] == "demo-hospital"
    assert {"demo-dept-medicine", "demo-dept-cardiology", "demo-cardiology"} <= set(ids)
    codes = {}
    for room in ("101", "102"):
        for letter in "abc":
            bed = client.get(f"/Location/demo-bed-{room}{letter}").json()
            codes[bed["id"]] = bed["operationalStatus"]["code"]
    assert codes == {"demo-bed-101a": "O", **{f"demo-bed-{r}{x}": "U" for r in ("101", "102") for x in "abc"
                                               if f"{r}{x}" != "101a"}}
    second = client.post("/Encounter", json={
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "location": [{"location": {"reference": "Location/demo-bed-101a"}}]})
    assert second.status_code == 409
