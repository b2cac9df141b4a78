"""``fhir-server demo load`` into a fresh database: the whole set, then nothing more on a
second run (and an edit survives it); the data is worth exploring over the real API."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.accounts.demo import ACCOUNTS_DEMO
from fhir_server.admissions.demo import ADMISSIONS_DEMO
from fhir_server.billing.demo import BILLING_DEMO
from fhir_server.claims.demo import CLAIMS_DEMO
from fhir_server.cli import main
from fhir_server.demo import demo_resources
from fhir_server.laboratory.demo import LAB_DEMO
from fhir_server.pharmacy.demo import PHARMACY_DEMO
from fhir_server.scheduling.demo import SCHEDULING_DEMO

# The generated hospital and its bookable department; the department's Slots depend on the day
# the demo is loaded (the next 14 days of weekday availability), so they are counted apart.
EXPECTED = Counter(r["resourceType"] for r in [
    *demo_resources(),
    *SCHEDULING_DEMO,
    *PHARMACY_DEMO,
    *LAB_DEMO,
    *ADMISSIONS_DEMO,
    *CLAIMS_DEMO,
    *BILLING_DEMO,
    *ACCOUNTS_DEMO,
])


@pytest.fixture(scope="module")
def loaded(database_url: str) -> str:
    assert main(["demo", "load", "--database-url", database_url]) == 0
    return database_url


def _counts(url: str) -> Counter[str]:
    """Stored resources by type, generated Slots left out (see ``_slots``)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT resource_type, count(*) FROM resource WHERE NOT deleted"
                            " AND resource_type <> 'Slot' GROUP BY 1").fetchall()
    return Counter({r[0]: int(r[1]) for r in rows})


def _slots(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM resource WHERE resource_type = 'Slot' AND NOT deleted"
                           " AND (content->>'start')::timestamptz < now() + interval '15 days'").fetchone()
    assert row is not None
    return int(row[0])


def test_the_whole_set_is_loaded_with_the_demo_users(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _counts(loaded) == EXPECTED
    assert _slots(loaded) > 0
    assert main(["user", "list", "--json", "--database-url", loaded]) == 0
    out = capsys.readouterr().out
    assert '{"username": "amy", "fhir_user": "Patient/demo-patient"}' in out
    assert '{"username": "dr.demo", "fhir_user": "Practitioner/demo-practitioner"}' in out


def test_loading_again_writes_nothing_and_keeps_edits(loaded: str, client: httpx.Client,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    amy = client.get("/Patient/demo-patient").json()
    amy["telecom"] = [{"system": "email", "value": "amy@example.org"}]
    assert client.put("/Patient/demo-patient", json=amy).status_code == 200
    capsys.readouterr()
    slots = _slots(loaded)
    assert main(["demo", "load", "--database-url", loaded]) == 0
    assert capsys.readouterr().out.startswith("demo data: wrote 0 resources (none were missing)\n")
    assert _slots(loaded) == slots  # slot generation is idempotent
    again = client.get("/Patient/demo-patient").json()
    assert again["meta"]["versionId"] == "2" and again["telecom"] == amy["telecom"]
    assert _counts(loaded) == EXPECTED


def _pages(client: httpx.Client, url: str, params: dict[str, str] | None) -> list[list[dict[str, Any]]]:
    pages = []
    page = client.get(url, params=params).json()
    while True:
        pages.append([e["resource"] for e in page.get("entry", [])])
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            return pages
        page = client.get(nxt[0]).json()


def test_amys_observations_fill_five_pages(loaded: str, client: httpx.Client) -> None:
    pages = _pages(client, "/Observation", {"subject": "Patient/demo-patient"})
    assert [len(p) for p in pages] == [20, 20, 20, 20, 2]  # 80 generated, 2 lab results (laboratory/demo.py)
    assert len({r["id"] for p in pages for r in p}) == 82
    bp = client.get("/Observation", params={"subject": "Patient/demo-patient", "code": "http://loinc.org|85354-9",
                                            "_sort": "-date", "_total": "accurate"}).json()
    assert bp["total"] == 16 and bp["entry"][0]["resource"]["id"] == "demo-bp"
    high = client.get("/Observation", params={"subject": "Patient/demo-patient",
                                              "component-code-value-quantity": "8480-6$ge140",
                                              "_total": "accurate"}).json()
    assert high["total"] == 6  # the six visits before lisinopril (2024-05-31)
    everything = client.get("/Patient/demo-patient/$everything", params={"_count": "1000"}).json()
    kinds = Counter(e["resource"]["resourceType"] for e in everything["entry"])
    assert (kinds["Encounter"], kinds["Condition"], kinds["MedicationRequest"], kinds["AllergyIntolerance"],
            kinds["Immunization"], kinds["Appointment"]) == (17, 2, 2, 1, 4, 1)  # 16 visits + the admission
