"""The notification Bundle of the Subscriptions Backport IG for R4 (history Bundle, SubscriptionStatus first).

http://hl7.org/fhir/uv/subscriptions-backport/notifications.html and
StructureDefinition/backport-subscription-notification-r4: entry 0 is the Parameters
(backport-subscription-status-r4) with subscription, topic, status, type, events-since-subscription-start
(a string: R4 has no integer64) and one notification-event per event carried (event-number, timestamp,
focus for id-only and full-resource); the focus resources follow for id-only (fullUrl and request) and
full-resource (with the resource).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from .model import BACKPORT

__all__ = ["Event", "notification_bundle", "status_parameters"]


@dataclass(frozen=True)
class Event:
    number: int
    resource_type: str
    resource_id: str
    version_id: int
    created_at: datetime
    resource: dict[str, Any] | None = None  # the version's content, for full-resource


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event_part(base: str, event: Event, content: str) -> dict[str, Any]:
    part: list[dict[str, Any]] = [
        {"name": "event-number", "valueString": str(event.number)},
        {"name": "timestamp", "valueInstant": event.created_at.isoformat(timespec="milliseconds")}]
    if content != "empty":
        part.append({"name": "focus", "valueReference":
                     {"reference": f"{base}/{event.resource_type}/{event.resource_id}/_history/{event.version_id}"}})
    return {"name": "notification-event", "part": part}


def status_parameters(base: str, sid: str, topic: str | None, status: str, kind: str, since: int,
                      events: list[Event], content: str, error: str | None = None) -> dict[str, Any]:
    """The SubscriptionStatus Parameters (also the answer of $status, with kind query-status)."""
    reference = {"reference": f"{base}/Subscription/{sid}"}
    parameter: list[dict[str, Any]] = [{"name": "subscription", "valueReference": reference}]
    if topic:
        parameter.append({"name": "topic", "valueCanonical": topic})
    parameter += [{"name": "status", "valueCode": status}, {"name": "type", "valueCode": kind},
                  {"name": "events-since-subscription-start", "valueString": str(since)}]
    parameter += [_event_part(base, e, content) for e in events]
    if error:
        parameter.append({"name": "error", "valueCodeableConcept": {"text": error}})
    return {"resourceType": "Parameters", "id": str(uuid4()),
            "meta": {"profile": [BACKPORT + "backport-subscription-status-r4"]}, "parameter": parameter}


def _focus_entry(base: str, event: Event, content: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": f"{base}/{event.resource_type}/{event.resource_id}"}
    if content == "full-resource" and event.resource is not None:
        entry["resource"] = event.resource
    entry["request"] = {"method": "POST" if event.version_id == 1 else "PUT",
                        "url": event.resource_type if event.version_id == 1
                        else f"{event.resource_type}/{event.resource_id}"}
    entry["response"] = {"status": "201" if event.version_id == 1 else "200"}
    return entry


def notification_bundle(base: str, status: dict[str, Any], events: list[Event], content: str) -> dict[str, Any]:
    sid = status["parameter"][0]["valueReference"]["reference"]
    entries = [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status,
                "request": {"method": "GET", "url": f"{sid}/$status"}, "response": {"status": "200"}}]
    if content != "empty":
        entries += [_focus_entry(base, e, content) for e in events]
    return {"resourceType": "Bundle", "id": str(uuid4()),
            "meta": {"profile": [BACKPORT + "backport-subscription-notification-r4"]},
            "type": "history", "timestamp": _now(), "entry": entries}
