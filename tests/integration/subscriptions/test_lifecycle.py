"""A hanging endpoint, status off, and a deleted Subscription (its capture stops with it)."""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg

from .helpers import rest_hook, status_parameters, wait_status
from .receiver import Receiver


def _subscribe(client: httpx.Client, receiver: Receiver, criteria: str) -> dict[str, object]:
    created = client.post("/Subscription", json=rest_hook(receiver.url + "/hook", criteria, "id-only"))
    assert created.status_code == 201, created.text
    return wait_status(client, created.json()["id"], "active")


def test_endpoint_that_hangs_is_timed_out_and_retried(client: httpx.Client, receiver: Receiver) -> None:
    family = "Hang" + uuid.uuid4().hex[:8]
    sid = _subscribe(client, receiver, f"Patient?family={family}")["id"]
    receiver.wait_for(1)
    receiver.delays.append(3.0)  # longer than FHIR_SUBSCRIPTION_TIMEOUT=2 of these tests
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    received = receiver.wait_for(3, timeout=20)
    numbers = [status_parameters(r.json())["notification-event"][0]["event-number"] for r in received[1:]]
    assert numbers == ["1", "1"]  # the timed-out attempt counts as a failure; the retry delivers it
    status = client.get(f"/Subscription/{sid}/$status").json()["entry"][0]["resource"]["parameter"]
    assert {p["name"]: p.get("valueCode") for p in status}["status"] == "active"


def test_off_and_delete_stop_delivery(client: httpx.Client, receiver: Receiver, database_url: str) -> None:
    rtype_family = "Off" + uuid.uuid4().hex[:8]
    sub = _subscribe(client, receiver, f"RelatedPerson?name={rtype_family}")
    receiver.wait_for(1)
    off = client.put(f"/Subscription/{sub['id']}", json={**sub, "status": "off"})
    assert off.status_code == 200 and off.json()["status"] == "off"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM subscribed_type WHERE resource_type = 'RelatedPerson'"
                            ).fetchone() == (0,)
    patient = client.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
    client.post("/RelatedPerson", json={"resourceType": "RelatedPerson", "patient": {"reference": f"Patient/{patient}"},
                                        "name": [{"family": rtype_family}]})
    time.sleep(0.8)
    assert len(receiver.received) == 1  # only the handshake
    again = client.put(f"/Subscription/{sub['id']}", json={**off.json(), "status": "requested"})
    assert again.status_code == 200
    wait_status(client, sub["id"], "active")
    assert client.delete(f"/Subscription/{sub['id']}").status_code == 200
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM subscription_state WHERE id = %s", (sub["id"],)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM subscribed_type WHERE resource_type = 'RelatedPerson'"
                            ).fetchone() == (0,)
