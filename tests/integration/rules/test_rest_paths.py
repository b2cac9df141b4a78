"""The write-rule hook through every REST write path (docs/rules.md), on real PostgreSQL over HTTP.

The probe rules (probe_rules.py) log each change of a probe Basic (rule ``first`` at order 10,
then ``second`` at order 20), refuse code ``refuse`` (422 business-rule) and the deletion of code
``keep``, and claim slots (unique) and days (exclusion) when a resource comes into being.
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from .helpers import accepted, basic, fresh, side_log, slots, stored_ids

FHIR_JSON = {"Content-Type": "application/fhir+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _refused(response: httpx.Response, diagnostics: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "business-rule", "diagnostics": diagnostics}]}


def _version(client: httpx.Client, rid: str) -> str:
    return str(client.get(f"/Basic/{rid}").json()["meta"]["versionId"])


def _create(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post("/Basic", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_hot_path_create_runs_the_rules_in_order(client: httpx.Client, database_url: str) -> None:
    """POST with no query string is the hot path's shape: it defers to the general path."""
    response = client.post("/Basic", json=basic("ok"), headers=FHIR_JSON)
    assert response.status_code == 201
    rid = response.json()["id"]
    assert side_log(database_url, rid) == accepted(("create", 1, None, "ok"))


def test_the_rule_sees_the_stored_id(client: httpx.Client, database_url: str) -> None:
    rid = _create(client, basic("ok", rid="client-chosen-is-ignored"))
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT DISTINCT new_id FROM rules_probe_side WHERE resource_id = %s",
                            (rid,)).fetchall() == [(rid,)]


def test_refused_create_leaves_nothing(client: httpx.Client, database_url: str) -> None:
    tag = fresh()
    before = side_log(database_url)
    for path in ("/Basic", "/Basic?_format=json"):  # the hot path's shape and the routed create
        response = client.post(path, json=basic("refuse", tag=tag), headers=FHIR_JSON)
        assert response.status_code == 422
        assert response.json()["issue"][0]["code"] == "business-rule"
        assert response.json()["issue"][0]["diagnostics"].startswith("Probe rule refuses Basic/")
    assert stored_ids(database_url, tag) == []
    assert side_log(database_url) == before  # the log row rule ``first`` wrote was rolled back


def test_routed_create_runs_the_rules(client: httpx.Client, database_url: str) -> None:
    response = client.post("/Basic?_format=json", json=basic("ok"), headers=FHIR_JSON)
    assert response.status_code == 201
    assert side_log(database_url, response.json()["id"]) == accepted(("create", 1, None, "ok"))


def test_update_and_update_as_create(client: httpx.Client, database_url: str) -> None:
    rid = fresh()
    created = client.put(f"/Basic/{rid}", json=basic("ok", rid=rid), headers=FHIR_JSON)
    assert created.status_code == 201
    updated = client.put(f"/Basic/{rid}", json=basic("other", rid=rid), headers=FHIR_JSON)
    assert updated.status_code == 200
    refused = client.put(f"/Basic/{rid}", json=basic("refuse", rid=rid), headers=FHIR_JSON)
    _refused(refused, f"Probe rule refuses Basic/{rid}: code 'refuse' (update)")
    assert _version(client, rid) == "2"
    assert side_log(database_url, rid) == accepted(("update", 1, None, "ok"), ("update", 2, "ok", "other"))


def test_refused_update_as_create_stores_nothing(client: httpx.Client, database_url: str) -> None:
    rid = fresh()
    refused = client.put(f"/Basic/{rid}", json=basic("refuse", rid=rid), headers=FHIR_JSON)
    _refused(refused, f"Probe rule refuses Basic/{rid}: code 'refuse' (update)")
    assert client.get(f"/Basic/{rid}").status_code == 404
    assert side_log(database_url, rid) == []


def test_json_patch_and_fhirpath_patch(client: httpx.Client, database_url: str) -> None:
    rid = _create(client, basic("ok"))
    to_other = [{"op": "replace", "path": "/code/coding/0/code", "value": "other"}]
    assert client.patch(f"/Basic/{rid}", json=to_other, headers=JSON_PATCH).status_code == 200
    to_refuse = [{"op": "replace", "path": "/code/coding/0/code", "value": "refuse"}]
    _refused(client.patch(f"/Basic/{rid}", json=to_refuse, headers=JSON_PATCH),
             f"Probe rule refuses Basic/{rid}: code 'refuse' (patch)")
    fhirpath = {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Basic.code.coding[0].code"},
        {"name": "value", "valueCode": "third"}]}]}
    assert client.patch(f"/Basic/{rid}", json=fhirpath, headers=FHIR_JSON).status_code == 200
    fhirpath["parameter"][0]["part"][2]["valueCode"] = "refuse"
    _refused(client.patch(f"/Basic/{rid}", json=fhirpath, headers=FHIR_JSON),
             f"Probe rule refuses Basic/{rid}: code 'refuse' (patch)")
    assert _version(client, rid) == "3"
    assert side_log(database_url, rid) == accepted(("create", 1, None, "ok"), ("patch", 2, "ok", "other"),
                                                   ("patch", 3, "other", "third"))


