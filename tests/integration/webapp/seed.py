"""Test data for the app, written through the FHIR API by a practitioner's token."""

from __future__ import annotations

import httpx

from tests.integration.smart_auth.helpers import cli_json, token_for

JANE = {"resourceType": "Patient", "id": "jane", "birthDate": "1980-02-03",
        "name": [{"family": "Doe", "given": ["Jane"]}]}
APPOINTMENT = {"resourceType": "Appointment", "id": "appt-1", "status": "booked",
               "description": "Cardiology check-up", "start": "2030-05-06T09:00:00Z", "end": "2030-05-06T09:30:00Z",
               "participant": [{"actor": {"reference": "Patient/jane"}, "status": "accepted"}]}


def seed(database_url: str, root_url: str, server_url: str) -> None:
    """Jane (user jane / jane-password) with one booked Appointment; a writer client and user."""
    cli_json(database_url, "user", "add", "--allow-missing", "--username", "writer", "--password", "writer-password",
             "--fhir-user", "Practitioner/writer")
    writer = cli_json(database_url, "client", "add", "--name", "Seeder", "--public",
                      "--redirect-uri", "https://seed.example.org/cb", "--scope", "user/*.cruds")
    with httpx.Client(timeout=30) as http:
        token = token_for(http, root_url, server_url, writer["client_id"], "user/*.cruds", "writer",
                          "writer-password", redirect_uri="https://seed.example.org/cb")
        auth = {"Authorization": f"Bearer {token}"}
        for resource in (JANE, APPOINTMENT):
            answer = http.put(f"{server_url}/{resource['resourceType']}/{resource['id']}", json=resource,
                              headers=auth)
            assert answer.status_code == 201, answer.text
    cli_json(database_url, "user", "add", "--username", "jane", "--password", "jane-password",
             "--fhir-user", "Patient/jane")


def seed_clinic(database_url: str, root_url: str, server_url: str, days: int = 14) -> httpx.Client:
    """The demo cardiology clinic (fhir_server/scheduling/demo.py) with Dr. Grace Lee's Slots for
    ``days`` days, written by Dr. Lee herself (a practitioner writes their own Schedule and Slots).
    Returns an API client with her token, to check what the app wrote."""
    from datetime import date, timedelta

    from fhir_server.scheduling.demo import SCHEDULING_DEMO

    cli_json(database_url, "user", "add", "--allow-missing", "--username", "dr.lee", "--password", "lee-password",
             "--fhir-user", "Practitioner/demo-dr-lee")
    client = cli_json(database_url, "client", "add", "--name", "Clinic", "--public",
                      "--redirect-uri", "https://seed.example.org/cb", "--scope", "user/*.cruds")
    with httpx.Client(timeout=30) as http:
        token = token_for(http, root_url, server_url, client["client_id"], "user/*.cruds", "dr.lee", "lee-password",
                          redirect_uri="https://seed.example.org/cb")
    api = httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
    wanted = [r for r in SCHEDULING_DEMO if "dr-lee" in r["id"] or r["resourceType"] in
              ("Organization", "HealthcareService")]
    for resource in wanted:
        body = {k: v for k, v in resource.items() if k != "partOf"}
        answer = api.put(f"/{body['resourceType']}/{body['id']}", json=body)
        assert answer.status_code in (200, 201), answer.text
    today = date.today()
    window = {"resourceType": "Parameters", "parameter": [
        {"name": "start", "valueDate": today.isoformat()},
        {"name": "end", "valueDate": (today + timedelta(days=days - 1)).isoformat()}]}
    made = api.post("/Schedule/demo-dr-lee-schedule/$generate-slots", json=window)
    assert made.status_code == 200, made.text
    return api
