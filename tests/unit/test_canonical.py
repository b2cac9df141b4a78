"""Canonical key order (fhir/canonical.py): resourceType first, StructureDefinition order at every
level (datatypes, backbone elements, contentReference, choice types, nested resources), ``_x``
after ``x``, unknown keys last and sorted. Expected orders read off the R4 definitions by hand."""

from __future__ import annotations

from typing import Any

import orjson

from fhir_server.fhir.canonical import canonical


def _keys(node: dict[str, Any]) -> list[str]:
    return list(node)


def test_patient_datatypes_and_primitive_shadows() -> None:
    patient = {
        "gender": "female", "zz-unknown": 1, "aa-unknown": 2,
        "name": [{"given": ["Ann"], "family": "Order", "use": "official"}],
        "_birthDate": {"extension": [{"valueDateTime": "1970-01-02T10:00:00Z", "url": "http://x/birthTime"}]},
        "birthDate": "1970-01-02", "active": True, "identifier": [{"value": "o1", "system": "urn:order"}],
        "meta": {"tag": [{"code": "t"}], "lastUpdated": "2020-01-01T00:00:00Z", "versionId": "3"},
        "contact": [{"gender": "male", "relationship": [{"text": "x"}]}], "id": "p", "resourceType": "Patient",
    }
    out = canonical(patient)
    assert _keys(out) == ["resourceType", "id", "meta", "identifier", "active", "name", "gender", "birthDate",
                          "_birthDate", "contact", "aa-unknown", "zz-unknown"]
    assert _keys(out["meta"]) == ["versionId", "lastUpdated", "tag"]
    assert _keys(out["name"][0]) == ["use", "family", "given"]
    assert _keys(out["identifier"][0]) == ["system", "value"]
    assert _keys(out["_birthDate"]["extension"][0]) == ["url", "valueDateTime"]
    assert _keys(out["contact"][0]) == ["relationship", "gender"]
    assert out == patient  # same content, only the order differs


def test_choice_types_content_reference_and_nested_resources() -> None:
    observation = {"valueQuantity": {"unit": "g", "value": 1}, "code": {"text": "c"}, "status": "final",
                   "resourceType": "Observation",
                   "contained": [{"name": [{"family": "X"}], "resourceType": "Patient", "id": "c1"}]}
    out = canonical(observation)
    assert _keys(out) == ["resourceType", "contained", "status", "code", "valueQuantity"]
    assert _keys(out["valueQuantity"]) == ["value", "unit"]
    assert _keys(out["contained"][0]) == ["resourceType", "id", "name"]
    inner = {"type": "string", "text": "q", "linkId": "1.1"}
    questionnaire = {"resourceType": "Questionnaire", "status": "draft",
                     "item": [{"type": "group", "linkId": "1", "item": [inner]}]}
    item = canonical(questionnaire)["item"][0]
    assert _keys(item) == ["linkId", "type", "item"] and _keys(item["item"][0]) == ["linkId", "text", "type"]
    bundle = {"entry": [{"resource": {"status": "final", "resourceType": "Observation", "code": {"text": "c"}},
                         "fullUrl": "urn:uuid:1"}], "type": "collection", "resourceType": "Bundle"}
    out = canonical(bundle)
    assert _keys(out) == ["resourceType", "type", "entry"]
    assert _keys(out["entry"][0]) == ["fullUrl", "resource"]
    assert _keys(out["entry"][0]["resource"]) == ["resourceType", "status", "code"]


def test_unknown_resource_type_left_alone() -> None:
    thing = {"b": 1, "resourceType": "NotAType", "a": 2}
    assert _keys(canonical(thing)) == ["b", "resourceType", "a"]


def test_synthea_resources_keep_their_content() -> None:
    """Real data (the shared Synthea sample; skipped when absent): same content, resourceType
    first, and canonical twice is canonical once (so a rewrite stores the same bytes)."""
    from tests.synthea import read_bundle, synthea_files

    resources = [e["resource"] for e in read_bundle(synthea_files(1)[0])["entry"]]
    assert len(resources) > 100
    for resource in resources:
        once = canonical(resource)
        assert once == resource and next(iter(once)) == "resourceType"
        assert orjson.dumps(canonical(once)) == orjson.dumps(once)