def test_delete_refused_then_accepted(client: httpx.Client, database_url: str) -> None:
    kept, gone = _create(client, basic("keep")), _create(client, basic("ok"))
    _refused(client.delete(f"/Basic/{kept}"), f"Probe rule: Basic/{kept} is kept and may not be deleted")
    assert client.get(f"/Basic/{kept}").status_code == 200
    assert client.delete(f"/Basic/{gone}").status_code == 200
    assert client.get(f"/Basic/{gone}").status_code == 410
    back = client.put(f"/Basic/{gone}", json=basic("back", rid=gone), headers=FHIR_JSON)
    assert back.status_code == 200  # re-created after its deletion (version 3): no live version is replaced
    assert side_log(database_url, kept) == accepted(("create", 1, None, "keep"))
    assert side_log(database_url, gone) == accepted(("create", 1, None, "ok"), ("delete", 2, "ok", None),
                                                    ("update", 3, None, "back"))


def test_conditional_create(client: httpx.Client, database_url: str) -> None:
    tag = fresh()
    condition = {**FHIR_JSON, "If-None-Exist": f"identifier=urn:probe:tag|{tag}"}
    refused = client.post("/Basic", json=basic("refuse", tag=tag), headers=condition)
    assert refused.status_code == 422  # no match: the create runs, and is refused
    first = client.post("/Basic", json=basic("ok", tag=tag), headers=condition)
    assert first.status_code == 201
    again = client.post("/Basic", json=basic("ok", tag=tag), headers=condition)
    assert again.status_code == 200  # matched: nothing written, so no rule ran
    rid = first.json()["id"]
    assert stored_ids(database_url, tag) == [rid]
    assert side_log(database_url, rid) == accepted(("create", 1, None, "ok"))


def test_conditional_update_patch_and_delete(client: httpx.Client, database_url: str) -> None:
    tag = fresh()
    query = f"identifier=urn:probe:tag|{tag}"
    made = client.put(f"/Basic?{query}", json=basic("keep", tag=tag), headers=FHIR_JSON)
    assert made.status_code == 201  # no match: created (update as create)
    rid = made.json()["id"]
    _refused(client.put(f"/Basic?{query}", json=basic("refuse", tag=tag), headers=FHIR_JSON),
             f"Probe rule refuses Basic/{rid}: code 'refuse' (update)")
    to_refuse = [{"op": "replace", "path": "/code/coding/0/code", "value": "refuse"}]
    _refused(client.patch(f"/Basic?{query}", json=to_refuse, headers=JSON_PATCH),
             f"Probe rule refuses Basic/{rid}: code 'refuse' (patch)")
    _refused(client.delete(f"/Basic?{query}"), f"Probe rule: Basic/{rid} is kept and may not be deleted")
    to_ok = [{"op": "replace", "path": "/code/coding/0/code", "value": "ok"}]
    assert client.patch(f"/Basic?{query}", json=to_ok, headers=JSON_PATCH).status_code == 200
    assert client.delete(f"/Basic?{query}").status_code == 200
    assert stored_ids(database_url, tag) == []
    assert side_log(database_url, rid) == accepted(("update", 1, None, "keep"), ("patch", 2, "keep", "ok"),
                                                   ("delete", 3, "ok", None))


def test_unique_violation_of_a_side_table_is_409_with_the_rules_message(client: httpx.Client,
                                                                        database_url: str) -> None:
    slot = fresh()
    owner = _create(client, basic("ok", slot=slot))
    clash = client.post("/Basic", json=basic("ok", slot=slot), headers=FHIR_JSON)
    assert clash.status_code == 409
    assert clash.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "conflict", "diagnostics": "probe slot is already taken"}]}
    rid = fresh()
    put_clash = client.put(f"/Basic/{rid}", json=basic("ok", rid=rid, slot=slot), headers=FHIR_JSON)
    assert put_clash.status_code == 409
    assert put_clash.json()["issue"][0]["diagnostics"] == "probe slot is already taken"
    assert client.get(f"/Basic/{rid}").status_code == 404
    assert slots(database_url, slot) == [owner]


def test_exclusion_violation_of_a_side_table_is_409_with_the_rules_message(client: httpx.Client) -> None:
    _create(client, basic("ok", created="2031-05-17"))
    clash = client.post("/Basic?_format=json", json=basic("ok", created="2031-05-17"), headers=FHIR_JSON)
    assert clash.status_code == 409
    assert clash.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "conflict", "diagnostics": "probe day is already booked"}]}
    assert client.post("/Basic", json=basic("ok", created="2031-05-18"), headers=FHIR_JSON).status_code == 201


def test_other_types_and_unmarked_basics_are_untouched(client: httpx.Client, database_url: str) -> None:
    before = side_log(database_url)
    assert client.post("/Basic", json={"resourceType": "Basic", "code": {"text": "plain"}},
                       headers=FHIR_JSON).status_code == 201
    assert client.post("/Patient", json={"resourceType": "Patient"}, headers=FHIR_JSON).status_code == 201
    assert side_log(database_url) == before
