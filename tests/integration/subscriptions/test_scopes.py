"""A notification never carries what the subscriber's scopes cannot read (authorization on).

The lab app may read laboratory Observations only (a granular SMART scope); it subscribes to every final
Observation. A final vital-signs Observation is not an event for it; a final laboratory one is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

from .helpers import rest_hook, status_parameters
from .receiver import Receiver

REDIRECT = "https://app.example.org/callback"
LAB_SCOPE = "user/Subscription.cruds user/Observation.rs?category=laboratory"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning", subscription_poll=0.2)


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    client = cli_json(database_url, "client", "add", "--name", "Lab app", "--public", "--redirect-uri", REDIRECT,
                      "--scope", f"openid fhirUser user/*.cruds {LAB_SCOPE}")["client_id"]
    cli_json(database_url, "user", "add", "--username", "doc", "--password", "pw-doc-123", "--fhir-user",
             "Practitioner/doc")
    tokens = {}
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        tokens["lab"] = token_for(browser, root, server_url, client, LAB_SCOPE, "doc", "pw-doc-123")
        tokens["all"] = token_for(browser, root, server_url, client, "user/*.cruds", "doc", "pw-doc-123")
    return {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
            for name, token in tokens.items()}


def _observation(category: str) -> dict[str, object]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}]}


def test_notifications_follow_the_owners_scopes(http: dict[str, httpx.Client], receiver: Receiver) -> None:
    created = http["lab"].post("/Subscription", json=rest_hook(receiver.url + "/hook", "Observation?status=final",
                                                               "full-resource"))
    assert created.status_code == 201, created.text
    receiver.wait_for(1)  # the handshake
    vitals = http["all"].post("/Observation", json=_observation("vital-signs"))
    lab = http["all"].post("/Observation", json=_observation("laboratory"))
    assert (vitals.status_code, lab.status_code) == (201, 201)
    note = receiver.wait_for(2)[1].json()
    time.sleep(0.6)
    assert len(receiver.received) == 2  # nothing for the vital signs
    assert status_parameters(note)["events-since-subscription-start"] == "1"
    assert note["entry"][1]["resource"] == lab.json()
