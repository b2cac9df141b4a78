"""The guarantee through every write path: transaction and batch bundles, conditional writes,
``fhir-server load``, and 50 concurrent overlapping writes through POST, PUT, PATCH and
transaction bundles (exactly one stored each time: PostgreSQL's exclusion constraint decides)."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from .helpers import appointment, at, fresh, stored_appointments

REPO = Path(__file__).resolve().parents[3]
RACERS = 50


def _tx(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _post(resource: dict[str, Any]) -> dict[str, Any]:
    return {"resource": resource, "request": {"method": "POST", "url": "Appointment"}}


def test_transaction_with_an_overlap_stores_nothing(client: httpx.Client, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    response = client.post("/", json=_tx("transaction", _post(appointment(doctor, start=at(9), end=at(10))),
                                         _post(appointment(doctor, start=at(9, 30), end=at(10, 30)))))
    assert response.status_code == 409, response.text
    assert response.json()["issue"][0]["code"] == "conflict"
    assert stored_appointments(database_url, doctor) == []


def test_batch_stores_the_first_and_refuses_the_second(client: httpx.Client, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    response = client.post("/", json=_tx("batch", _post(appointment(doctor, start=at(9), end=at(10))),
                                         _post(appointment(doctor, start=at(9, 30), end=at(10, 30)))))
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1].startswith("409"), statuses
    assert len(stored_appointments(database_url, doctor)) == 1


def test_conditional_update_into_an_overlap_is_409(client: httpx.Client, database_url: str) -> None:
    doctor, tag = f"Practitioner/{fresh()}", fresh()
    assert client.post("/Appointment", json=appointment(doctor, start=at(9), end=at(10))).status_code == 201
    body = appointment(doctor, start=at(9), end=at(10), identifier=[{"system": "urn:t", "value": tag}])
    response = client.put(f"/Appointment?identifier=urn:t|{tag}", json=body)
    assert response.status_code == 409, response.text
    assert len(stored_appointments(database_url, doctor)) == 1


def _race(calls: list[Any]) -> list[int]:
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return sorted(pool.map(lambda call: call().status_code, calls))


def test_fifty_concurrent_posts_store_one(server_url: str, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    with httpx.Client(base_url=server_url, timeout=60) as http:
        codes = _race([lambda i=i: http.post("/Appointment", json=appointment(
            doctor, f"Patient/{fresh()}", start=at(9, i % 30), end=at(10, i % 30))) for i in range(RACERS)])
    assert codes == [201] + [409] * (RACERS - 1)
    assert len(stored_appointments(database_url, doctor)) == 1


def test_fifty_concurrent_puts_store_one(server_url: str, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"

    def put(i: int) -> httpx.Response:
        rid = fresh("put-")
        return http.put(f"/Appointment/{rid}", json={**appointment(doctor, start=at(11), end=at(12)), "id": rid})
    with httpx.Client(base_url=server_url, timeout=60) as http:
        codes = _race([lambda i=i: put(i) for i in range(RACERS)])
    assert codes == [201] + [409] * (RACERS - 1)
    assert len(stored_appointments(database_url, doctor, "booked")) == 1


def test_fifty_concurrent_patches_book_one(server_url: str, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    patch = b'[{"op": "replace", "path": "/status", "value": "booked"}]'
    with httpx.Client(base_url=server_url, timeout=60) as http:
        ids = [http.post("/Appointment", json=appointment(doctor, start=at(13), end=at(14), status="proposed"))
               .json()["id"] for _ in range(RACERS)]
        codes = _race([lambda rid=rid: http.patch(f"/Appointment/{rid}", content=patch,
                                                  headers={"Content-Type": "application/json-patch+json"})
                       for rid in ids])
    assert codes == [200] + [409] * (RACERS - 1)
    assert len(stored_appointments(database_url, doctor, "booked")) == 1


def test_fifty_concurrent_transactions_store_one(server_url: str, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    with httpx.Client(base_url=server_url, timeout=60) as http:
        codes = _race([lambda: http.post("/", json=_tx("transaction", _post(appointment(
            doctor, start=at(15), end=at(16))))) for _ in range(RACERS)])
    assert codes == [200] + [409] * (RACERS - 1)
    assert len(stored_appointments(database_url, doctor)) == 1


def test_load_refuses_the_overlapping_line(tmp_path: Path, database_url: str) -> None:
    doctor = f"Practitioner/{fresh()}"
    lines = [appointment(doctor, start=at(17), end=at(18)), appointment(doctor, start=at(17, 30), end=at(18, 30)),
             appointment(doctor, start=at(18), end=at(19))]
    (tmp_path / "appointments.ndjson").write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    done = subprocess.run([sys.executable, "-m", "fhir_server.cli", "load", str(tmp_path), "--database-url",
                           database_url], cwd=REPO, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 rejected" in done.stdout, done.stdout
    assert "Double booking refused" in done.stdout, done.stdout
    assert len(stored_appointments(database_url, doctor)) == 2
