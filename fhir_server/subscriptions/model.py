"""A Subscription resource -> what to match and where to send (R4 and the backport profile).

R4: http://hl7.org/fhir/R4/subscription.html (criteria = a search URL, channel type/endpoint/payload/header).
Backport: http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription
(criteria = a topic canonical, filters in backport-filter-criteria, payload content in backport-payload-content,
heartbeat in backport-heartbeat-period).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..errors import BadRequest, Unprocessable
from ..notifications.templates import language_of
from .topics import TOPICS

__all__ = ["BACKPORT", "BACKPORT_PROFILE", "Channel", "Subscription", "parse_subscription"]

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
BACKPORT_PROFILE = BACKPORT + "backport-subscription"
CHANNEL_TYPES = frozenset({"rest-hook", "websocket", "email", "sms"})
CONTENTS = frozenset({"empty", "id-only", "full-resource"})


@dataclass(frozen=True)
class Channel:
    type: str
    endpoint: str | None
    headers: tuple[tuple[str, str], ...] = ()
    content: str = "empty"  # what a notification carries: empty | id-only | full-resource
    bundle: bool = False  # False: R4 without payload, an empty POST; True: a notification Bundle
    language: str = "en"  # the Subscription's language: the template of email messages

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "endpoint": self.endpoint, "headers": [list(h) for h in self.headers],
                "content": self.content, "bundle": self.bundle, "language": self.language}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Channel:
        return cls(data["type"], data.get("endpoint"), tuple((h[0], h[1]) for h in data.get("headers") or []),
                   data.get("content", "empty"), bool(data.get("bundle")), str(data.get("language") or "en"))


@dataclass(frozen=True)
class Subscription:
    status: str
    resource_type: str
    params: list[tuple[str, str]] = field(default_factory=list)
    topic: str | None = None
    channel: Channel = field(default_factory=lambda: Channel("rest-hook", None))
    heartbeat_seconds: int | None = None

    @property
    def criteria(self) -> str:
        return "&".join(f"{k}={v}" for k, v in self.params)


def _extension(element: Mapping[str, Any] | None, name: str) -> list[Mapping[str, Any]]:
    return [e for e in (element or {}).get("extension") or [] if e.get("url") == BACKPORT + name]


def _search_url(text: str, what: str) -> tuple[str, list[tuple[str, str]]]:
    rtype, sep, query = text.partition("?")
    if not sep or not rtype or "/" in rtype:
        raise BadRequest(f"{what} {text!r} is not a search URL of the form Type?params")
    params = parse_qsl(query, keep_blank_values=True)
    if not params:
        raise BadRequest(f"{what} {text!r} has no search parameters")
    return rtype, params


def _criteria(resource: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]], str | None]:
    criteria = resource.get("criteria")
    if not isinstance(criteria, str) or not criteria:
        raise BadRequest("Subscription.criteria is required")
    if BACKPORT_PROFILE not in ((resource.get("meta") or {}).get("profile") or []):
        rtype, params = _search_url(criteria, "Subscription.criteria")
        return rtype, params, None
    topic = TOPICS.get(criteria)
    if topic is None:
        raise Unprocessable(f"Unknown SubscriptionTopic {criteria!r} (GET /fhir/SubscriptionTopic lists them)")
    params = parse_qsl(topic.query)
    for ext in _extension(resource.get("_criteria"), "backport-filter-criteria"):
        value = str(ext.get("valueString") or "")
        query = value.partition("?")[2] if "?" in value else value
        if value.startswith(f"{topic.resource_type}?") or "?" not in value:
            params += parse_qsl(query, keep_blank_values=True)
        else:
            raise BadRequest(f"Filter {value!r} is not a search on {topic.resource_type}, the topic's type")
    return topic.resource_type, params, topic.url


def _channel(data: Mapping[str, Any], language: str) -> Channel:
    ctype = data.get("type")
    if ctype not in CHANNEL_TYPES:
        raise Unprocessable(f"Subscription.channel.type {ctype!r} is not supported (rest-hook, websocket, email, sms)")
    headers: list[tuple[str, str]] = []
    for line in data.get("header") or []:
        name, sep, value = str(line).partition(":")
        if not sep or not name.strip() or "\n" in line or "\r" in line:
            raise BadRequest(f"Subscription.channel.header {line!r} is not 'Name: value'")
        headers.append((name.strip(), value.strip()))
    contents = [str(e.get("valueCode")) for e in _extension(data.get("_payload"), "backport-payload-content")]
    if contents and contents[0] not in CONTENTS:
        raise Unprocessable(f"backport-payload-content {contents[0]!r} is not empty, id-only or full-resource")
    payload = data.get("payload")
    content = contents[0] if contents else ("full-resource" if payload else "empty")
    return Channel(ctype, data.get("endpoint"), tuple(headers), content, bool(payload or contents), language)


def parse_subscription(resource: Mapping[str, Any]) -> Subscription:
    """Criteria and channel of a Subscription (400 malformed, 422 unsupported); the search itself is
    checked against the search layer by the write rule."""
    rtype, params, topic = _criteria(resource)
    channel = _channel(resource.get("channel") or {}, language_of(resource.get("language")))
    heartbeat = [e.get("valueUnsignedInt") for e in _extension(resource.get("channel"), "backport-heartbeat-period")]
    seconds = int(heartbeat[0]) if heartbeat and isinstance(heartbeat[0], int) and heartbeat[0] > 0 else None
    return Subscription(str(resource.get("status")), rtype, params, topic, channel, seconds)
