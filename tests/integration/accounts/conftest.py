"""The real app with auth on under uvicorn (the SMART tests' fixtures), plus the accounts used here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.smart_auth.conftest import browser, root_url, server_settings, server_url
from tests.integration.smart_auth.helpers import Flow, cli_json

__all__ = ["browser", "root_url", "server_settings", "server_url", "REDIRECT", "SCOPE", "PASSWORD"]

REDIRECT = "https://hospital-app.example.org/cb"
SCOPE = "openid fhirUser offline_access user/*.cruds"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def client_id(database_url: str, server_url: str) -> str:
    made = cli_json(database_url, "client", "add", "--name", "Hospital app", "--public", "--redirect-uri", REDIRECT,
                    "--scope", SCOPE + " patient/*.rs launch/patient")
    return str(made["client_id"])


def add_user(database_url: str, username: str, fhir_user: str, *roles: str) -> None:
    argv = ["user", "add", "--username", username, "--password", PASSWORD, "--fhir-user", fhir_user]
    for role in roles:
        argv += ["--role", role]
    cli_json(database_url, *argv)


def token_response(browser: httpx.Client, root: str, base: str, client_id: str, username: str,
                   scope: str = SCOPE) -> dict[str, Any]:
    flow = Flow(browser, root, base, client_id, REDIRECT, scope)
    response = flow.exchange(flow.code(username, PASSWORD))
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
