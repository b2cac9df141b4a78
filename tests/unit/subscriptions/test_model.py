"""Pure parts of subscriptions: parsing a Subscription, the backoff, the SSRF address classes."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from fhir_server.errors import BadRequest, Unprocessable
from fhir_server.subscriptions import endpoint
from fhir_server.subscriptions.model import BACKPORT, BACKPORT_PROFILE, parse_subscription
from fhir_server.subscriptions.state import backoff


def test_backoff_doubles_up_to_the_ceiling() -> None:
    assert [backoff(n, 1.0, 300.0) for n in (1, 2, 3, 4, 9, 10)] == [1.0, 2.0, 4.0, 8.0, 256.0, 300.0]


def test_r4_subscription_without_payload_sends_an_empty_post() -> None:
    sub = parse_subscription({"status": "requested", "criteria": "Observation?code=1234-5&status=final",
                              "channel": {"type": "rest-hook", "endpoint": "https://h.example.org/x",
                                          "header": ["X-Key: a:b"]}})
    assert (sub.resource_type, sub.params, sub.topic) == ("Observation", [("code", "1234-5"), ("status", "final")],
                                                          None)
    assert (sub.channel.bundle, sub.channel.content, sub.channel.headers) == (False, "empty", (("X-Key", "a:b"),))


def test_backport_topic_with_filters_and_heartbeat() -> None:
    sub = parse_subscription({
        "status": "requested", "meta": {"profile": [BACKPORT_PROFILE]},
        "criteria": "http://fhir-server.example.org/SubscriptionTopic/patient-admitted",
        "_criteria": {"extension": [{"url": BACKPORT + "backport-filter-criteria",
                                     "valueString": "Encounter?patient=Patient/1"}]},
        "channel": {"type": "rest-hook", "endpoint": "https://h.example.org/x", "payload": "application/fhir+json",
                    "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content", "valueCode": "id-only"}]},
                    "extension": [{"url": BACKPORT + "backport-heartbeat-period", "valueUnsignedInt": 60}]}})
    assert sub.resource_type == "Encounter" and sub.heartbeat_seconds == 60 and sub.channel.content == "id-only"
    assert sub.params == [("class", "http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP"),
                          ("status", "in-progress"), ("patient", "Patient/1")]


@pytest.mark.parametrize(("resource", "error"), [
    ({"criteria": "Patient?name=x", "channel": {"type": "fax"}}, Unprocessable),
    ({"channel": {"type": "rest-hook"}}, BadRequest),
    ({"criteria": "?name=x", "channel": {"type": "rest-hook"}}, BadRequest),
])
def test_refusals(resource: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_subscription(resource)


@pytest.mark.parametrize(("address", "refused"), [
    ("127.0.0.1", False), ("::1", False), ("8.8.8.8", False), ("10.0.0.1", True), ("172.16.0.1", True),
    ("192.168.0.1", True), ("169.254.169.254", True), ("fe80::1", True), ("fc00::1", True), ("0.0.0.0", True),
])
def test_private_addresses_are_refused_unless_allowed(address: str, refused: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert endpoint._refused(ip) is refused
    endpoint.configure(True)
    try:
        assert endpoint._refused(ip) is False
    finally:
        endpoint.configure(False)


def test_http_is_only_for_loopback() -> None:
    with pytest.raises(Unprocessable, match="must use https"):
        asyncio.run(endpoint.check_endpoint("http://8.8.8.8/hook"))
    asyncio.run(endpoint.check_endpoint("http://127.0.0.1:9/hook"))
