"""Backport topic subscriptions: filters, the shipped topics list, $events replay, heartbeats."""

from __future__ import annotations

import time

import httpx

from .helpers import TOPIC, status_parameters, topic_subscription, wait_status
from .receiver import Receiver


def _report(patient: str, status: str) -> dict[str, object]:
    return {"resourceType": "DiagnosticReport", "status": status, "code": {"text": "CBC"},
            "subject": {"reference": f"Patient/{patient}"}}


def test_topic_list_names_the_shipped_topics(client: httpx.Client) -> None:
    bundle = client.get("/SubscriptionTopic").json()
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert urls == [TOPIC + n for n in ("patient-admitted", "patient-discharged", "appointment-booked",
                                        "appointment-cancelled", "lab-result-final", "claim-response-ready",
                                        "invoice-issued")]


def test_lab_result_final_for_one_patient_and_replay(client: httpx.Client, receiver: Receiver) -> None:
    mine = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    other = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    body = topic_subscription(receiver.url + "/labs", "lab-result-final", [f"DiagnosticReport?subject=Patient/{mine}"])
    sid = client.post("/Subscription", json=body).json()["id"]
    wait_status(client, sid, "active")
    receiver.wait_for(1)
    client.post("/DiagnosticReport", json=_report(mine, "preliminary"))  # not final: no event
    client.post("/DiagnosticReport", json=_report(other, "final"))  # another patient: no event
    final = client.post("/DiagnosticReport", json=_report(mine, "final")).json()
    note = receiver.wait_for(2)[1].json()
    status = status_parameters(note)
    assert status["topic"] == TOPIC + "lab-result-final"
    assert [e["event-number"] for e in status["notification-event"]] == ["1"]
    assert note["entry"][1]["fullUrl"].endswith(f"/DiagnosticReport/{final['id']}")
    time.sleep(0.5)
    assert len(receiver.received) == 2
    replay = client.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "1",
                                                                 "content": "full-resource"}).json()
    replayed = status_parameters(replay)
    assert (replayed["type"], replayed["events-since-subscription-start"]) == ("query-event", "1")
    assert replay["entry"][1]["resource"] == final
    bad = client.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "0"})
    assert bad.status_code == 400 and bad.json()["issue"][0]["diagnostics"] == \
        "eventsSinceNumber must be a positive integer"


def test_heartbeat_when_nothing_happens(client: httpx.Client, receiver: Receiver) -> None:
    body = topic_subscription(receiver.url + "/beat", "invoice-issued", [], "empty", heartbeat=1)
    sid = client.post("/Subscription", json=body).json()["id"]
    wait_status(client, sid, "active")
    beats = receiver.wait_for(3, timeout=10)
    kinds = [status_parameters(r.json())["type"] for r in beats[:3]]
    assert kinds == ["handshake", "heartbeat", "heartbeat"]
    assert status_parameters(beats[1].json())["events-since-subscription-start"] == "0"


def test_unknown_subscription_status_is_404(client: httpx.Client) -> None:
    response = client.get("/Subscription/nope/$status")
    assert response.status_code == 404
