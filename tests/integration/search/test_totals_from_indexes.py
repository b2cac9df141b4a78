"""``_total=accurate`` counted from the index tables (search/query.py count_statement): each
matching resource once, deleted resources never, and ``_has`` (whose ids are reference
targets, possibly missing) through the resource table. Expected totals worked out by hand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

SYSTEM = "http://example.org/totals"


def _observation(code: str, subject: str, extra_codings: int = 0) -> dict[str, Any]:
    # Same code, different displays: distinct index rows for one resource.
    codings = [{"system": SYSTEM, "code": code, "display": f"name {n}"} for n in range(1 + extra_codings)]
    return {"resourceType": "Observation", "status": "final", "code": {"coding": codings},
            "subject": {"reference": subject}}


@pytest.fixture(scope="module")
def data(client: httpx.Client) -> dict[str, str]:
    patient = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Totals"}]}).json()["id"]
    ids = {}
    # t1: twice the same coding in one resource (two index rows), once plainly, once to be deleted.
    ids["double"] = client.post("/Observation", json=_observation("t1", f"Patient/{patient}", 1)).json()["id"]
    ids["single"] = client.post("/Observation", json=_observation("t1", f"Patient/{patient}")).json()["id"]
    ids["deleted"] = client.post("/Observation", json=_observation("t1", f"Patient/{patient}")).json()["id"]
    assert client.delete(f"/Observation/{ids['deleted']}").status_code in (200, 204)
    # t2: one on the real patient, one pointing at a patient that does not exist.
    client.post("/Observation", json=_observation("t2", f"Patient/{patient}"))
    client.post("/Observation", json=_observation("t2", "Patient/no-such-patient"))
    ids["patient"] = patient
    return ids


def _total(client: httpx.Client, path: str, **params: str) -> int:
    # _summary=count: the total is always counted (never taken from a page that holds every match).
    total: int = client.get(path, params={**params, "_summary": "count"}).json()["total"]
    return total


def test_a_resource_with_two_matching_index_rows_counts_once(client: httpx.Client) -> None:
    v2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
    identifiers = [{"system": SYSTEM, "value": "same", "type": {"coding": [{"system": v2, "code": code}]}}
                   for code in ("MR", "SS")]  # one value, two types: two token rows for one Patient
    assert client.post("/Patient", json={"resourceType": "Patient", "identifier": identifiers}).status_code == 201
    assert _total(client, "/Patient", identifier=f"{SYSTEM}|same") == 1


def test_each_live_match_counts_once(client: httpx.Client, data: dict[str, str]) -> None:
    assert _total(client, "/Observation", code=f"{SYSTEM}|t1") == 2  # double counts once, deleted not at all
    assert _total(client, "/Observation", code=f"{SYSTEM}|t1", subject=f"Patient/{data['patient']}") == 2
    assert _total(client, "/Observation", code=f"{SYSTEM}|t2") == 2


def test_has_counts_only_existing_targets(client: httpx.Client, data: dict[str, str]) -> None:
    assert _total(client, "/Patient", **{"_has:Observation:subject:code": f"{SYSTEM}|t2"}) == 1


def test_negated_criteria_still_exclude_deleted(client: httpx.Client, data: dict[str, str]) -> None:
    # Observations of this patient whose code is not t2: double and single (deleted excluded).
    assert _total(client, "/Observation", subject=f"Patient/{data['patient']}", **{"code:not": f"{SYSTEM}|t2"}) == 2
