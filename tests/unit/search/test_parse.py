"""Pure parsing of search requests (search.html#syntax, #escaping, #chaining, #has)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest
from fhir_server.search.parse import Criterion, Has, parse_criterion, parse_request, split_escaped, unescape


def test_split_and_unescape() -> None:
    assert split_escaped(r"a\,b,c", ",") == [r"a\,b", "c"]
    assert [unescape(p) for p in split_escaped(r"sys|a\|b", "|")] == ["sys", "a|b"]
    assert unescape(r"x\$y\\z") == "x$y\\z"


def test_criteria() -> None:
    assert parse_criterion("name:exact") == Criterion("name", "exact")
    assert parse_criterion("subject:Patient.organization.name") == Criterion(
        "subject", "Patient", Criterion("organization", None, Criterion("name")))
    assert parse_criterion("_has:Observation:patient:_has:AuditEvent:entity:agent") == Criterion(
        "_has", has=Has("Observation", "patient", Criterion("_has", has=Has("AuditEvent", "entity",
                                                                          Criterion("agent")))))


def test_request_control_parameters() -> None:
    req = parse_request([("name", "a,b"), ("_sort", "-date,name"), ("_count", "5"), ("_total", "accurate"),
                         ("_include:iterate", "Patient:general-practitioner"), ("_format", "json")])
    assert [p.values for p in req.params] == [("a", "b")]
    assert [(k.code, k.descending) for k in req.sort] == [("date", True), ("name", False)]
    assert req.count == 5 and req.total == "accurate"
    assert req.includes[0].iterate and req.includes[0].param == "general-practitioner"


@pytest.mark.parametrize("items", [
    [("_count", "x")], [("_total", "all")], [("_summary", "yes")], [("_include", "Patient")],
    [("_has:Observation", "x")], [("subject.", "x")], [("_sort", ",")],
])
def test_malformed(items: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequest):
        parse_request(items)
