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
