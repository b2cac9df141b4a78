"""The Encounter status machine through PUT, JSON Patch and a transaction bundle (issue 15).

Table (README, encounter_status.py): planned -> arrived|cancelled; arrived -> triaged|in-progress|
cancelled; triaged -> in-progress|cancelled; in-progress -> onleave|finished; onleave ->
in-progress|finished; any -> entered-in-error; finished, cancelled, entered-in-error terminal.
"""

from __future__ import annotations

import httpx
import pytest

from .helpers import create, diagnostics, encounter, patch_status, put_entry, transaction

ALLOWED = [("planned", "arrived"), ("planned", "cancelled"), ("arrived", "triaged"), ("arrived", "in-progress"),
           ("arrived", "cancelled"), ("triaged", "in-progress"), ("triaged", "cancelled"),
           ("in-progress", "onleave"), ("onleave", "in-progress"), ("onleave", "finished"),
           ("finished", "entered-in-error"), ("cancelled", "entered-in-error"), ("planned", "entered-in-error")]
REFUSED = [("planned", "in-progress", "arrived, cancelled, entered-in-error"),
           ("planned", "finished", "arrived, cancelled, entered-in-error"),
           ("arrived", "finished", "cancelled, entered-in-error, in-progress, triaged"),
           ("triaged", "arrived", "cancelled, entered-in-error, in-progress"),
           ("in-progress", "cancelled", "entered-in-error, finished, onleave"),
           ("finished", "in-progress", "entered-in-error"),
           ("cancelled", "planned", "entered-in-error"),
           ("entered-in-error", "finished", "none (terminal)")]


def _message(old: str, new: str, allowed: str) -> str:
    return (f"Encounter status rule (admissions.encounter-status): status cannot move from {old} to {new} "
            f"(allowed from {old}: {allowed})")


@pytest.mark.parametrize("old,new", ALLOWED)
def test_allowed_moves_by_put(client: httpx.Client, old: str, new: str) -> None:
    made = create(client, encounter(old, klass="AMB"))
    response = client.put(f"/Encounter/{made['id']}", json={**made, "status": new})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == new


@pytest.mark.parametrize("old,new,allowed", REFUSED)
def test_refused_moves_by_put_and_patch(client: httpx.Client, old: str, new: str, allowed: str) -> None:
    made = create(client, encounter(old, klass="AMB"))
    put = client.put(f"/Encounter/{made['id']}", json={**made, "status": new})
    assert put.status_code == 422, put.text
    assert put.json()["issue"][0]["code"] == "processing"
    assert diagnostics(put) == _message(old, new, allowed)
    patched = patch_status(client, made["id"], new)
    assert patched.status_code == 422, patched.text
    assert diagnostics(patched) == _message(old, new, allowed)
    current = client.get(f"/Encounter/{made['id']}").json()
    assert (current["status"], current["meta"]["versionId"]) == (old, "1")


def test_refused_move_in_a_transaction_rolls_back_every_entry(client: httpx.Client) -> None:
    made = create(client, encounter("finished", klass="AMB"))
    other = create(client, encounter("planned", klass="AMB"))
    bundle = transaction(put_entry({**other, "status": "arrived"}), put_entry({**made, "status": "in-progress"}))
    response = client.post("/", json=bundle)
    assert response.status_code == 422, response.text
    assert diagnostics(response).endswith(_message("finished", "in-progress", "entered-in-error"))
    assert client.get(f"/Encounter/{other['id']}").json()["status"] == "planned"
    assert client.get(f"/Encounter/{made['id']}").json()["status"] == "finished"


@pytest.mark.parametrize("status", ["planned", "arrived", "in-progress", "finished", "cancelled",
                                    "entered-in-error"])
def test_a_create_may_start_in_any_status(client: httpx.Client, status: str) -> None:
    assert create(client, encounter(status, klass="AMB"))["status"] == status


def test_a_put_that_keeps_a_terminal_status_is_allowed(client: httpx.Client) -> None:
    made = create(client, encounter("finished", klass="AMB"))
    response = client.put(f"/Encounter/{made['id']}", json={**made, "serviceType": {"text": "corrected"}})
    assert response.status_code == 200, response.text
