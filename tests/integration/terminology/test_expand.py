"""ValueSet/$expand over HTTP: by url (folder), by stored id and url, inline; paging, filter,
designations, activeOnly; the errors. Expected contents worked out from terminology_fixtures."""

from __future__ import annotations

from typing import Any

import httpx

from tests.terminology_fixtures import ANIMALS, VS

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _item(code: str, display: str, **extra: Any) -> dict[str, Any]:
    return {"system": ANIMALS, "version": "1.0", **extra, "code": code, "display": display}


def _expansion(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    expansion = body["expansion"]
    assert expansion.pop("identifier").startswith("urn:uuid:") and expansion.pop("timestamp")
    return body


def test_expand_by_url(tx: httpx.Client) -> None:
    body = _expansion(tx.get("/ValueSet/$expand", params={"url": VS + "mammals"}))
    assert body == {"resourceType": "ValueSet", "id": "mammals", "url": VS + "mammals", "name": "mammals",
                    "status": "active", "expansion": {"total": 3, "offset": 0, "contains": [
                        _item("mammal", "Mammal"), _item("dog", "Dog"), _item("cat", "Cat")]}}


def test_filter_and_paging(tx: httpx.Client) -> None:
    body = _expansion(tx.get("/ValueSet/$expand", params={"url": VS + "not-birds", "filter": "a",
                                                          "count": "2", "offset": "1"}))
    assert body["expansion"] == {
        "total": 3, "offset": 1,  # animal, mammal, cat carry an "a"; dog does not
        "parameter": [{"name": "filter", "valueString": "a"}, {"name": "count", "valueInteger": 2},
                      {"name": "offset", "valueInteger": 1}],
        "contains": [_item("mammal", "Mammal"), _item("cat", "Cat")]}


def test_designations_language_and_active_only(tx: httpx.Client) -> None:
    body = _expansion(tx.get("/ValueSet/$expand", params={"url": VS + "pets", "includeDesignations": "true",
                                                          "displayLanguage": "de"}))
    assert body["expansion"]["contains"] == [
        _item("dog", "Hund", designation=[{"language": "de", "value": "Hund"}]), _item("cat", "Kitty")]
    body = _expansion(tx.get("/ValueSet/$expand", params={"url": VS + "birds-below", "activeOnly": "true"}))
    assert body["expansion"]["contains"] == [_item("eagle", "Eagle")]
    body = _expansion(tx.get("/ValueSet/$expand", params={"url": VS + "birds-below"}))
    assert body["expansion"]["contains"] == [_item("eagle", "Eagle"), _item("penguin", "Penguin", inactive=True)]


def test_inline_value_set(tx: httpx.Client) -> None:
    inline = {"resourceType": "ValueSet", "status": "draft", "compose": {"include": [
        {"system": ANIMALS, "filter": [{"property": "legs", "op": "=", "value": "2"}]}]}}
    response = tx.post("/ValueSet/$expand", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": inline}, {"name": "count", "valueInteger": 5}]})
    assert _expansion(response) == {"resourceType": "ValueSet", "status": "draft", "expansion": {
        "total": 1, "offset": 0, "parameter": [{"name": "count", "valueInteger": 5}],
        "contains": [_item("eagle", "Eagle")]}}


def test_stored_value_set_by_id_and_by_url(tx: httpx.Client) -> None:
    stored = {"resourceType": "ValueSet", "id": "stored-pets", "url": "http://example.org/fhir/ValueSet/stored",
              "status": "active", "compose": {"include": [{"valueSet": [VS + "mammals"]}],
                                              "exclude": [{"system": ANIMALS, "concept": [{"code": "cat"}]}]}}
    assert tx.put("/ValueSet/stored-pets", headers=FHIR_JSON, json=stored).status_code == 201
    expected = {"total": 2, "offset": 0, "contains": [_item("mammal", "Mammal"), _item("dog", "Dog")]}
    assert _expansion(tx.get("/ValueSet/stored-pets/$expand"))["expansion"] == expected
    by_url = _expansion(tx.get("/ValueSet/$expand", params={"url": "http://example.org/fhir/ValueSet/stored"}))
    assert by_url["id"] == "stored-pets" and by_url["expansion"] == expected


def _outcome(response: httpx.Response, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    return issue["code"], issue["diagnostics"]


def test_errors(tx: httpx.Client) -> None:
    assert _outcome(tx.get("/ValueSet/$expand", params={"url": "http://example.org/nope"}), 404) == (
        "not-found", "ValueSet http://example.org/nope is not known to this server")
    assert _outcome(tx.get("/ValueSet/$expand"), 400) == (
        "invalid", "$expand needs a ValueSet: an instance, 'url' or 'valueSet'")
    assert _outcome(tx.get("/ValueSet/$expand", params={"url": VS + "mammals", "count": "-1"}), 400) == (
        "invalid", "$expand: 'count' must be a non-negative integer, not '-1'")
    assert _outcome(tx.get("/ValueSet/nope/$expand"), 404)[0] == "not-found"
    assert _outcome(tx.post("/ValueSet/$expand", headers=FHIR_JSON, json={"resourceType": "Patient"}), 400) == (
        "invalid", "$expand takes a Parameters body")


def test_too_costly_and_recursive(tx: httpx.Client) -> None:
    big = {"resourceType": "ValueSet", "id": "all-types", "url": VS + "all-types", "status": "active",
           "compose": {"include": [{"system": "http://hl7.org/fhir/resource-types"}]}}
    assert tx.put("/ValueSet/all-types", headers=FHIR_JSON, json=big).status_code == 201
    assert _outcome(tx.get("/ValueSet/all-types/$expand"), 422) == (
        "too-costly", f"The expansion of {VS}all-types has more than 50 codes: too costly to return; "
                      "narrow it with 'filter'")
    # With a filter the same value set is small enough (CodeSystem, CodeSystem... "Code" words).
    narrowed = _expansion(tx.get("/ValueSet/all-types/$expand", params={"filter": "codesystem"}))
    assert [c["code"] for c in narrowed["expansion"]["contains"]] == ["CodeSystem"]
    selfish = {"resourceType": "ValueSet", "id": "selfish", "url": VS + "selfish", "status": "active",
               "compose": {"include": [{"valueSet": [VS + "selfish"]}]}}
    assert tx.put("/ValueSet/selfish", headers=FHIR_JSON, json=selfish).status_code == 201
    assert _outcome(tx.get("/ValueSet/selfish/$expand"), 422) == (
        "processing", f"ValueSet {VS}selfish includes itself: {VS}selfish -> {VS}selfish")


def test_broken_folder_files_were_left_out(tx: httpx.Client) -> None:
    assert _outcome(tx.get("/ValueSet/$expand", params={"url": VS + "loop-a"}), 404)[0] == "not-found"


def test_malformed_inline_value_sets_are_4xx(tx: httpx.Client) -> None:
    """Definitions of the wrong shape are a clear OperationOutcome, never a 500."""
    composes: list[Any] = [
        {"include": {"system": ANIMALS}}, {"include": [{"system": ANIMALS, "filter": {"op": "is-a"}}]},
        {"include": [{"system": ANIMALS, "filter": ["x"]}]}, {"include": [{"system": ANIMALS, "concept": "dog"}]},
        {"include": [{"system": ANIMALS, "concept": [{"code": 5}]}], "exclude": "all"},
        {"include": [{"valueSet": "http://x"}]}, {"include": [{"system": 7}]}, "compose",
        {"include": [{"system": ANIMALS, "filter": [{"property": "concept", "op": "is-a"}]}]},
    ]
    for compose in composes:
        inline = {"resourceType": "ValueSet", "status": "draft", "compose": compose}
        response = tx.post("/ValueSet/$expand", headers=FHIR_JSON, json={
            "resourceType": "Parameters", "parameter": [{"name": "valueSet", "resource": inline}]})
        assert response.status_code in (400, 404, 422), (compose, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
