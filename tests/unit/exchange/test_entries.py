"""Parsing batch/transaction entries (http.html#transaction)."""

from __future__ import annotations

import pytest

from fhir_server.errors import BadRequest, PayloadTooLarge
from fhir_server.exchange.entries import parse_entries

BASE = "http://fhir.example.org/fhir"


def _bundle(*requests: dict[str, str], kind: str = "transaction") -> dict[str, object]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"request": r} for r in requests]}


def test_urls_are_split_into_type_id_version_and_query() -> None:
    kind, entries = parse_entries(_bundle(
        {"method": "GET", "url": "Patient/1/_history/2"},
        {"method": "put", "url": "Patient?identifier=a%7Cb&name=x"},
        {"method": "DELETE", "url": f"{BASE}/Observation/9"},
        {"method": "POST", "url": "Patient/_search?name=y"}), BASE, 10)
    assert kind == "transaction"
    first, second, third, fourth = entries
    assert (first.resource_type, first.resource_id, first.version_id) == ("Patient", "1", "2")
    assert first.operation == "_history"
    assert second.method == "PUT" and second.resource_id is None
    assert second.query == [("identifier", "a|b"), ("name", "x")]
    assert (third.resource_type, third.resource_id, third.url) == ("Observation", "9", "Observation/9")
    assert (fourth.operation, fourth.query) == ("_search", [("name", "y")])


@pytest.mark.parametrize("bundle", [
    {"resourceType": "Bundle", "type": "document"},
    {"resourceType": "Patient"},
    {"resourceType": "Bundle", "type": "batch", "entry": {"not": "a list"}},
    _bundle({"method": "TRACE", "url": "Patient"}),
    _bundle({"method": "GET"}),
    _bundle({"method": "GET", "url": "Nonsense/1"}),
    _bundle({"method": "GET", "url": "http://other.example.org/fhir/Patient/1"}),
])
def test_malformed_bundles(bundle: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        parse_entries(bundle, BASE, 10)


def test_entry_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_entries(_bundle(*[{"method": "GET", "url": "Patient/1"}] * 3), BASE, 2)
