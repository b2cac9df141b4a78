"""Subscription/[id]/$status and $events (Subscriptions Backport IG for R4), and the shipped topics.

GET|POST /fhir/Subscription/[id]/$status: a searchset Bundle with the SubscriptionStatus Parameters
(type query-status, events-since-subscription-start, the last error).
GET|POST /fhir/Subscription/[id]/$events?eventsSinceNumber=&eventsUntilNumber=&content=: the stored
events in that range as a notification Bundle (type query-event), to replay what a subscriber missed.
GET /fhir/SubscriptionTopic: the topics a backport subscription may name (as Basic resources:
R4 has no SubscriptionTopic type).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import BadRequest, FhirError, NotFound
from ..fhir.numbers import is_ascii_digits
from ..render import fhir_response
from ..resources.operations.registry import Operation, register
from ..smart_auth.policy import policy_of
from .model import BACKPORT, Channel
from .notification import Event, notification_bundle, status_parameters
from .topics import TOPICS

__all__ = ["router"]

router = APIRouter()
OPERATION_BASE = "http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/"
register(Operation("status", OPERATION_BASE + "backport-subscription-status", types=("Subscription",),
                   instance_level=True))
register(Operation("events", OPERATION_BASE + "backport-subscription-events", types=("Subscription",),
                   instance_level=True))
MAX_EVENTS = 100
_STATE = "SELECT status, topic, events_since_start, last_error, channel FROM subscription_state WHERE id = %s"
_EVENTS = """
SELECT event_number, resource_type, resource_id, version_id, created_at FROM subscription_event
WHERE subscription_id = %s AND event_number BETWEEN %s AND %s ORDER BY event_number LIMIT %s
"""


async def _state(request: Request, sid: str) -> tuple[Any, ...]:
    resources = request.app.state.resources
    await resources.read("Subscription", sid, policy_of(request))  # 404/410/403 as a read would answer
    async with resources.db.connection() as conn:
        row = await (await conn.execute(_STATE, (sid,))).fetchone()
    if row is None:
        raise NotFound(f"Subscription/{sid} has no delivery state")
    return tuple(row)


@router.api_route("/Subscription/{sid}/$status", methods=["GET", "POST"])
async def status_route(request: Request, sid: str) -> Response:
    status, topic, since, error, _channel = await _state(request, sid)
    base = request.app.state.settings.public_base
    parameters = status_parameters(base, sid, topic, status, "query-status", since, [], "empty", error)
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": 1,
              "entry": [{"fullUrl": f"urn:uuid:{parameters['id']}", "resource": parameters,
                         "search": {"mode": "match"}}]}
    return fhir_response(request, bundle)


def _number(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not is_ascii_digits(raw) or len(raw) > 18 or int(raw) < 1:
        raise BadRequest(f"{name} must be a positive integer")
    return int(raw)


async def _with_resource(request: Request, event: Event) -> Event:
    """The version's content, if the caller may read it (a replay is filtered by the caller's scopes)."""
    try:
        version = await request.app.state.resources.vread(event.resource_type, event.resource_id,
                                                           str(event.version_id), policy_of(request))
    except FhirError:
        return event
    return Event(event.number, event.resource_type, event.resource_id, event.version_id, event.created_at,
                 orjson.loads(version.body) if version.body else None)


@router.api_route("/Subscription/{sid}/$events", methods=["GET", "POST"])
async def events_route(request: Request, sid: str) -> Response:
    status, topic, since, _error, channel = await _state(request, sid)
    first = _number(request, "eventsSinceNumber", 1)
    last = _number(request, "eventsUntilNumber", since)
    content = request.query_params.get("content") or Channel.from_json(channel).content
    if content not in ("empty", "id-only", "full-resource"):
        raise BadRequest(f"content {content!r} is not empty, id-only or full-resource")
    async with request.app.state.resources.db.connection() as conn:
        rows = await (await conn.execute(_EVENTS, (sid, first, last, MAX_EVENTS))).fetchall()
    events = [Event(int(r[0]), r[1], r[2], int(r[3]), r[4]) for r in rows]
    if content == "full-resource":
        events = [await _with_resource(request, e) for e in events]
    base = request.app.state.settings.public_base
    parameters = status_parameters(base, sid, topic, status, "query-event", since, events, content)
    return fhir_response(request, notification_bundle(base, parameters, events, content))


def _topic_basic(url: str) -> dict[str, Any]:
    topic = TOPICS[url]
    return {"resourceType": "Basic", "id": url.rsplit("/", 1)[1],
            "code": {"coding": [{"system": "http://hl7.org/fhir/fhir-types", "code": "SubscriptionTopic"}]},
            "extension": [{"url": BACKPORT + "backport-topic-canonical", "valueUri": url},
                          {"url": "http://fhir-server.example.org/StructureDefinition/topic-criteria",
                           "valueString": f"{topic.resource_type}?{topic.query}"}],
            "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{topic.title}</div>'}}


@router.get("/SubscriptionTopic")
async def topics_route(request: Request) -> Response:
    entries = [{"fullUrl": url, "resource": _topic_basic(url)} for url in TOPICS]
    return fhir_response(request, {"resourceType": "Bundle", "type": "collection", "total": len(entries),
                                   "entry": entries})
