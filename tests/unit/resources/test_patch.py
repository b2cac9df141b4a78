"""JSON Patch and FHIRPath Patch (http.html#patch, fhirpatch.html), expected results by hand."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.errors import BadRequest, FhirError, Unprocessable
from fhir_server.resources.patch import apply_fhirpath_patch, apply_json_patch

PATIENT: dict[str, Any] = {
    "resourceType": "Patient", "id": "p1", "active": True, "birthDate": "1970-01-01",
    "name": [{"use": "official", "family": "Smith", "given": ["Ann", "Beth"]}, {"use": "nickname", "given": ["Annie"]}],
    "telecom": [{"system": "phone", "value": "555-1"}, {"system": "email", "value": "a@x.org"}],
    "deceasedBoolean": False,
}


def _op(kind: str, path: str, **parts: dict[str, Any]) -> dict[str, Any]:
    return {"name": "operation", "part": [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path},
                                          *({"name": n, **v} for n, v in parts.items())]}


def _fp(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(ops)}


def test_json_patch_all_operations() -> None:
    ops = [{"op": "test", "path": "/active", "value": True},
           {"op": "replace", "path": "/active", "value": False},
           {"op": "add", "path": "/name/0/given/-", "value": "Cat"},
           {"op": "remove", "path": "/birthDate"},
           {"op": "copy", "from": "/name/0/family", "path": "/name/1/family"},
           {"op": "move", "from": "/telecom/1", "path": "/telecom/0"}]
    out = apply_json_patch(PATIENT, ops)
    assert out["active"] is False and "birthDate" not in out
    assert out["name"][0]["given"] == ["Ann", "Beth", "Cat"] and out["name"][1]["family"] == "Smith"
    assert [t["system"] for t in out["telecom"]] == ["email", "phone"]


@pytest.mark.parametrize(("ops", "error"), [
    ({"op": "add"}, BadRequest),
    ([{"op": "explode", "path": "/a"}], BadRequest),
    ([{"path": "/a"}], BadRequest),
    ([{"op": "test", "path": "/active", "value": False}], Unprocessable),
    ([{"op": "remove", "path": "/nothing/here"}], Unprocessable),
    ([{"op": "replace", "path": "/id", "value": "p2"}], Unprocessable),
    ([{"op": "replace", "path": "/resourceType", "value": "Group"}], Unprocessable),
])
def test_json_patch_errors(ops: Any, error: type[FhirError]) -> None:
    with pytest.raises(error):
        apply_json_patch(PATIENT, ops)


def test_fhirpath_add_to_single_and_repeating() -> None:
    out = apply_fhirpath_patch(PATIENT, _fp(
        _op("add", "Patient", name={"valueString": "gender"}, value={"valueCode": "female"}),
        _op("add", "Patient", name={"valueString": "identifier"},
            value={"valueIdentifier": {"system": "urn:x", "value": "1"}}),
        _op("add", "Patient.name[1]", name={"valueString": "given"}, value={"valueString": "Nan"})))
    assert out["gender"] == "female"
    assert out["identifier"] == [{"system": "urn:x", "value": "1"}]  # Patient.identifier repeats: a list
    assert out["name"][1]["given"] == ["Annie", "Nan"]


def test_fhirpath_add_to_existing_single_element_fails() -> None:
    with pytest.raises(Unprocessable):
        apply_fhirpath_patch(PATIENT, _fp(_op("add", "Patient", name={"valueString": "birthDate"},
                                               value={"valueDate": "2000-01-01"})))


def test_fhirpath_insert_and_bounds() -> None:
    out = apply_fhirpath_patch(PATIENT, _fp(_op("insert", "Patient.name[0].given", index={"valueInteger": 1},
                                                value={"valueString": "Zed"})))
    assert out["name"][0]["given"] == ["Ann", "Zed", "Beth"]
    with pytest.raises(Unprocessable):
        apply_fhirpath_patch(PATIENT, _fp(_op("insert", "Patient.name[0].given", index={"valueInteger": 3},
                                               value={"valueString": "Zed"})))


def test_fhirpath_delete_single_none_and_many() -> None:
    out = apply_fhirpath_patch(PATIENT, _fp(_op("delete", "Patient.telecom.where(system = 'phone')")))
    assert out["telecom"] == [{"system": "email", "value": "a@x.org"}]
    assert apply_fhirpath_patch(PATIENT, _fp(_op("delete", "Patient.gender"))) == PATIENT  # no match: no-op
    with pytest.raises(Unprocessable):
        apply_fhirpath_patch(PATIENT, _fp(_op("delete", "Patient.telecom")))
    emptied = apply_fhirpath_patch(PATIENT, _fp(_op("delete", "Patient.name[1].given[0]")))
    assert emptied["name"] == [PATIENT["name"][0], {"use": "nickname"}]


def test_fhirpath_replace_primitive_complex_and_choice() -> None:
    out = apply_fhirpath_patch(PATIENT, _fp(
        _op("replace", "Patient.birthDate", value={"valueDate": "1971-02-03"}),
        _op("replace", "Patient.name.where(use = 'nickname')",
            value={"valueHumanName": {"use": "nickname", "given": ["Bee"]}}),
        _op("replace", "Patient.deceased", value={"valueBoolean": True}),
        _op("replace", "Patient.telecom.first()", value={"name": "value", "part": [
            {"name": "system", "valueCode": "phone"}, {"name": "value", "valueString": "555-9"}]})))
    assert out["birthDate"] == "1971-02-03"
    assert out["name"][1] == {"use": "nickname", "given": ["Bee"]}
    assert out["deceasedBoolean"] is True
    assert out["telecom"][0] == {"system": "phone", "value": "555-9"}


def test_fhirpath_move() -> None:
    out = apply_fhirpath_patch(PATIENT, _fp(_op("move", "Patient.name", source={"valueInteger": 1},
                                                destination={"valueInteger": 0})))
    assert [n["use"] for n in out["name"]] == ["nickname", "official"]


@pytest.mark.parametrize("parameters", [
    {"resourceType": "Patient"},
    _fp({"name": "operation", "part": [{"name": "type", "valueCode": "add"}]}),
    _fp(_op("explode", "Patient.name")),
    _fp(_op("replace", "Patient.active")),
    _fp(_op("replace", "Patient.name.exists()", value={"valueBoolean": True})),
])
def test_fhirpath_malformed(parameters: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        apply_fhirpath_patch(PATIENT, parameters)


def test_inputs_are_not_mutated() -> None:
    before = copy.deepcopy(PATIENT)
    apply_fhirpath_patch(PATIENT, _fp(_op("delete", "Patient.name[0]")))
    apply_json_patch(PATIENT, [{"op": "remove", "path": "/name/0"}])
    assert PATIENT == before
