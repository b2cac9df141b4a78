"""CodeSystem/$lookup, $validate-code (ValueSet and CodeSystem), CodeSystem/$subsumes,
ConceptMap/$translate, the served OperationDefinitions and the CapabilityStatement entries,
and token :in/:below/:above over the folder's terminology. Outputs worked out by hand from
tests/terminology_fixtures.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.terminology_fixtures import ANIMALS, CONCEPT_MAP, TIERE, VS

FHIR_JSON = {"Content-Type": "application/fhir+json"}
CM = CONCEPT_MAP["url"]


def _parameters(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Parameters"
    return list(body["parameter"])


def _outcome(response: httpx.Response, status: int) -> tuple[str, str]:
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    return issue["code"], issue["diagnostics"]


def _prop(code: str, key: str, value: Any) -> dict[str, Any]:
    return {"name": "property", "part": [{"name": "code", "valueCode": code}, {"name": "value", key: value}]}


def test_lookup(tx: httpx.Client) -> None:
    assert _parameters(tx.get("/CodeSystem/$lookup", params={"system": ANIMALS, "code": "dog"})) == [
        {"name": "name", "valueString": "Animals"}, {"name": "version", "valueString": "1.0"},
        {"name": "display", "valueString": "Dog"},
        {"name": "designation", "part": [{"name": "language", "valueCode": "de"},
                                         {"name": "value", "valueString": "Hund"}]},
        _prop("legs", "valueInteger", 4), _prop("parent", "valueCode", "mammal")]
    children = tx.get("/CodeSystem/$lookup", params={"system": ANIMALS, "code": "bird", "property": "child"})
    assert _parameters(children)[3:] == [_prop("child", "valueCode", "eagle"), _prop("child", "valueCode", "penguin")]
    coding = tx.post("/CodeSystem/$lookup", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": ANIMALS, "code": "cat"}}, {"name": "property", "valueCode": "x"}]})
    assert _parameters(coding)[2] == {"name": "display", "valueString": "Cat"} and len(_parameters(coding)) == 3


def test_lookup_of_r4_core_code(tx: httpx.Client) -> None:
    found = _parameters(tx.get("/CodeSystem/$lookup", params={
        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "provisional"}))
    assert found[:3] == [{"name": "name", "valueString": "ConditionVerificationStatus"},
                         {"name": "version", "valueString": "4.0.1"},
                         {"name": "display", "valueString": "Provisional"}]
    assert _prop("parent", "valueCode", "unconfirmed") in found


def test_lookup_errors(tx: httpx.Client) -> None:
    assert _outcome(tx.get("/CodeSystem/$lookup", params={"system": ANIMALS, "code": "zebra"}), 404) == (
        "not-found", f"Code 'zebra' is not in CodeSystem {ANIMALS}")
    assert _outcome(tx.get("/CodeSystem/$lookup", params={"system": "http://example.org/x", "code": "a"}), 404) == (
        "not-found", "CodeSystem http://example.org/x is not known to this server")
    assert _outcome(tx.get("/CodeSystem/$lookup", params={"system": ANIMALS}), 400) == (
        "invalid", "$lookup needs code or coding")


@pytest.mark.parametrize("query, expected", [
    ({"url": VS + "mammals", "system": ANIMALS, "code": "dog"},
     [{"name": "result", "valueBoolean": True}, {"name": "display", "valueString": "Dog"}]),
    ({"url": VS + "mammals", "system": ANIMALS, "code": "dog", "display": "Wolf"},
     [{"name": "result", "valueBoolean": True},
      {"name": "message", "valueString": f"Warning: the display 'Wolf' is not a display of '{ANIMALS}|dog' "
                                         "(expected 'Dog')"},
      {"name": "display", "valueString": "Dog"}]),
    ({"url": VS + "mammals", "system": ANIMALS, "code": "dog", "display": "Hund"},
     [{"name": "result", "valueBoolean": True}, {"name": "display", "valueString": "Dog"}]),
    ({"url": VS + "mammals", "system": ANIMALS, "code": "eagle"},
     [{"name": "result", "valueBoolean": False},
      {"name": "message", "valueString": f"The code '{ANIMALS}|eagle' is not in the value set {VS}mammals"}]),
    ({"url": VS + "not-birds", "code": "cat"},
     [{"name": "result", "valueBoolean": True}, {"name": "display", "valueString": "Cat"}]),
])
def test_value_set_validate_code(tx: httpx.Client, query: dict[str, str], expected: list[dict[str, Any]]) -> None:
    assert _parameters(tx.get("/ValueSet/$validate-code", params=query)) == expected


def test_validate_codeable_concept_and_code_system(tx: httpx.Client) -> None:
    concept = {"coding": [{"system": ANIMALS, "code": "eagle"}, {"system": ANIMALS, "code": "cat"}]}
    response = tx.post("/ValueSet/$validate-code", headers=FHIR_JSON, json={"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": VS + "mammals"}, {"name": "codeableConcept", "valueCodeableConcept": concept}]})
    assert _parameters(response) == [{"name": "result", "valueBoolean": True},
                                     {"name": "display", "valueString": "Cat"}]
    assert _parameters(tx.get("/CodeSystem/$validate-code", params={"url": ANIMALS, "code": "penguin"})) == [
        {"name": "result", "valueBoolean": True}, {"name": "display", "valueString": "Penguin"}]
    assert _parameters(tx.get("/CodeSystem/$validate-code", params={"url": ANIMALS, "code": "zebra"})) == [
        {"name": "result", "valueBoolean": False},
        {"name": "message", "valueString": f"The code 'zebra' is not in the code system {ANIMALS}"}]
    assert _outcome(tx.get("/ValueSet/$validate-code", params={"url": VS + "mammals"}), 400) == (
        "invalid", "$validate-code needs code or coding or codeableConcept")


@pytest.mark.parametrize("a, b, outcome", [
    ("animal", "dog", "subsumes"), ("dog", "mammal", "subsumed-by"), ("dog", "dog", "equivalent"),
    ("dog", "eagle", "not-subsumed")])
def test_subsumes(tx: httpx.Client, a: str, b: str, outcome: str) -> None:
    response = tx.get("/CodeSystem/$subsumes", params={"system": ANIMALS, "codeA": a, "codeB": b})
    assert _parameters(response) == [{"name": "outcome", "valueCode": outcome}]


def test_subsumes_errors(tx: httpx.Client) -> None:
    assert _outcome(tx.get("/CodeSystem/$subsumes", params={"system": ANIMALS, "codeA": "zebra", "codeB": "dog"}),
                    422) == ("code-invalid", f"Code 'zebra' is not in CodeSystem {ANIMALS}")
    assert _outcome(tx.get("/CodeSystem/$subsumes", params={"system": ANIMALS, "codeA": "dog"}), 400) == (
        "invalid", "$subsumes needs codeB or codingB")


def test_translate(tx: httpx.Client) -> None:
    hund = [{"name": "result", "valueBoolean": True}, {"name": "match", "part": [
        {"name": "equivalence", "valueCode": "equivalent"},
        {"name": "concept", "valueCoding": {"system": TIERE, "code": "hund", "display": "Hund"}},
        {"name": "source", "valueUri": CM}]}]
    assert _parameters(tx.get("/ConceptMap/$translate", params={"url": CM, "system": ANIMALS, "code": "dog"})) == hund
    assert _parameters(tx.get("/ConceptMap/$translate", params={"system": ANIMALS, "code": "dog"})) == hund
    assert _parameters(tx.get("/ConceptMap/$translate", params={"url": CM, "system": ANIMALS, "code": "penguin"})) == [
        {"name": "result", "valueBoolean": False},
        {"name": "message", "valueString": f"No mapping found for '{ANIMALS}|penguin'"},
        {"name": "match", "part": [{"name": "equivalence", "valueCode": "unmatched"},
                                   {"name": "source", "valueUri": CM}]}]
    reverse = tx.get("/ConceptMap/$translate", params={"url": CM, "system": TIERE, "code": "vogel", "reverse": "true"})
    assert _parameters(reverse) == [{"name": "result", "valueBoolean": True}, {"name": "match", "part": [
        {"name": "equivalence", "valueCode": "narrower"},
        {"name": "concept", "valueCoding": {"system": ANIMALS, "code": "eagle"}},
        {"name": "source", "valueUri": CM}]}]
    assert _outcome(tx.get("/ConceptMap/$translate", params={"url": "http://example.org/none", "system": ANIMALS,
                                                            "code": "dog"}), 404) == (
        "not-found", "ConceptMap http://example.org/none is not known to this server")


def test_operation_definitions_served_and_listed(tx: httpx.Client) -> None:
    response = tx.get("/OperationDefinition/ValueSet-expand")
    assert response.status_code == 200
    body = response.json()
    assert (body["resourceType"], body["url"], body["code"]) == (
        "OperationDefinition", "http://hl7.org/fhir/OperationDefinition/ValueSet-expand", "expand")
    resources = tx.get("/metadata").json()["rest"][0]["resource"]
    operations = next(r for r in resources if r["type"] == "CodeSystem")["operation"]
    subsumes = {"name": "subsumes", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes"}
    assert subsumes in operations
    for name in ("ValueSet-validate-code", "CodeSystem-lookup", "CodeSystem-validate-code", "ConceptMap-translate"):
        assert tx.get(f"/OperationDefinition/{name}").json()["id"] == name


def test_token_modifiers_over_folder_terminology(tx: httpx.Client) -> None:
    for code in ("dog", "cat", "eagle"):
        observation = {"resourceType": "Observation", "id": f"obs-{code}", "status": "final",
                       "code": {"coding": [{"system": ANIMALS, "code": code}]}}
        assert tx.put(f"/Observation/obs-{code}", headers=FHIR_JSON, json=observation).status_code == 201

    def ids(query: str) -> list[str]:
        response = tx.get(f"/Observation?{query}")
        assert response.status_code == 200, response.text
        return sorted(e["resource"]["id"] for e in response.json().get("entry", []))
    assert ids(f"code:in={VS}mammals") == ["obs-cat", "obs-dog"]
    assert ids(f"code:not-in={VS}mammals") == ["obs-eagle"]
    assert ids(f"code:below={ANIMALS}|bird") == ["obs-eagle"]
    assert ids(f"code:above={ANIMALS}|dog") == ["obs-dog"]
    assert ids(f"code:below={ANIMALS}|animal") == ["obs-cat", "obs-dog", "obs-eagle"]
    # A ValueSet stored in the server (imports resolved process-wide): birds-below less penguin = eagle.
    stored = {"resourceType": "ValueSet", "id": "stored-birds", "url": "http://example.org/fhir/ValueSet/stored-birds",
              "status": "active", "compose": {"include": [{"valueSet": [VS + "birds-below"]}],
                                              "exclude": [{"system": ANIMALS, "concept": [{"code": "penguin"}]}]}}
    assert tx.put("/ValueSet/stored-birds", headers=FHIR_JSON, json=stored).status_code == 201
    assert ids("code:in=http://example.org/fhir/ValueSet/stored-birds") == ["obs-eagle"]
    assert ids(f"code:in=http://example.org/fhir/ValueSet/stored-birds,{VS}pets") == ["obs-cat", "obs-dog",
                                                                                        "obs-eagle"]
    # A stored ValueSet importing another stored one (and that one a third): the chain is followed.
    for vid, compose in (("stored-outer", {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/stored-middle"]}]}),
                         ("stored-middle", {"include": [{"valueSet": ["http://example.org/fhir/ValueSet/stored-birds"]},
                                                        {"system": ANIMALS, "concept": [{"code": "cat"}]}]})):
        assert tx.put(f"/ValueSet/{vid}", headers=FHIR_JSON, json={
            "resourceType": "ValueSet", "id": vid, "url": f"http://example.org/fhir/ValueSet/{vid}",
            "status": "active", "compose": compose}).status_code == 201
    assert ids("code:in=http://example.org/fhir/ValueSet/stored-outer") == ["obs-cat", "obs-eagle"]
    assert ids("code:not-in=http://example.org/fhir/ValueSet/stored-outer") == ["obs-dog"]
    unknown = tx.get("/Observation?code:in=http://example.org/fhir/ValueSet/none")
    assert unknown.status_code == 400 and unknown.json()["issue"][0]["diagnostics"] == (
        "ValueSet http://example.org/fhir/ValueSet/none cannot be used for :in/:not-in: "
        "ValueSet http://example.org/fhir/ValueSet/none is not known to this server")
