"""The sms channel through a local fake at Twilio's REST interface (form POST, Basic auth), recorded as
Communications (completed; not-done when the provider answers an error, then retried)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from fhir_server.config import Settings

from .helpers import wait_status
from .receiver import Receiver, receiving

ACCOUNT, TOKEN = "AC0123456789abcdef0123456789abcdef", "test-auth-token"


@pytest.fixture(scope="module")
def twilio() -> Iterator[Receiver]:
    with receiving() as fake:
        yield fake


@pytest.fixture(scope="module")
def server_settings(server_settings: Settings, twilio: Receiver) -> Settings:
    return replace(server_settings, twilio_url=twilio.url, twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN,
                   sms_from="+15550001111")


def _sms_subscription(family: str) -> dict[str, Any]:
    return {"resourceType": "Subscription", "status": "requested", "reason": "t",
            "criteria": f"Patient?family={family}", "channel": {"type": "sms", "endpoint": "tel:+15557654321"}}


def test_sms_through_the_provider_interface(client: httpx.Client, twilio: Receiver) -> None:
    family = "Sms" + uuid.uuid4().hex[:8]
    sid = client.post("/Subscription", json=_sms_subscription(family)).json()["id"]
    wait_status(client, sid, "active")
    twilio.statuses.append(500)
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    sent = twilio.wait_for(2)
    assert sent[0].path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent[0].headers["authorization"] == "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
    form = {k: v[0] for k, v in parse_qs(sent[1].body.decode()).items()}
    link = f"{str(client.base_url).rstrip('/')}/Subscription/{sid}/$events?eventsSinceNumber=1"
    assert form == {"From": "+15550001111", "To": "+15557654321",
                    "Body": f"There is a new update (event 1) for your subscription.\nSee it at: {link}\n"}
    deadline = time.monotonic() + 10
    while True:
        found = client.get("/Communication", params={"based-on": f"Subscription/{sid}", "_sort": "_lastUpdated"}).json()
        if found["total"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(e["resource"]["status"], e["resource"]["medium"][0]["coding"][0]["code"]) for e in found["entry"]] == \
        [("not-done", "SMSWRIT"), ("completed", "SMSWRIT")]
    assert found["entry"][0]["resource"]["statusReason"]["text"] == "SMS provider answered HTTP 500"


def test_bad_phone_number_is_refused(client: httpx.Client) -> None:
    body = _sms_subscription("x")
    body["channel"]["endpoint"] = "tel:555-1234"
    response = client.post("/Subscription", json=body)
    assert (response.status_code, response.json()["issue"][0]["diagnostics"]) == \
        (422, "Subscription endpoint 'tel:555-1234' is not a tel: URL with an E.164 number")
