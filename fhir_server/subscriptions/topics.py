"""The SubscriptionTopics this server ships, as canonical URLs (Subscriptions R5 Backport IG for R4:
http://hl7.org/fhir/uv/subscriptions-backport/). A topic is the search a version must match; a
subscription's backport-filter-criteria narrow it further with more search parameters of the same type.

A topic fires for every committed version that matches (created or updated), not only for the write
that made it match (no "previous version did not match" test): a receiver sees a second event when a
matching resource is written again.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TOPIC_BASE", "TOPICS", "Topic"]

TOPIC_BASE = "http://fhir-server.example.org/SubscriptionTopic/"
_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP"


@dataclass(frozen=True)
class Topic:
    url: str
    title: str
    resource_type: str
    query: str  # the search part of the criteria, in the server's own search syntax


def _topic(name: str, title: str, rtype: str, query: str) -> Topic:
    return Topic(TOPIC_BASE + name, title, rtype, query)


TOPICS: dict[str, Topic] = {t.url: t for t in (
    _topic("patient-admitted", "Patient admitted (inpatient Encounter in progress)", "Encounter",
           f"class={_ACT}&status=in-progress"),
    _topic("patient-discharged", "Patient discharged (inpatient Encounter finished)", "Encounter",
           f"class={_ACT}&status=finished"),
    _topic("appointment-booked", "Appointment booked", "Appointment", "status=booked"),
    _topic("appointment-cancelled", "Appointment cancelled", "Appointment", "status=cancelled"),
    _topic("lab-result-final", "Lab result final (DiagnosticReport final)", "DiagnosticReport", "status=final"),
    _topic("claim-response-ready", "Claim response ready (ClaimResponse outcome complete)", "ClaimResponse",
           "outcome=complete"),
    _topic("invoice-issued", "Invoice issued", "Invoice", "status=issued"),
)}
