"""Reference collection and rewriting for transactions (http.html#trules)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from fhir_server.errors import NotFound, PreconditionFailed
from fhir_server.exchange.references import (
    collect_references,
    conditional_reference,
    resolve_conditionals,
    rewrite_references,
)

RESOURCE = {
    "resourceType": "Observation",
    "subject": {"reference": "urn:uuid:p"},
    "extension": [{"url": "x", "valueReference": {"reference": "urn:uuid:p"}}],
    "contained": [{"resourceType": "Provenance", "target": [{"reference": "urn:oid:1.2"}]}],
    "performer": [{"reference": "Practitioner?identifier=a|b"}, {"reference": "#c1"}],
    "note": [{"text": "urn:uuid:p"}],
}


def test_collect_finds_every_reference() -> None:
    found: set[str] = set()
    collect_references(RESOURCE, found)
    assert found == {"urn:uuid:p", "urn:oid:1.2", "Practitioner?identifier=a|b", "#c1"}


def test_rewrite_replaces_references_only_in_place() -> None:
    mapping = {"urn:uuid:p": "Patient/1", "urn:oid:1.2": "Organization/2"}
    out = copy.deepcopy(RESOURCE)
    holders: list[dict[str, Any]] = []
    collect_references(out, set(), holders)
    rewrite_references(holders, mapping)
    assert out["subject"] == {"reference": "Patient/1"}
    assert out["extension"][0]["valueReference"] == {"reference": "Patient/1"}
    assert out["contained"][0]["target"] == [{"reference": "Organization/2"}]
    assert out["note"] == [{"text": "urn:uuid:p"}]  # a string that is not a Reference stays as written
    # unmapped references (conditional ones resolved elsewhere, local "#c1") are left as they are
    assert {h["reference"] for h in holders} == {"Patient/1", "Organization/2", "Practitioner?identifier=a|b", "#c1"}


def test_conditional_reference_parsing() -> None:
    assert conditional_reference("Patient?identifier=a|b") == ("Patient", [("identifier", "a|b")])
    assert conditional_reference("Patient/1") is None
    assert conditional_reference("Nonsense?x=1") is None


def _resolver(answers: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    async def resolve(rtype: str, params: list[tuple[str, str]]) -> list[str]:
        return answers[params[0][1]]
    return resolve


def test_resolve_conditionals() -> None:
    refs = {"Patient?identifier=one", "Patient/9"}
    assert asyncio.run(resolve_conditionals(refs, _resolver({"one": ["7"]}))) == {"Patient?identifier=one": "Patient/7"}
    with pytest.raises(NotFound):
        asyncio.run(resolve_conditionals({"Patient?identifier=none"}, _resolver({"none": []})))
    with pytest.raises(PreconditionFailed):
        asyncio.run(resolve_conditionals({"Patient?identifier=two"}, _resolver({"two": ["1", "2"]})))
