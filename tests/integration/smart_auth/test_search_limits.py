"""Search limits hold for a patient token too (issue 11, part 1: a 1.7 KB GET with 250
repetitions of ``name`` from a ``patient/*.rs`` token drove a backend to 646 MB).

Data: patients pa (Alpha) and pb (Alpha too), written with a practitioner token; the patient
token is launched for pa, so its searches see pa only (Patient compartment).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .helpers import cli_json, token_for

REDIRECT = "https://app.example.org/callback"


@pytest.fixture(scope="module")
def patient(database_url: str, server_url: str, root_url: str) -> Iterator[httpx.Client]:
    client = cli_json(database_url, "client", "add", "--name", "Limits app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", "launch openid fhirUser user/*.cruds patient/*.rs")["client_id"]
    cli_json(database_url, "user", "add", "--username", "lim-doc", "--password", "pw-doc-123",
             "--fhir-user", "Practitioner/lim-doc")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        admin = token_for(browser, root_url, server_url, client, "openid fhirUser user/*.cruds", "lim-doc",
                          "pw-doc-123")
        launch = cli_json(database_url, "launch", "add", "--patient", "pa")["launch"]
        token = token_for(browser, root_url, server_url, client, "launch patient/*.rs", "lim-doc", "pw-doc-123",
                          launch)
    with httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {admin}"}) as writer:
        for rid in ("pa", "pb"):
            response = writer.put(f"/Patient/{rid}", json={"resourceType": "Patient", "id": rid,
                                                           "name": [{"family": "Alpha"}]})
            assert response.status_code in (200, 201), response.text
    with httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def test_the_250_repetitions_of_a_patient_token_are_refused(patient: httpx.Client) -> None:
    response = patient.get("/Patient?" + "&".join(["name=x"] * 250))
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert (issue["code"], issue["diagnostics"]) == (
        "too-costly", "Too many search parameters: 250 exceeds the limit of 30 (FHIR_SEARCH_MAX_PARAMS)")


def test_within_the_limits_the_compartment_still_applies(patient: httpx.Client) -> None:
    bundle = patient.get("/Patient", params=[("name", "alpha")] * 2 + [("name", "al")]).json()
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["pa"]
