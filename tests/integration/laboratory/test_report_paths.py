"""The DiagnosticReport rule on every write path (PUT, PATCH, transaction bundle), real HTTP, auth off
(the caller is the operator: an importer, see report_status.py), and the history an amendment keeps."""

from __future__ import annotations

import httpx

from .helpers import JSON_PATCH, fresh, put, put_entry, refused, report, stored, transaction

BACK = ("Rule lab.report-status: DiagnosticReport/{} cannot move from final to preliminary (a final report cannot"
        " go back to preliminary; amend or correct it instead)")
NO_PERFORMER = "Rule lab.report-status: a final DiagnosticReport needs a performer"
NO_RESULT = "Rule lab.report-status: a final laboratory DiagnosticReport needs at least one result (an Observation)"


def _final(client: httpx.Client) -> str:
    rid = fresh("dr-")
    for status in ("registered", "preliminary", "final"):
        put(client, report(status, rid))
    return rid


def test_a_final_report_does_not_go_back(client: httpx.Client) -> None:
    rid = _final(client)
    refused(client.put(f"/DiagnosticReport/{rid}", json=report("preliminary", rid)), BACK.format(rid))
    patch = b'[{"op": "replace", "path": "/status", "value": "preliminary"}]'
    refused(client.patch(f"/DiagnosticReport/{rid}", content=patch, headers=JSON_PATCH), BACK.format(rid))
    bundle = client.post("/", json=transaction(put_entry(report("preliminary", rid))))
    assert bundle.status_code == 422, bundle.text
    assert bundle.json()["issue"][0]["diagnostics"].endswith(BACK.format(rid))
    assert stored(client, "DiagnosticReport", rid) == ("final", "3")


def test_releasing_needs_a_performer_on_every_path(client: httpx.Client) -> None:
    rid = fresh("dr-")
    put(client, report("preliminary", rid, performer=False))
    refused(client.put(f"/DiagnosticReport/{rid}", json=report("final", rid, performer=False)), NO_PERFORMER)
    patch = b'[{"op": "replace", "path": "/status", "value": "final"}]'
    refused(client.patch(f"/DiagnosticReport/{rid}", content=patch, headers=JSON_PATCH), NO_PERFORMER)
    bundle = client.post("/", json=transaction(put_entry(report("final", rid, performer=False))))
    assert bundle.status_code == 422 and bundle.json()["issue"][0]["diagnostics"].endswith(NO_PERFORMER)
    assert stored(client, "DiagnosticReport", rid) == ("preliminary", "1")


def test_a_final_laboratory_report_needs_results(client: httpx.Client) -> None:
    rid = fresh("dr-")
    refused(client.put(f"/DiagnosticReport/{rid}", json=report("final", rid, result=False)), NO_RESULT)
    refused(client.post("/DiagnosticReport", json=report("final", result=False)), NO_RESULT)
    bundle = client.post("/", json=transaction({"resource": report("final", result=False),
                                                "request": {"method": "POST", "url": "DiagnosticReport"}}))
    assert bundle.status_code == 422 and bundle.json()["issue"][0]["diagnostics"].endswith(NO_RESULT)
    assert client.get(f"/DiagnosticReport/{rid}").status_code == 404


def test_an_import_of_a_final_report_without_performer_is_accepted(client: httpx.Client) -> None:
    """Synthea's shape: final, results, no performer, written by the operator (auth off / load)."""
    response = client.post("/DiagnosticReport", json=report("final", performer=False))
    assert response.status_code == 201, response.text
    rid = response.json()["id"]
    refused(client.put(f"/DiagnosticReport/{rid}", json=report("amended", rid, performer=False)),
            "Rule lab.report-status: an amended DiagnosticReport needs a performer")


def test_amending_keeps_the_history(client: httpx.Client) -> None:
    rid = _final(client)
    amended = put(client, report("amended", rid, conclusion="Potassium corrected after re-run"))
    assert amended["meta"]["versionId"] == "4"
    history = client.get(f"/DiagnosticReport/{rid}/_history").json()
    assert [(e["resource"]["meta"]["versionId"], e["resource"]["status"]) for e in history["entry"]] == [
        ("4", "amended"), ("3", "final"), ("2", "preliminary"), ("1", "registered")]
    assert client.get(f"/DiagnosticReport/{rid}/_history/3").json()["status"] == "final"
    assert put(client, report("corrected", rid))["status"] == "corrected"


def test_based_on_finds_the_reports_of_an_order(client: httpx.Client) -> None:
    order, other = fresh("sr-"), fresh("sr-")
    mine = put(client, report("final", fresh("dr-"), basedOn=[{"reference": f"ServiceRequest/{order}"}]))
    put(client, report("final", fresh("dr-"), basedOn=[{"reference": f"ServiceRequest/{other}"}]))
    found = client.get("/DiagnosticReport", params={"based-on": f"ServiceRequest/{order}"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [mine["id"]]
