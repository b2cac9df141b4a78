"""The write-rule hook through batch and transaction entries (http.html#transaction), over HTTP.

A transaction's creates of a ruled type leave the bulk create for the entry-by-entry path, so
the rules run for each; a refusal fails the whole transaction (rule writes included), while in a
batch only that entry fails.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson

from .helpers import accepted, basic, fresh, side_log, slots, stored_ids


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _entry(method: str, url: str, resource: dict[str, Any] | None = None, **request: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def _json_patch(code: str) -> dict[str, Any]:
    document = orjson.dumps([{"op": "replace", "path": "/code/coding/0/code", "value": code}])
    return {"resourceType": "Binary", "contentType": "application/json-patch+json",
            "data": base64.b64encode(document).decode()}


def _fhirpath_patch(code: str) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Basic.code.coding[0].code"},
        {"name": "value", "valueCode": code}]}]}


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["response"]["location"].split("/")[1] for e in bundle["entry"]]


def test_transaction_runs_the_rules_for_every_entry(client: httpx.Client, database_url: str) -> None:
    tag, put_id = fresh(), fresh()
    setup = client.post("", json=_bundle("transaction", _entry("POST", "Basic", basic("ok", tag=tag)),
                                         _entry("POST", "Basic", basic("ok", tag=tag)),
                                         _entry("POST", "Basic", basic("ok", tag=tag))))
    assert setup.status_code == 200, setup.text
    one, two, three = _ids(setup.json())
    for rid in (one, two, three):
        assert side_log(database_url, rid) == accepted(("create", 1, None, "ok"))
    response = client.post("", json=_bundle(
        "transaction",
        _entry("PUT", f"Basic/{put_id}", basic("ok", rid=put_id)),
        _entry("PATCH", f"Basic/{one}", _json_patch("json")),
        _entry("PATCH", f"Basic/{two}", _fhirpath_patch("fhirpath")),
        _entry("DELETE", f"Basic/{three}"),
        _entry("POST", "Basic", basic("ok", tag=tag), ifNoneExist=f"identifier=urn:probe:tag|{fresh()}")))
    assert response.status_code == 200, response.text
    assert [e["response"]["status"] for e in response.json()["entry"]] == \
        ["201 Created", "200 OK", "200 OK", "204 No Content", "201 Created"]
    assert side_log(database_url, put_id) == accepted(("update", 1, None, "ok"))
    assert side_log(database_url, one)[2:] == accepted(("patch", 2, "ok", "json"))
    assert side_log(database_url, two)[2:] == accepted(("patch", 2, "ok", "fhirpath"))
    assert side_log(database_url, three)[2:] == accepted(("delete", 2, "ok", None))
    created = response.json()["entry"][4]["response"]["location"].split("/")[1]
    assert side_log(database_url, created) == accepted(("create", 1, None, "ok"))


def test_a_refused_entry_rolls_the_whole_transaction_back(client: httpx.Client, database_url: str) -> None:
    tag = fresh()
    kept = client.post("/Basic", json=basic("keep"), headers={"Content-Type": "application/fhir+json"}).json()["id"]
    before = side_log(database_url)
    for refused in (_entry("POST", "Basic", basic("refuse", tag=tag)), _entry("DELETE", f"Basic/{kept}"),
                    _entry("PUT", f"Basic/{kept}", basic("refuse", rid=kept, tag=tag))):
        response = client.post("", json=_bundle("transaction", _entry("POST", "Basic", basic("ok", tag=tag)),
                                                _entry("POST", "Basic", basic("ok", tag=tag)), refused))
        assert response.status_code == 422, response.text
        issue = response.json()["issue"][0]
        assert issue["code"] == "business-rule"
        assert issue["diagnostics"].startswith("entry 2 (") and "Probe rule" in issue["diagnostics"]
    assert stored_ids(database_url, tag) == []
    assert client.get(f"/Basic/{kept}").json()["meta"]["versionId"] == "1"
    assert side_log(database_url) == before  # the accepted entries' side rows went with the rollback


def test_a_side_table_conflict_inside_a_transaction_is_409(client: httpx.Client, database_url: str) -> None:
    slot, tag = fresh(), fresh()
    response = client.post("", json=_bundle("transaction", _entry("POST", "Basic", basic("ok", tag=tag, slot=slot)),
                                            _entry("POST", "Basic", basic("ok", tag=tag, slot=slot))))
    assert response.status_code == 409, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "conflict" and issue["diagnostics"].endswith("probe slot is already taken")
    assert stored_ids(database_url, tag) == [] and slots(database_url, slot) == []


def test_in_a_batch_only_the_refused_entries_fail(client: httpx.Client, database_url: str) -> None:
    tag, slot, put_id = fresh(), fresh(), fresh()
    response = client.post("", json=_bundle(
        "batch",
        _entry("POST", "Basic", basic("ok", tag=tag, slot=slot)),
        _entry("POST", "Basic", basic("refuse", tag=tag)),
        _entry("PUT", f"Basic/{put_id}", basic("ok", rid=put_id, tag=tag)),
        _entry("POST", "Basic", basic("ok", tag=tag, slot=slot))))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == \
        ["201 Created", "422 Unprocessable Entity", "201 Created", "409 Conflict"]
    assert entries[1]["response"]["outcome"]["issue"][0]["code"] == "business-rule"
    assert entries[3]["response"]["outcome"] == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "conflict", "diagnostics": "probe slot is already taken"}]}
    first = entries[0]["response"]["location"].split("/")[1]
    assert stored_ids(database_url, tag) == sorted([first, put_id])
    assert side_log(database_url, first) == accepted(("create", 1, None, "ok"))
    assert side_log(database_url, put_id) == accepted(("update", 1, None, "ok"))
    assert slots(database_url, slot) == [first]
