"""The DiagnosticReport rule: status moves and what a released report must carry."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.laboratory.refusal import RuleRefused
from fhir_server.laboratory.report_status import check_report

RESULT = [{"reference": "Observation/o1"}]
LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}
PERFORMER = [{"reference": "Practitioner/p1"}]


def report(status: str, result: Any = RESULT, performer: Any = PERFORMER) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "DiagnosticReport", "status": status, "category": [LAB]}
    if result:
        body["result"] = result
    if performer:
        body["performer"] = performer
    return body


def refusal(old: str | None, new: dict[str, Any], importer: bool = False) -> str:
    with pytest.raises(RuleRefused) as caught:
        check_report("r1", report(old) if old else None, new, importer)
    return caught.value.message


@pytest.mark.parametrize(("old", "new"), [
    ("registered", "partial"), ("partial", "preliminary"), ("preliminary", "final"), ("registered", "final"),
    ("final", "amended"), ("final", "corrected"), ("final", "appended"), ("amended", "corrected"),
    ("corrected", "amended"), ("final", "entered-in-error"), ("preliminary", "cancelled"), ("final", "final")])
def test_allowed_moves(old: str, new: str) -> None:
    check_report("r1", report(old), report(new), importer=False)


@pytest.mark.parametrize(("old", "new"), [
    ("final", "preliminary"), ("final", "registered"), ("final", "partial"), ("amended", "preliminary"),
    ("final", "cancelled"), ("preliminary", "registered"), ("partial", "registered"), ("cancelled", "final"),
    ("entered-in-error", "final"), ("final", "unknown")])
def test_refused_moves(old: str, new: str) -> None:
    assert refusal(old, report(new)).startswith(f"Rule lab.report-status: DiagnosticReport/r1 cannot move from {old}"
                                                f" to {new} (")


def test_going_back_is_explained() -> None:
    assert refusal("final", report("preliminary")) == (
        "Rule lab.report-status: DiagnosticReport/r1 cannot move from final to preliminary (a final report cannot go"
        " back to preliminary; amend or correct it instead)")


@pytest.mark.parametrize("status", ["final", "amended", "corrected", "appended"])
def test_a_released_report_needs_results_and_a_performer(status: str) -> None:
    article = "an" if status[0] in "aeiou" else "a"
    assert refusal(None, report(status, result=None)) == (
        f"Rule lab.report-status: {article} {status} laboratory DiagnosticReport needs at least one result"
        " (an Observation)")
    assert refusal(None, report(status, result=[{"reference": "Media/m1"}])).endswith("needs at least one result"
                                                                                      " (an Observation)")
    assert refusal(None, report(status, performer=None)) == (
        f"Rule lab.report-status: {article} {status} DiagnosticReport needs a performer")


def test_an_importer_may_create_or_rewrite_a_released_report_without_performer() -> None:
    check_report("r1", None, report("final", performer=None), importer=True)  # Synthea's final reports
    check_report("r1", report("final", performer=None), report("final", performer=None), importer=True)
    # ... but releasing or amending on this server needs the performer from everyone
    assert refusal("preliminary", report("final", performer=None), importer=True).endswith("needs a performer")
    assert refusal("final", report("amended", performer=None), importer=True).endswith("needs a performer")
    # and results are demanded of importers too
    assert refusal(None, report("final", result=None, performer=None), importer=True).endswith("(an Observation)")


def test_open_reports_need_neither() -> None:
    for status in ("registered", "partial", "preliminary", "cancelled", "entered-in-error", "unknown"):
        check_report("r1", None, report(status, result=None, performer=None), importer=False)


def test_narrative_reports_need_no_observation() -> None:
    imaging = {**report("final", result=None), "category": [{"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}], "conclusion": "Normal"}
    check_report("r1", None, imaging, importer=False)
    uncategorised = {k: v for k, v in report("final", result=None).items() if k != "category"}
    check_report("r1", None, uncategorised, importer=False)
    assert refusal(None, {**uncategorised, "performer": []}).endswith("needs a performer")
