"""Rest-hook delivery end to end: handshake, each payload type, headers, rollbacks, retries, recovery."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from fhir_server.cli import main as cli_main

from .helpers import rest_hook, status_parameters, wait_status
from .receiver import Receiver


def _family() -> str:
    return "Fam" + uuid.uuid4().hex[:10]


def _subscribe(client: httpx.Client, receiver: Receiver, family: str, content: str | None,
               headers: list[str] | None = None) -> str:
    created = client.post("/Subscription", json=rest_hook(receiver.url + "/hook", f"Patient?family={family}",
                                                          content, headers))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "requested"
    sid = created.json()["id"]
    wait_status(client, sid, "active")
    return str(sid)


def test_full_resource_notification(client: httpx.Client, receiver: Receiver) -> None:
    family = _family()
    sid = _subscribe(client, receiver, family, "full-resource", ["Authorization: Bearer secret-123"])
    handshake = receiver.wait_for(1)[0]
    assert handshake.headers["authorization"] == "Bearer secret-123"
    shake = status_parameters(handshake.json())
    assert (shake["type"], shake["events-since-subscription-start"], shake["notification-event"]) == \
        ("handshake", "0", [])
    assert shake["subscription"]["reference"].endswith(f"/Subscription/{sid}")
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Other" + family}]})
    patient = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}).json()
    note = receiver.wait_for(2)[1]
    bundle = note.json()
    assert bundle["type"] == "history" and note.headers["content-type"] == "application/fhir+json"
    status = status_parameters(bundle)
    assert (status["type"], status["status"], status["events-since-subscription-start"]) == \
        ("event-notification", "active", "1")
    event = status["notification-event"][0]
    assert event["event-number"] == "1"
    assert event["focus"]["reference"].endswith(f"/Patient/{patient['id']}/_history/1")
    assert len(bundle["entry"]) == 2 and bundle["entry"][1]["resource"] == patient
    assert bundle["entry"][1]["request"] == {"method": "POST", "url": "Patient"}
    time.sleep(0.5)
    assert len(receiver.received) == 2  # the non-matching Patient was not notified


def test_id_only_and_empty_payloads(client: httpx.Client, receiver: Receiver) -> None:
    family = _family()
    id_only = _subscribe(client, receiver, family, "id-only")
    empty = _subscribe(client, receiver, family, "empty")
    bare = _subscribe(client, receiver, family, None)  # R4 without channel.payload: an empty POST
    receiver.wait_for(3)
    patient = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}).json()
    received = receiver.wait_for(6)[3:]
    by_sub = {}
    for r in received:
        if r.body:
            by_sub[status_parameters(r.json())["subscription"]["reference"].rsplit("/", 1)[1]] = r.json()
        else:
            by_sub["bare"] = None
    assert set(by_sub) == {id_only, empty, "bare"}
    ids = by_sub[id_only]
    assert ids is not None and len(ids["entry"]) == 2 and "resource" not in ids["entry"][1]
    assert ids["entry"][1]["fullUrl"].endswith(f"/Patient/{patient['id']}")
    nothing = by_sub[empty]
    assert nothing is not None and len(nothing["entry"]) == 1
    assert status_parameters(nothing)["notification-event"] == [{"event-number": "1",
                                                                  "timestamp": status_parameters(nothing)[
                                                                      "notification-event"][0]["timestamp"]}]
    assert bare is not None


def test_rolled_back_write_is_never_notified(client: httpx.Client, receiver: Receiver) -> None:
    family = _family()
    sid = _subscribe(client, receiver, family, "id-only")
    receiver.wait_for(1)
    other = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": family}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Patient", "id": other},
         "request": {"method": "PUT", "url": f"Patient/{other}", "ifMatch": 'W/"9"'}}]}
    failed = client.post("/", json=bundle)  # entry 0 is written, entry 1 fails: the whole transaction rolls back
    assert failed.status_code == 412, failed.text
    assert client.get("/Patient", params={"family": family}).json()["total"] == 0
    time.sleep(0.6)
    assert len(receiver.received) == 1
    kept = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}).json()
    note = status_parameters(receiver.wait_for(2)[1].json())
    assert note["events-since-subscription-start"] == "1"  # the rolled-back write took no number
    assert note["notification-event"][0]["focus"]["reference"].endswith(f"/Patient/{kept['id']}/_history/1")
    assert sid


def test_500_then_ok_delivers_each_event_once_in_order(client: httpx.Client, receiver: Receiver) -> None:
    family = _family()
    sid = _subscribe(client, receiver, family, "id-only")
    receiver.wait_for(1)
    receiver.statuses.extend([500, 503])
    first = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}).json()
    second = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]}).json()
    received = receiver.wait_for(5)  # handshake, 500, 503, event 1, event 2
    time.sleep(0.6)
    assert len(receiver.received) == 5
    numbers = [status_parameters(r.json())["notification-event"][0]["event-number"] for r in received[1:]]
    assert numbers == ["1", "1", "1", "2"]
    focus = [status_parameters(r.json())["notification-event"][0]["focus"]["reference"] for r in received[3:]]
    assert [f.split("/")[-3] for f in focus] == [first["id"], second["id"]]
    status = client.get(f"/Subscription/{sid}/$status").json()["entry"][0]["resource"]
    assert {p["name"]: p.get("valueString") for p in status["parameter"]}["events-since-subscription-start"] == "2"


def test_error_after_the_limit_then_recovery(client: httpx.Client, receiver: Receiver) -> None:
    family = _family()
    sid = _subscribe(client, receiver, family, "id-only")
    receiver.wait_for(1)
    receiver.statuses.extend([500, 500, 500])  # FHIR_SUBSCRIPTION_MAX_FAILURES=3 in these tests
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    receiver.wait_for(4)
    failed = wait_status(client, sid, "error")
    assert failed["error"] == "Endpoint answered HTTP 500"
    status = client.get(f"/Subscription/{sid}/$status").json()["entry"][0]["resource"]["parameter"]
    values = {p["name"]: p for p in status}
    assert values["status"]["valueCode"] == "error"
    assert values["error"]["valueCodeableConcept"]["text"] == "Endpoint answered HTTP 500"
    recovered = wait_status(client, sid, "active")  # the endpoint answers 200 again
    assert "error" not in recovered
    numbers = [status_parameters(r.json())["notification-event"][0]["event-number"] for r in receiver.received[1:]]
    assert numbers == ["1", "1", "1", "1"]


def test_fhir_server_load_is_notified(client: httpx.Client, receiver: Receiver, database_url: str,
                                      tmp_path: Path) -> None:
    family = _family()
    _subscribe(client, receiver, family, "full-resource")
    receiver.wait_for(1)
    lines = [{"resourceType": "Patient", "id": f"load-{family.lower()}-{i}", "name": [{"family": family}]}
             for i in range(3)]
    (tmp_path / "Patient.ndjson").write_text("\n".join(json.dumps(p) for p in lines) + "\n")
    assert cli_main(["load", str(tmp_path), "--database-url", database_url, "--workers", "1"]) == 0
    received = receiver.wait_for(4)
    ids = sorted(r.json()["entry"][1]["resource"]["id"] for r in received[1:])
    assert ids == sorted(p["id"] for p in lines)
    numbers = sorted(status_parameters(r.json())["notification-event"][0]["event-number"] for r in received[1:])
    assert numbers == ["1", "2", "3"]
