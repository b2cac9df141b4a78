"""Several server processes on one database, and a server killed with SIGKILL in the middle of a delivery.

At least once, numbered: a receiver that drops repeats by event number sees each event exactly once.
The only repeat these tests allow is the event whose delivery was cut by the kill.
"""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import httpx

from .helpers import rest_hook, status_parameters
from .processes import serve
from .receiver import Receiver


def _numbers(receiver: Receiver) -> list[int]:
    return [int(status_parameters(b)["notification-event"][0]["event-number"])
            for b in receiver.notifications("/hook") if status_parameters(b)["type"] == "event-notification"]


def _wait_active(base: str, sid: str) -> None:
    deadline = time.monotonic() + 20
    while httpx.get(f"{base}/Subscription/{sid}").json()["status"] != "active":
        assert time.monotonic() < deadline, "subscription never became active"
        time.sleep(0.05)


def test_two_processes_deliver_each_event_once_in_order(database_url: str, receiver: Receiver,
                                                        tmp_path: Path) -> None:
    family = "Two" + uuid.uuid4().hex[:8]
    hook = rest_hook(receiver.url + "/hook", f"Patient?family={family}", "id-only")
    with serve(database_url, tmp_path / "a.log") as (_a, base_a), \
            serve(database_url, tmp_path / "b.log") as (_b, base_b):
        sid = httpx.post(f"{base_a}/Subscription", json=hook).json()["id"]
        _wait_active(base_a, sid)
        for i in range(30):
            base = base_a if i % 2 else base_b
            assert httpx.post(f"{base}/Patient", json={"resourceType": "Patient",
                                                       "name": [{"family": family}]}).status_code == 201
        receiver.wait_for(31, timeout=30)
        time.sleep(1.0)
        assert _numbers(receiver) == list(range(1, 31))  # each once, in event-number order
        assert len(receiver.received) == 31


def test_kill_9_during_delivery_loses_nothing(database_url: str, receiver: Receiver, tmp_path: Path) -> None:
    family = "Kill" + uuid.uuid4().hex[:8]
    hook = rest_hook(receiver.url + "/hook", f"Patient?family={family}", "id-only")
    with serve(database_url, tmp_path / "a.log") as (a, base_a):
        sid = httpx.post(f"{base_a}/Subscription", json=hook).json()["id"]
        _wait_active(base_a, sid)
        receiver.delays.extend([5.0])  # the handshake was answered; event 1 will hang
        for _ in range(3):
            httpx.post(f"{base_a}/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
        receiver.wait_for(2, timeout=20)  # event 1 is in flight at process A
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=10)
    with serve(database_url, tmp_path / "b.log"):
        receiver.wait_for(5, timeout=30)  # B sends event 1 again, then 2 and 3
        time.sleep(1.0)
    numbers = _numbers(receiver)
    assert numbers == [1, 1, 2, 3]  # the cut delivery repeats; nothing is lost
    assert sorted(set(numbers)) == [1, 2, 3]  # de-duplicated by event number: each once
