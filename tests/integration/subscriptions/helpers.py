"""Subscription bodies and waits shared by the subscription tests."""

from __future__ import annotations

import time
from typing import Any

import httpx

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
PROFILE = BACKPORT + "backport-subscription"
TOPIC = "http://fhir-server.example.org/SubscriptionTopic/"


def rest_hook(endpoint: str, criteria: str, content: str | None = "full-resource",
              headers: list[str] | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if content is not None:
        channel["payload"] = "application/fhir+json"
        channel["_payload"] = {"extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": content}]}
    if headers:
        channel["header"] = headers
    return {"resourceType": "Subscription", "status": "requested", "reason": "test", "criteria": criteria,
            "channel": channel}


def topic_subscription(endpoint: str, topic: str, filters: list[str], content: str = "id-only",
                       heartbeat: int | None = None) -> dict[str, Any]:
    body = rest_hook(endpoint, TOPIC + topic, content)
    body["meta"] = {"profile": [PROFILE]}
    if filters:
        body["_criteria"] = {"extension": [{"url": BACKPORT + "backport-filter-criteria", "valueString": f}
                                           for f in filters]}
    if heartbeat:
        body["channel"]["extension"] = [{"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": heartbeat}]
    return body


def wait_status(client: httpx.Client, sid: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resource = client.get(f"/Subscription/{sid}").json()
        if resource["status"] == status:
            return resource  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"Subscription/{sid} never became {status}: {resource}")


def status_parameters(bundle: dict[str, Any]) -> dict[str, Any]:
    """The SubscriptionStatus parameters of a notification, name -> value (notification-event: list of parts)."""
    params = bundle["entry"][0]["resource"]["parameter"]
    out: dict[str, Any] = {"notification-event": []}
    for p in params:
        if p["name"] == "notification-event":
            out["notification-event"].append({q["name"]: next(v for k, v in q.items() if k.startswith("value"))
                                              for q in p["part"]})
        else:
            out[p["name"]] = next(v for k, v in p.items() if k.startswith("value"))
    return out
