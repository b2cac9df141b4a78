"""Building scheduling resources and reading what PostgreSQL holds, for the scheduling tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

DAY = "2031-03-04"  # a Tuesday far enough ahead never to be "in the past"


def at(hour: int, minute: int = 0, day: str = DAY) -> str:
    return f"{day}T{hour:02d}:{minute:02d}:00Z"


def fresh(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


def appointment(*actors: str, start: str | None, end: str | None, status: str = "booked",
                slot: str | None = None, required: str = "required", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Appointment", "status": status,
                            "participant": [{"actor": {"reference": a}, "required": required,
                                             "status": "accepted"} for a in actors]}
    if start is not None:
        body["start"] = start
    if end is not None:
        body["end"] = end
    if slot is not None:
        body["slot"] = [{"reference": f"Slot/{slot}"}]
    body.update(extra)
    return body


def schedule(client: httpx.Client, *actors: str) -> str:
    response = client.post("/Schedule", json={"resourceType": "Schedule", "active": True,
                                              "actor": [{"reference": a} for a in actors]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def slot(client: httpx.Client, schedule_id: str, start: str, end: str, status: str = "free",
         **extra: Any) -> str:
    response = client.post("/Slot", json={"resourceType": "Slot", "schedule": {"reference": f"Schedule/{schedule_id}"},
                                          "status": status, "start": start, "end": end, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def stored_appointments(url: str, actor: str, status: str | None = None) -> list[str]:
    """Ids of live Appointments naming ``actor`` (straight from the resource table)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id FROM resource WHERE resource_type = 'Appointment' AND NOT deleted AND version_id > 0"
            " AND content->'participant' @> %s::jsonb AND (%s::text IS NULL OR content->>'status' = %s)"
            " ORDER BY id", (f'[{{"actor": {{"reference": "{actor}"}}}}]', status, status)).fetchall()
    return [r[0] for r in rows]


def slot_status(client: httpx.Client, slot_id: str) -> str:
    return str(client.get(f"/Slot/{slot_id}").json()["status"])


def diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])
