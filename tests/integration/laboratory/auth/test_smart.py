"""Who may change a lab order, and who finds its results, with authorization on (real SMART tokens):
only the requester changes a ServiceRequest (PUT, PATCH, transaction, delete); a doctor releasing a
report must name its performer; the ordering doctor and the patient find the report by
``based-on`` and the patient's compartment, another patient does not."""

from __future__ import annotations

from typing import Any

import httpx

from ..helpers import JSON_PATCH, fresh, put_entry, refused, report, transaction


def _order(rid: str, requester: str = "Practitioner/doc-1", status: str = "active") -> dict[str, Any]:
    return {"resourceType": "ServiceRequest", "id": rid, "status": status, "intent": "order",
            "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8"}]},
            "subject": {"reference": "Patient/pat-a"}, "requester": {"reference": requester}}


def _ordered(http: dict[str, httpx.Client], requester: str = "Practitioner/doc-1", by: str = "doc-1") -> str:
    rid = fresh("sr-")
    made = http[by].put(f"/ServiceRequest/{rid}", json=_order(rid, requester))
    assert made.status_code == 201, made.text
    return rid


def _only(rid: str, requester: str = "Practitioner/doc-1") -> str:
    return f"Rule lab.requester: only the requester ({requester}) may change ServiceRequest/{rid}"


def test_only_the_requester_changes_the_order(http: dict[str, httpx.Client]) -> None:
    rid = _ordered(http)
    refused(http["doc-2"].put(f"/ServiceRequest/{rid}", json=_order(rid, status="revoked")), _only(rid), 403,
            "forbidden")
    patch = b'[{"op": "replace", "path": "/status", "value": "revoked"}]'
    refused(http["doc-2"].patch(f"/ServiceRequest/{rid}", content=patch, headers=JSON_PATCH), _only(rid), 403,
            "forbidden")
    refused(http["doc-2"].delete(f"/ServiceRequest/{rid}"), _only(rid), 403, "forbidden")
    bundle = http["doc-2"].post("/", json=transaction(put_entry(_order(rid, "Practitioner/doc-2", "revoked"))))
    assert bundle.status_code == 403, bundle.text
    assert bundle.json()["issue"][0]["diagnostics"].endswith(_only(rid))
    assert http["doc-1"].get(f"/ServiceRequest/{rid}").json()["meta"]["versionId"] == "1"
    revoked = http["doc-1"].patch(f"/ServiceRequest/{rid}", content=patch, headers=JSON_PATCH)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"


def test_nobody_orders_in_a_colleagues_name(http: dict[str, httpx.Client]) -> None:
    rid = fresh("sr-")
    refused(http["doc-2"].put(f"/ServiceRequest/{rid}", json=_order(rid)),
            "Rule lab.requester: Practitioner/doc-2 may order only in their own name (ServiceRequest.requester)",
            403, "forbidden")
    assert http["doc-1"].get(f"/ServiceRequest/{rid}").status_code == 404


def test_a_requester_through_a_practitioner_role(http: dict[str, httpx.Client]) -> None:
    role = fresh("role-")
    made = http["doc-2"].put(f"/PractitionerRole/{role}", json={"resourceType": "PractitionerRole", "id": role,
                                                                "practitioner": {"reference": "Practitioner/doc-2"}})
    assert made.status_code == 201, made.text
    rid = _ordered(http, f"PractitionerRole/{role}", by="doc-2")
    assert http["doc-2"].put(f"/ServiceRequest/{rid}", json=_order(rid, f"PractitionerRole/{role}",
                                                                     "on-hold")).status_code == 200
    refused(http["doc-1"].put(f"/ServiceRequest/{rid}", json=_order(rid, f"PractitionerRole/{role}", "revoked")),
            _only(rid, f"PractitionerRole/{role}"), 403, "forbidden")


def test_a_doctor_must_name_the_performer_of_a_final_report(http: dict[str, httpx.Client]) -> None:
    rid = fresh("dr-")
    refused(http["doc-1"].put(f"/DiagnosticReport/{rid}", json=report("final", rid, performer=False,
                                                                         subject={"reference": "Patient/pat-a"})),
            "Rule lab.report-status: a final DiagnosticReport needs a performer")
    assert http["doc-1"].get(f"/DiagnosticReport/{rid}").status_code == 404


def test_the_orderer_and_the_patient_find_the_results(http: dict[str, httpx.Client]) -> None:
    order, rid = _ordered(http), fresh("dr-")
    body = report("final", rid, subject={"reference": "Patient/pat-a"},
                  basedOn=[{"reference": f"ServiceRequest/{order}"}])
    assert http["doc-1"].put(f"/DiagnosticReport/{rid}", json=body).status_code == 201
    query = {"based-on": f"ServiceRequest/{order}"}
    for who in ("doc-1", "pat-a"):
        found = http[who].get("/DiagnosticReport", params=query)
        assert found.status_code == 200, found.text
        assert [e["resource"]["id"] for e in found.json().get("entry", [])] == [rid], who
    mine = http["pat-a"].get("/DiagnosticReport", params={"patient": "pat-a"}).json()
    assert [e["resource"]["id"] for e in mine.get("entry", [])] == [rid]
    theirs = http["pat-b"].get("/DiagnosticReport", params=query)
    assert theirs.status_code == 200 and theirs.json().get("entry", []) == []
    assert http["pat-b"].get(f"/DiagnosticReport/{rid}").status_code == 404
