"""Subscriptions the server refuses: exact status and message, nothing stored, on POST, PUT, PATCH and bundles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .helpers import TOPIC, rest_hook, topic_subscription

OK_HOOK = "http://127.0.0.1:9/hook"


def _message(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def _with(body: dict[str, Any], **channel: Any) -> dict[str, Any]:
    body["channel"].update(channel)
    return body


UNKNOWN = "Subscription.criteria cannot be evaluated: Unknown search parameter 'frobnicate' for Patient"
CASES = [
    (rest_hook(OK_HOOK, "Patient?frobnicate=1"), 400, UNKNOWN),
    (rest_hook(OK_HOOK, "Patient"), 400, "Subscription.criteria 'Patient' is not a search URL of the form Type?params"),
    (rest_hook(OK_HOOK, "NoSuchType?name=x"), 404, "Unknown resource type 'NoSuchType'"),
    (_with(rest_hook(OK_HOOK, "Patient?name=x"), type="fax"), 422,
     "Code 'fax' is not in the required value set http://hl7.org/fhir/ValueSet/subscription-channel-type"),
    (_with(rest_hook(OK_HOOK, "Patient?name=x"), type="email", endpoint="mailto:a@example.org"), 422,
     "The email channel is off on this server (FHIR_SMTP_URL is not set)"),
    (_with(rest_hook(OK_HOOK, "Patient?name=x"), type="websocket"), 422,
     "Subscription.channel.type 'websocket' is recognised but not delivered by this server yet"
     " (rest-hook, email, sms)"),
    (rest_hook("http://10.1.2.3/hook", "Patient?name=x"), 422,
     "Subscription endpoint 'http://10.1.2.3/hook' must use https (http only to a loopback address)"),
    (rest_hook("https://10.1.2.3/hook", "Patient?name=x"), 422,
     "Subscription endpoint resolves to a private or link-local address (10.1.2.3); an administrator may allow it"
     " with FHIR_SUBSCRIPTION_ALLOW_PRIVATE"),
    (rest_hook("https://169.254.169.254/latest/meta-data", "Patient?name=x"), 422,
     "Subscription endpoint resolves to a private or link-local address (169.254.169.254); an administrator may"
     " allow it with FHIR_SUBSCRIPTION_ALLOW_PRIVATE"),
    (rest_hook("ftp://127.0.0.1/hook", "Patient?name=x"), 422,
     "Subscription endpoint 'ftp://127.0.0.1/hook' is not an http(s) URL"),
    (rest_hook(OK_HOOK, "Patient?name=x", headers=["no colon"]), 400,
     "Subscription.channel.header 'no colon' is not 'Name: value'"),
    (topic_subscription(OK_HOOK, "no-such-topic", []), 422,
     f"Unknown SubscriptionTopic '{TOPIC}no-such-topic' (GET /fhir/SubscriptionTopic lists them)"),
    (topic_subscription(OK_HOOK, "lab-result-final", ["Patient?name=x"]), 400,
     "Filter 'Patient?name=x' is not a search on DiagnosticReport, the topic's type"),
]


@pytest.mark.parametrize(("body", "status", "message"), CASES)
def test_refused_on_post(client: httpx.Client, body: dict[str, Any], status: int, message: str) -> None:
    before = client.get("/Subscription", params={"_summary": "count"}).json()["total"]
    response = client.post("/Subscription", json=body)
    assert (response.status_code, _message(response)) == (status, message)
    assert client.get("/Subscription", params={"_summary": "count"}).json()["total"] == before


def _stored(client: httpx.Client) -> dict[str, Any]:
    created = client.post("/Subscription", json=rest_hook(OK_HOOK, "Patient?name=ok", "id-only"))
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_refused_on_put_patch_and_transaction(client: httpx.Client) -> None:
    stored = _stored(client)
    sid, message = stored["id"], UNKNOWN
    bad = {**stored, "criteria": "Patient?frobnicate=1"}
    put = client.put(f"/Subscription/{sid}", json=bad)
    assert (put.status_code, _message(put)) == (400, message)
    patch = client.patch(f"/Subscription/{sid}", headers={"Content-Type": "application/json-patch+json"},
                         json=[{"op": "replace", "path": "/channel/endpoint", "value": "https://192.168.1.5/x"}])
    assert patch.status_code == 422 and "private or link-local address (192.168.1.5)" in _message(patch)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": rest_hook(OK_HOOK, "Patient?frobnicate=1"), "request": {"method": "POST", "url": "Subscription"}}]}
    tx = client.post("/", json=bundle)
    assert (tx.status_code, _message(tx)) == (400, f"entry 0 (POST Subscription): {message}")
    current = client.get(f"/Subscription/{sid}").json()
    assert current["meta"]["versionId"] == "1" and current["criteria"] == "Patient?name=ok"
    assert current["channel"]["endpoint"] == OK_HOOK
