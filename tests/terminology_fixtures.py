"""Small hand-made terminology for the terminology tests: a code system of animals in a tree,
value sets over it with each compose filter, a concept map. Expected results in the tests are
worked out from these by hand."""

from __future__ import annotations

from typing import Any

ANIMALS = "http://example.org/fhir/CodeSystem/animals"
TIERE = "http://example.org/fhir/CodeSystem/tiere"
VS = "http://example.org/fhir/ValueSet/"


def _c(code: str, display: str, children: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "display": display, **extra}
    if children:
        out["concept"] = children
    return out


CODE_SYSTEM: dict[str, Any] = {
    "resourceType": "CodeSystem", "id": "animals", "url": ANIMALS, "version": "1.0", "name": "Animals",
    "status": "active", "content": "complete", "hierarchyMeaning": "is-a",
    "property": [{"code": "legs", "type": "integer"}, {"code": "status", "type": "code"}],
    "concept": [_c("animal", "Animal", [
        _c("mammal", "Mammal", [
            _c("dog", "Dog", designation=[{"language": "de", "value": "Hund"}],
               property=[{"code": "legs", "valueInteger": 4}]),
            _c("cat", "Cat", property=[{"code": "legs", "valueInteger": 4}]),
        ]),
        _c("bird", "Bird", [
            _c("eagle", "Eagle", property=[{"code": "legs", "valueInteger": 2}]),
            _c("penguin", "Penguin", property=[{"code": "status", "valueCode": "retired"}]),
        ]),
    ])],
}


def value_set(name: str, compose: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": name, "url": VS + name, "name": name, "status": "active",
            "compose": compose}


def _filter(prop: str, op: str, value: str) -> dict[str, Any]:
    return {"include": [{"system": ANIMALS, "filter": [{"property": prop, "op": op, "value": value}]}]}


VALUE_SETS = [
    value_set("mammals", _filter("concept", "is-a", "mammal")),
    value_set("birds-below", _filter("concept", "descendent-of", "bird")),
    value_set("abc", _filter("code", "regex", "[a-c].*")),
    value_set("retired", _filter("status", "=", "retired")),
    value_set("dog-eagle", _filter("concept", "in", "dog,eagle")),
    value_set("not-birds", {"include": [{"system": ANIMALS}],
                            "exclude": [{"system": ANIMALS, "filter": [{"property": "concept", "op": "is-a",
                                                                        "value": "bird"}]}]}),
    value_set("nested", {"include": [{"valueSet": [VS + "mammals", VS + "dog-eagle"]}]}),
    value_set("pets", {"include": [{"system": ANIMALS,
                                    "concept": [{"code": "dog"}, {"code": "cat", "display": "Kitty"}]}]}),
]

CONCEPT_MAP: dict[str, Any] = {
    "resourceType": "ConceptMap", "id": "animals-tiere", "url": "http://example.org/fhir/ConceptMap/animals-tiere",
    "status": "active", "sourceUri": VS + "not-birds", "targetUri": "http://example.org/fhir/ValueSet/tiere",
    "group": [{"source": ANIMALS, "target": TIERE, "element": [
        {"code": "dog", "target": [{"code": "hund", "display": "Hund", "equivalence": "equivalent"}]},
        {"code": "eagle", "target": [{"code": "vogel", "display": "Vogel", "equivalence": "wider"}]},
        {"code": "penguin", "target": [{"equivalence": "unmatched"}]},
    ]}],
}
