"""The Task state machine on every write path (PUT, PATCH, transaction bundle, batch), real HTTP."""

from __future__ import annotations

import httpx

from .helpers import JSON_PATCH, fresh, put, put_entry, refused, stored, task, transaction

IN_PROGRESS_TO_CANCELLED = ("Rule lab.task-status: Task/{} cannot move from in-progress to cancelled (work has"
                            " started: stop the order through its ServiceRequest (status revoked), then fail the Task)")


def _in_progress(client: httpx.Client) -> str:
    rid = fresh("t-")
    for status in ("requested", "accepted", "in-progress"):
        put(client, task(status, rid))
    return rid


def test_a_lab_order_runs_its_course(client: httpx.Client) -> None:
    rid = fresh("t-")
    for status in ("requested", "received", "accepted", "ready", "in-progress", "on-hold", "in-progress",
                   "completed"):
        assert put(client, task(status, rid))["status"] == status
    assert stored(client, "Task", rid) == ("completed", "8")
    assert put(client, task("completed", rid, note=[{"text": "filed"}]))["meta"]["versionId"] == "9"  # same status


def test_cancelling_work_in_progress_is_refused_on_put(client: httpx.Client) -> None:
    rid = _in_progress(client)
    refused(client.put(f"/Task/{rid}", json=task("cancelled", rid)), IN_PROGRESS_TO_CANCELLED.format(rid))
    assert stored(client, "Task", rid) == ("in-progress", "3")


def test_cancelling_work_in_progress_is_refused_on_patch(client: httpx.Client) -> None:
    rid = _in_progress(client)
    response = client.patch(f"/Task/{rid}", content=b'[{"op": "replace", "path": "/status", "value": "cancelled"}]',
                            headers=JSON_PATCH)
    refused(response, IN_PROGRESS_TO_CANCELLED.format(rid))
    assert stored(client, "Task", rid) == ("in-progress", "3")


def test_a_transaction_with_a_refused_move_changes_nothing(client: httpx.Client) -> None:
    rid, other = _in_progress(client), fresh("t-")
    response = client.post("/", json=transaction(put_entry(task("requested", other)),
                                                 put_entry(task("cancelled", rid))))
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "business-rule"
    assert issue["diagnostics"].endswith(IN_PROGRESS_TO_CANCELLED.format(rid)), issue
    assert stored(client, "Task", rid) == ("in-progress", "3")
    assert client.get(f"/Task/{other}").status_code == 404


def test_a_batch_refuses_only_the_impossible_entry(client: httpx.Client) -> None:
    done, fine = fresh("t-"), _in_progress(client)
    put(client, task("completed", done))
    bundle = {**transaction(put_entry(task("in-progress", done)), put_entry(task("completed", fine))), "type": "batch"}
    response = client.post("/", json=bundle)
    assert response.status_code == 200, response.text
    assert [e["response"]["status"][:3] for e in response.json()["entry"]] == ["422", "200"]
    assert stored(client, "Task", done) == ("completed", "1")
    assert stored(client, "Task", fine) == ("completed", "4")


def test_terminal_states_and_entered_in_error(client: httpx.Client) -> None:
    rid = fresh("t-")
    put(client, task("completed", rid))  # a create may record work done elsewhere
    refused(client.put(f"/Task/{rid}", json=task("in-progress", rid)),
            f"Rule lab.task-status: Task/{rid} cannot move from completed to in-progress (completed is a final status)")
    assert put(client, task("entered-in-error", rid))["status"] == "entered-in-error"
    refused(client.put(f"/Task/{rid}", json=task("completed", rid)),
            f"Rule lab.task-status: Task/{rid} cannot move from entered-in-error to completed"
            " (entered-in-error is a final status)")


def test_skipping_acceptance_is_refused(client: httpx.Client) -> None:
    rid = fresh("t-")
    put(client, task("requested", rid))
    refused(client.put(f"/Task/{rid}", json=task("completed", rid)),
            f"Rule lab.task-status: Task/{rid} cannot move from requested to completed (allowed from requested:"
            " accepted, cancelled, entered-in-error, ready, received, rejected)")


def test_cancel_before_work_starts(client: httpx.Client) -> None:
    rid = fresh("t-")
    put(client, task("requested", rid))
    put(client, task("accepted", rid))
    assert put(client, task("cancelled", rid))["status"] == "cancelled"
