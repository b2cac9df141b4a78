"""$generate-slots and ``fhir-server slots generate`` on a server whose hospital time zone is
Europe/Madrid (CET -> CEST on Sunday 2031-03-30): Slots from PractitionerRole.availableTime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

from .helpers import appointment, diagnostics, fresh

REPO = Path(__file__).resolve().parents[3]
MORNINGS = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "availableStartTime": "09:00:00",
             "availableEndTime": "11:00:00"}]


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", timezone="Europe/Madrid")


def _doctor(client: httpx.Client, available: list[dict[str, Any]] = MORNINGS) -> tuple[str, str, str]:
    practitioner = f"Practitioner/{fresh()}"
    role = client.post("/PractitionerRole", json={"resourceType": "PractitionerRole", "active": True,
                                                  "practitioner": {"reference": practitioner},
                                                  "availableTime": available})
    assert role.status_code == 201, role.text
    sched = client.post("/Schedule", json={"resourceType": "Schedule", "actor": [
        {"reference": f"PractitionerRole/{role.json()['id']}"}, {"reference": practitioner}]})
    return practitioner, role.json()["id"], sched.json()["id"]


def _generate(client: httpx.Client, sched: str, start: str, end: str, minutes: int = 60) -> httpx.Response:
    return client.post(f"/Schedule/{sched}/$generate-slots", json={"resourceType": "Parameters", "parameter": [
        {"name": "start", "valueDate": start}, {"name": "end", "valueDate": end},
        {"name": "slotMinutes", "valueInteger": minutes}]})


def _counts(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    return {p["name"]: p["valueInteger"] for p in response.json()["parameter"]}


def _slots(client: httpx.Client, sched: str) -> list[tuple[str, str]]:
    bundle = client.get("/Slot", params={"schedule": f"Schedule/{sched}", "_sort": "start", "_count": "100"}).json()
    return [(e["resource"]["start"], e["resource"]["status"]) for e in bundle.get("entry", [])]


def test_generation_keeps_local_time_across_dst_and_is_idempotent(client: httpx.Client) -> None:
    _, _, sched = _doctor(client)
    assert _counts(_generate(client, sched, "2031-03-28", "2031-03-31")) == {"created": 4, "freed": 0, "blocked": 0}
    expected = [("2031-03-28T08:00:00.000Z", "free"), ("2031-03-28T09:00:00.000Z", "free"),
                ("2031-03-31T07:00:00.000Z", "free"), ("2031-03-31T08:00:00.000Z", "free")]
    assert _slots(client, sched) == expected
    assert _counts(_generate(client, sched, "2031-03-28", "2031-03-31")) == {"created": 0, "freed": 0, "blocked": 0}
    assert _slots(client, sched) == expected


def test_changed_availability_blocks_and_frees_only_unbooked_slots(client: httpx.Client) -> None:
    practitioner, role_id, sched = _doctor(client)
    _counts(_generate(client, sched, "2031-04-01", "2031-04-01"))  # Tuesday: 09:00 and 10:00 local (07:00Z, 08:00Z)
    slots = client.get("/Slot", params={"schedule": f"Schedule/{sched}", "_sort": "start"}).json()["entry"]
    nine, ten = (e["resource"]["id"] for e in slots)
    booked = client.post("/Appointment", json=appointment(practitioner, start="2031-04-01T07:00:00Z",
                                                          end="2031-04-01T08:00:00Z", slot=nine))
    assert booked.status_code == 201, booked.text
    role = client.get(f"/PractitionerRole/{role_id}").json()
    client.put(f"/PractitionerRole/{role_id}", json={**role, "availableTime": [
        {"daysOfWeek": ["mon"], "availableStartTime": "09:00:00", "availableEndTime": "11:00:00"}]})
    assert _counts(_generate(client, sched, "2031-04-01", "2031-04-01")) == {"created": 0, "freed": 0, "blocked": 1}
    assert _slots(client, sched) == [("2031-04-01T07:00:00.000Z", "busy"), ("2031-04-01T08:00:00.000Z",
                                                                            "busy-unavailable")]
    restored = client.put(f"/PractitionerRole/{role_id}", json=role)
    assert restored.status_code == 200, restored.text
    assert _counts(_generate(client, sched, "2031-04-01", "2031-04-01")) == {"created": 0, "freed": 1, "blocked": 0}
    assert client.get(f"/Slot/{ten}").json()["status"] == "free"


def test_bad_generation_input(client: httpx.Client) -> None:
    _, _, sched = _doctor(client)
    backwards = _generate(client, sched, "2031-04-02", "2031-04-01")
    assert backwards.status_code == 400
    no_role = client.post("/Schedule", json={"resourceType": "Schedule", "actor": [
        {"reference": f"Practitioner/{fresh()}"}]}).json()["id"]
    response = _generate(client, no_role, "2031-04-01", "2031-04-01")
    assert response.status_code == 422
    assert "has no PractitionerRole or HealthcareService actor with availableTime" in diagnostics(response)
    overlapping = client.post("/PractitionerRole", json={"resourceType": "PractitionerRole", "availableTime": [
        *MORNINGS, {"daysOfWeek": ["fri"], "availableStartTime": "10:00:00", "availableEndTime": "12:00:00"}]})
    assert overlapping.status_code == 422
    assert diagnostics(overlapping) == "PractitionerRole.availableTime overlaps itself on fri"


def test_cli_generates_for_every_schedule(client: httpx.Client, database_url: str) -> None:
    _, _, sched = _doctor(client)
    env = {**os.environ, "FHIR_TIMEZONE": "Europe/Madrid"}
    done = subprocess.run([sys.executable, "-m", "fhir_server.cli", "slots", "generate", "--horizon-days", "7",
                           "--database-url", database_url], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # 7 days from today hold exactly 5 weekdays, 2 morning slots each (less the past ones today).
    assert 8 <= report[sched]["created"] <= 10, report[sched]
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM scheduling_slot WHERE schedule_id = %s", (sched,)).fetchone()
    assert count is not None and count[0] == report[sched]["created"]
