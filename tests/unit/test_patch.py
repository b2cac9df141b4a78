"""JSON Patch (http.html#patch, RFC 6902) and FHIRPath Patch (fhirpatch.html) on plain dicts.

Expected results are worked out by hand. The SPEC_CASES are the FHIRPath Patch cases of the
FHIR test suite (FHIR/fhir-test-cases r5/patch/fhir-path-tests.xml, the cases behind the spec's
examples), rewritten as JSON.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_server.errors import BadRequest, FhirError, Unprocessable
from fhir_server.resources.patch import PatchError, apply_fhirpath_patch, apply_json_patch

BIRTH_TIME = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                             "valueDateTime": "1974-12-25T14:35:45-05:00"}]}
PATIENT: dict[str, Any] = {
    "resourceType": "Patient", "id": "p1", "active": True,
    "identifier": [{"system": "urn:mrn", "value": "123"}, {"system": "urn:ssn", "value": "999"}],
    "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
             {"use": "usual", "given": ["Jim"]}],
    "gender": "male", "birthDate": "1974-12-25", "_birthDate": BIRTH_TIME, "deceasedBoolean": False,
}
OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "BP"},
    "valueQuantity": {"value": 120, "unit": "mmHg"},
    "component": [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120}},
                  {"code": {"text": "note"}, "valueString": "sitting"}],
}


def op(kind: str, path: str, **parts: dict[str, Any]) -> dict[str, Any]:
    """One FHIRPath Patch operation; keyword arguments are the other parts (name, value, index...)."""
    return {"name": "operation", "part": [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path},
                                          *({"name": name, **body} for name, body in parts.items())]}


def params(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "example", **elements}


def ident(n: int) -> dict[str, str]:
    return {"system": "http://example.org", "value": f"value {n}"}


def fhirpath_error(resource: dict[str, Any], *operations: dict[str, Any]) -> PatchError:
    with pytest.raises(PatchError) as caught:
        apply_fhirpath_patch(resource, params(*operations))
    return caught.value


def json_error(resource: dict[str, Any], document: Any) -> PatchError:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(resource, document)
    return caught.value


# --- PatchError ---------------------------------------------------------------------------------

def test_patch_error_carries_status_code_expression_and_renders_as_fhir_error() -> None:
    error = PatchError("no such element", 400, "not-supported", ["Patient.x"])
    assert (error.status, error.code, error.expression, str(error)) == (400, "not-supported", ["Patient.x"],
                                                                         "no such element")
    assert isinstance(error, BadRequest) and isinstance(error, FhirError)
    assert error.outcome() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": "not-supported", "diagnostics": "no such element", "expression": ["Patient.x"]}]}
    default = PatchError("cannot apply")
    assert (default.status, default.code, default.expression) == (422, "processing", [])
    assert isinstance(default, Unprocessable)


# --- JSON Patch ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("operations", "changed"), [
    ([{"op": "add", "path": "/maritalStatus", "value": {"text": "M"}}], {"maritalStatus": {"text": "M"}}),
    ([{"op": "add", "path": "/name/1/given/-", "value": "Jimmy"}],
     {"name": [PATIENT["name"][0], {"use": "usual", "given": ["Jim", "Jimmy"]}]}),
    ([{"op": "add", "path": "/identifier/0", "value": {"value": "0"}}],
     {"identifier": [{"value": "0"}, *PATIENT["identifier"]]}),
    ([{"op": "replace", "path": "/active", "value": False}], {"active": False}),
    ([{"op": "move", "from": "/name/1", "path": "/name/0"}], {"name": [PATIENT["name"][1], PATIENT["name"][0]]}),
    ([{"op": "copy", "from": "/name/0/family", "path": "/name/1/family"}],
     {"name": [PATIENT["name"][0], {"use": "usual", "given": ["Jim"], "family": "Chalmers"}]}),
    ([{"op": "test", "path": "/gender", "value": "male"}, {"op": "replace", "path": "/gender", "value": "other"}],
     {"gender": "other"}),
    ([{"op": "test", "path": "/id", "value": "p1"}], {}),
    ([], {}),
])
def test_json_patch_operations(operations: list[dict[str, Any]], changed: dict[str, Any]) -> None:
    assert apply_json_patch(PATIENT, operations) == {**PATIENT, **changed}


def test_json_patch_remove() -> None:
    out = apply_json_patch(PATIENT, [{"op": "remove", "path": "/birthDate"}, {"op": "remove", "path": "/name/1"}])
    expected = {k: v for k, v in PATIENT.items() if k != "birthDate"}
    assert out == {**expected, "name": [PATIENT["name"][0]]}


def test_json_patch_failed_test_is_422_and_nothing_applies() -> None:
    before = copy.deepcopy(PATIENT)
    error = json_error(PATIENT, [{"op": "replace", "path": "/active", "value": False},
                                 {"op": "test", "path": "/gender", "value": "female"}])
    assert (error.status, error.code, error.expression) == (422, "processing", ["Patient.gender"])
    assert "test" in str(error) and PATIENT == before


@pytest.mark.parametrize(("operation", "expression"), [
    ({"op": "remove", "path": "/telecom"}, ["Patient.telecom"]),
    ({"op": "replace", "path": "/name/7/family", "value": "X"}, ["Patient.name[7].family"]),
    ({"op": "add", "path": "/name/9", "value": {"family": "X"}}, ["Patient.name[9]"]),
    ({"op": "move", "from": "/nothing", "path": "/else"}, ["Patient.else"]),
    ({"op": "replace", "path": "birthDate", "value": "2000"}, []),
])
def test_json_patch_bad_pointer_is_422(operation: dict[str, Any], expression: list[str]) -> None:
    error = json_error(PATIENT, [operation])
    assert (error.status, error.code, error.expression) == (422, "processing", expression)


@pytest.mark.parametrize("document", [
    {"op": "add", "path": "/active", "value": False}, "[]", None,
    [{"path": "/active"}], [{"op": "frob", "path": "/active"}], [{"op": "remove"}],
    [{"op": "add", "path": "/active"}], [{"op": "move", "path": "/active"}], [{"op": "remove", "path": 3}],
    ["remove /active"],
])
def test_json_patch_malformed_is_400(document: Any) -> None:
    error = json_error(PATIENT, document)
    assert (error.status, error.code) == (400, "invalid")


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "/id", "value": "p2"},
    {"op": "remove", "path": "/id"},
    {"op": "move", "from": "/id", "path": "/language"},
    {"op": "replace", "path": "/resourceType", "value": "Group"},
    {"op": "replace", "path": "", "value": {"resourceType": "Patient", "id": "other"}},
])
def test_json_patch_may_not_change_id_or_type(operation: dict[str, Any]) -> None:
    error = json_error(PATIENT, [operation])
    assert (error.status, error.code) == (422, "processing")
    assert "may not change" in str(error)


def test_json_patch_leaves_input_and_document_alone() -> None:
    before = copy.deepcopy(PATIENT)
    document = [{"op": "add", "path": "/maritalStatus", "value": {"text": "M"}}]
    out = apply_json_patch(PATIENT, document)
    out["maritalStatus"]["text"] = "changed"
    out["name"][0]["given"].append("Changed")
    assert PATIENT == before and document[0]["value"] == {"text": "M"}


# --- FHIRPath Patch: the FHIR test-suite cases ---------------------------------------------------

CONTACT = {"name": {"text": "a name"}, "gender": "male"}
SPEC_CASES: list[tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = [
    ("no difference", {"birthDate": "1920-01-01"}, [], {"birthDate": "1920-01-01"}),
    ("replace primitive", {"birthDate": "1920-01-01"},
     [op("replace", "Patient.birthDate", value={"valueDate": "1930-01-01"})], {"birthDate": "1930-01-01"}),
    ("delete primitive", {"birthDate": "1920-01-01"}, [op("delete", "Patient.birthDate")], {}),
    ("add primitive", {}, [op("add", "Patient", name={"valueString": "birthDate"}, value={"valueDate": "1930-01-01"})],
     {"birthDate": "1930-01-01"}),
    ("replace nested primitive 1", {"contact": [CONTACT]},
     [op("replace", "Patient.contact[0].gender", value={"valueCode": "female"})],
     {"contact": [{"name": {"text": "a name"}, "gender": "female"}]}),
    ("replace nested primitive 2", {"contact": [CONTACT]},
     [op("replace", "Patient.contact[0].name.text", value={"valueString": "the name"})],
     {"contact": [{"name": {"text": "the name"}, "gender": "male"}]}),
    ("delete nested primitive 1", {"contact": [CONTACT]}, [op("delete", "Patient.contact[0].gender")],
     {"contact": [{"name": {"text": "a name"}}]}),
    ("delete nested primitive 2", {"contact": [CONTACT]}, [op("delete", "Patient.contact[0].name.text")],
     {"contact": [{"gender": "male"}]}),
    ("add nested primitive", {"contact": [{"name": {"text": "a name"}}]},
     [op("add", "Patient.contact[0]", name={"valueString": "gender"}, value={"valueCode": "male"})],
     {"contact": [CONTACT]}),
    ("add complex", {}, [op("add", "Patient", name={"valueString": "maritalStatus"},
                            value={"valueCodeableConcept": {"text": "married"}})],
     {"maritalStatus": {"text": "married"}}),
    ("replace complex", {"maritalStatus": {"id": "1", "text": "married"}},
     [op("replace", "Patient.maritalStatus", value={"valueCodeableConcept": {"id": "2", "text": "not married"}})],
     {"maritalStatus": {"id": "2", "text": "not married"}}),
    ("delete complex", {"maritalStatus": {"text": "married"}}, [op("delete", "Patient.maritalStatus")], {}),
    ("add anonymous type", {}, [op("add", "Patient", name={"valueString": "contact"},
                                   value={"part": [{"name": "name", "valueHumanName": {"text": "a name"}}]})],
     {"contact": [{"name": {"text": "a name"}}]}),
    ("delete anonymous type", {"contact": [{"name": {"text": "a name"}}]}, [op("delete", "Patient.contact[0]")], {}),
    ("list contents changed", {"identifier": [{"id": "a", **ident(1)}, {"id": "b", **ident(2)}]},
     [op("replace", "Patient.identifier[0].value", value={"valueString": "value 2"}),
      op("replace", "Patient.identifier[1].value", value={"valueString": "value 1"})],
     {"identifier": [{"id": "a", **ident(2)}, {"id": "b", **ident(1)}]}),
    ("insert at the end", {"identifier": [ident(1), ident(2)]},
     [op("insert", "Patient.identifier", index={"valueInteger": 2}, value={"valueIdentifier": ident(3)})],
     {"identifier": [ident(1), ident(2), ident(3)]}),
    ("insert in list 1", {"identifier": [ident(1), ident(2)]},
     [op("insert", "Patient.identifier", index={"valueInteger": 1}, value={"valueIdentifier": ident(3)})],
     {"identifier": [ident(1), ident(3), ident(2)]}),
    ("insert in list 2", {"identifier": [ident(1), ident(2)]},
     [op("insert", "Patient.identifier", index={"valueInteger": 0}, value={"valueIdentifier": ident(3)})],
     {"identifier": [ident(3), ident(1), ident(2)]}),
    *[(f"delete from list {n}", {"identifier": [ident(1), ident(2), ident(3)]},
       [op("delete", f"Patient.identifier[{n}]")], {"identifier": [ident(i) for i in (1, 2, 3) if i != n + 1]})
      for n in range(3)],
    *[(f"reorder list {n}", {"identifier": [ident(i) for i in (1, 2, 3, 4)]},
       [op("move", "Patient.identifier", source={"valueInteger": s}, destination={"valueInteger": d})
        for s, d in moves],
       {"identifier": [ident(i) for i in order]})
      for n, moves, order in [(1, [(3, 1)], (1, 4, 2, 3)), (2, [(3, 0)], (4, 1, 2, 3)), (3, [(3, 2)], (1, 2, 4, 3)),
                              (4, [(0, 3)], (2, 3, 4, 1)), (5, [(1, 0), (2, 1)], (2, 3, 1, 4)),
                              (6, [(3, 0), (3, 1), (3, 2)], (4, 3, 2, 1))]],
    ("add to a missing list", {}, [op("add", "Patient", name={"valueString": "identifier"},
                                      value={"valueIdentifier": ident(3)})], {"identifier": [ident(3)]}),
]


@pytest.mark.parametrize(("before", "operations", "after"), [case[1:] for case in SPEC_CASES],
                         ids=[case[0] for case in SPEC_CASES])
def test_fhirpath_patch_spec_cases(before: dict[str, Any], operations: list[dict[str, Any]],
                                   after: dict[str, Any]) -> None:
    assert apply_fhirpath_patch(patient(**before), params(*operations)) == patient(**after)


def test_fhirpath_patch_spec_case_operation_on_missing_element() -> None:
    error = fhirpath_error(patient(identifier=[{"use": "official", "value": "123"}]),
                           op("add", "Patient.identifier.where(use = 'official').period", name={"valueString": "end"},
                              value={"valueDate": "2021-12-01"}))
    assert (error.status, error.code) == (422, "processing")
    assert error.expression == ["Patient.identifier.where(use = 'official').period"]


# --- FHIRPath Patch: each operation -------------------------------------------------------------

def test_add_appends_to_repeating_elements() -> None:
    out = apply_fhirpath_patch(PATIENT, params(
        op("add", "Patient", name={"valueString": "identifier"}, value={"valueIdentifier": {"value": "7"}}),
        op("add", "Patient.name[1]", name={"valueString": "given"}, value={"valueString": "Jimmy"}),
        op("add", "Patient.name.where(use = 'usual')", name={"valueString": "family"}, value={"valueString": "C"})))
    assert out["identifier"] == [*PATIENT["identifier"], {"value": "7"}]
    assert out["name"][1] == {"use": "usual", "given": ["Jim", "Jimmy"], "family": "C"}


def test_add_single_element_and_choice_element() -> None:
    out = apply_fhirpath_patch(PATIENT, params(
        op("add", "Patient", name={"valueString": "maritalStatus"}, value={"valueCodeableConcept": {"text": "S"}}),
        op("add", "Patient", name={"valueString": "multipleBirth"}, value={"valueInteger": 2})))
    assert out == {**PATIENT, "maritalStatus": {"text": "S"}, "multipleBirthInteger": 2}


@pytest.mark.parametrize(("path", "name", "value"), [
    ("Patient", "gender", {"valueCode": "female"}),  # exists and does not repeat
    ("Patient", "deceased", {"valueDateTime": "2020-01-01"}),  # deceasedBoolean is already there
    ("Patient", "favouriteColour", {"valueString": "red"}),  # no such element in R4
    ("Patient.name", "text", {"valueString": "x"}),  # two names: the container must be one element
    ("Patient.contact", "gender", {"valueCode": "male"}),  # no contact at all
    ("Patient.gender", "text", {"valueString": "x"}),  # a primitive holds only id and extension
])
def test_add_refusals_are_422(path: str, name: str, value: dict[str, Any]) -> None:
    error = fhirpath_error(PATIENT, op("add", path, name={"valueString": name}, value=value))
    assert (error.status, error.code, error.expression) == (422, "processing", [path])


@pytest.mark.parametrize(("index", "given"), [
    (0, ["Pete", "Peter", "James"]), (1, ["Peter", "Pete", "James"]), (2, ["Peter", "James", "Pete"]),
])
def test_insert_at_index(index: int, given: list[str]) -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("insert", "Patient.name[0].given", index={"valueInteger": index},
                                                  value={"valueString": "Pete"})))
    assert out["name"][0]["given"] == given


def test_insert_into_a_missing_list_creates_it() -> None:
    telecom = {"system": "phone", "value": "555"}
    out = apply_fhirpath_patch(PATIENT, params(op("insert", "Patient.telecom", index={"valueInteger": 0},
                                                  value={"valueContactPoint": telecom})))
    assert out == {**PATIENT, "telecom": [telecom]}


@pytest.mark.parametrize(("path", "index", "status"), [
    ("Patient.name[0].given", 3, 422),  # past the end (2 items: 0..2 allowed)
    ("Patient.name[0].given", -1, 422),
    ("Patient.telecom", 1, 422),  # absent list: only index 0
    ("Patient.birthDate", 0, 422),  # does not repeat
    ("Patient.name.given", 0, 422),  # two lists
    ("Patient.identifier.where(system = 'urn:mrn')", 0, 400),  # a filter is not a list
])
def test_insert_refusals(path: str, index: int, status: int) -> None:
    error = fhirpath_error(PATIENT, op("insert", path, index={"valueInteger": index}, value={"valueString": "x"}))
    assert error.status == status


def test_delete_one_match_removes_it() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("delete", "Patient.identifier.where(system = 'urn:ssn')")))
    assert out["identifier"] == [{"system": "urn:mrn", "value": "123"}]


def test_delete_no_match_is_a_no_op() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("delete", "Patient.telecom"),
                                               op("delete", "Patient.name.where(use = 'maiden')")))
    assert out == PATIENT and out is not PATIENT


@pytest.mark.parametrize("path", ["Patient.identifier", "Patient.name.given"])
def test_delete_many_matches_is_422(path: str) -> None:
    error = fhirpath_error(PATIENT, op("delete", path))
    assert (error.status, error.code) == (422, "processing")


def test_delete_tidies_primitive_extensions_and_empty_containers() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("delete", "Patient.birthDate"),
                                               op("delete", "Patient.name[1].given")))
    assert "birthDate" not in out and "_birthDate" not in out
    assert out["name"] == [PATIENT["name"][0], {"use": "usual"}]
    with_ids = {**PATIENT, "name": [{"given": ["Peter", "James"], "_given": [{"id": "g1"}, {"id": "g2"}]}]}
    out = apply_fhirpath_patch(with_ids, params(op("delete", "Patient.name.given.where($this = 'Peter')")))
    assert out["name"] == [{"given": ["James"], "_given": [{"id": "g2"}]}]


def test_replace_primitive_drops_the_old_elements_extensions() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("replace", "Patient.birthDate", value={"valueDate": "1974-12-26"}),
                                               op("replace", "Patient.name.last().given[0]",
                                                  value={"valueString": "Jimbo"})))
    assert out["birthDate"] == "1974-12-26" and "_birthDate" not in out
    assert out["name"][1] == {"use": "usual", "given": ["Jimbo"]}


def test_replace_complex_as_datatype_and_as_parts() -> None:
    out = apply_fhirpath_patch(PATIENT, params(
        op("replace", "Patient.name.where(use = 'usual')",
           value={"valueHumanName": {"use": "nickname", "given": ["Jimmy"]}}),
        op("replace", "Patient.name.first()", value={"part": [
            {"name": "use", "valueCode": "official"}, {"name": "family", "valueString": "Chalmers"},
            {"name": "given", "valueString": "Pete"}, {"name": "given", "valueString": "J"}]}),
        op("replace", "Patient.identifier[1]", value={"part": [{"name": "value", "valueString": "000"}]})))
    assert out["name"] == [{"use": "official", "family": "Chalmers", "given": ["Pete", "J"]},
                           {"use": "nickname", "given": ["Jimmy"]}]
    assert out["identifier"][1] == {"value": "000"}


def test_replace_nested_parts_make_lists_for_repeating_elements() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("add", "Patient", name={"valueString": "contact"}, value={"part": [
        {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "1"}},
        {"name": "gender", "valueCode": "female"}]})))
    assert out["contact"] == [{"telecom": [{"system": "phone", "value": "1"}], "gender": "female"}]


def test_replace_choice_element_may_change_its_type() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("replace", "Patient.deceased",
                                                  value={"valueDateTime": "2020-01-01"})))
    assert out["deceasedDateTime"] == "2020-01-01" and "deceasedBoolean" not in out
    out = apply_fhirpath_patch(PATIENT, params(op("replace", "Patient.deceased.ofType(boolean)",
                                                  value={"valueBoolean": True})))
    assert out["deceasedBoolean"] is True


def test_choice_elements_in_paths_and_where_criteria() -> None:
    out = apply_fhirpath_patch(OBSERVATION, params(
        op("replace", "Observation.value.ofType(Quantity).value", value={"valueDecimal": 125}),
        op("replace", "Observation.component.where(value.ofType(Quantity).value = 120).value",
           value={"valueQuantity": {"value": 121}}),
        op("replace", "Observation.component.where(code.text = 'note').value", value={"valueBoolean": True})))
    assert out["valueQuantity"] == {"value": 125, "unit": "mmHg"}
    assert out["component"] == [{"code": {"text": "systolic"}, "valueQuantity": {"value": 121}},
                                {"code": {"text": "note"}, "valueBoolean": True}]
    error = fhirpath_error(OBSERVATION, op("replace", "Observation.value", value={"valueHumanName": {"text": "x"}}))
    assert error.status == 422  # HumanName is not one of value[x]'s types


@pytest.mark.parametrize("path", ["Patient.maritalStatus", "Patient.identifier[5].value", "Patient.name.given"])
def test_replace_needs_exactly_one_match(path: str) -> None:
    error = fhirpath_error(PATIENT, op("replace", path, value={"valueString": "x"}))
    assert (error.status, error.code) == (422, "processing")


def test_move_and_its_bounds() -> None:
    out = apply_fhirpath_patch(PATIENT, params(op("move", "Patient.identifier", source={"valueInteger": 1},
                                                  destination={"valueInteger": 0})))
    assert out["identifier"] == [PATIENT["identifier"][1], PATIENT["identifier"][0]]
    for source, destination in [(2, 0), (0, 2)]:
        error = fhirpath_error(PATIENT, op("move", "Patient.identifier", source={"valueInteger": source},
                                           destination={"valueInteger": destination}))
        assert error.status == 422
    assert fhirpath_error(PATIENT, op("move", "Patient.telecom", source={"valueInteger": 0},
                                      destination={"valueInteger": 0})).status == 422


def test_extension_function_and_paths_without_the_type() -> None:
    extensions = [{"url": "http://a", "valueString": "A"}, {"url": "http://b", "valueString": "B"}]
    tagged = {**PATIENT, "extension": extensions}
    out = apply_fhirpath_patch(tagged, params(op("delete", "Patient.extension('http://a')"),
                                              op("replace", "gender", value={"valueCode": "female"})))
    assert out["extension"] == [{"url": "http://b", "valueString": "B"}] and out["gender"] == "female"


@pytest.mark.parametrize("operation", [
    op("replace", "Patient.id", value={"valueId": "p2"}),
    op("delete", "Patient.id"),
    op("replace", "Patient", value={"resource": {"resourceType": "Group", "id": "p1"}}),
])
def test_fhirpath_patch_may_not_change_id_or_type(operation: dict[str, Any]) -> None:
    error = fhirpath_error(PATIENT, operation)
    assert (error.status, error.code) == (422, "processing") and "may not change" in str(error)


def test_path_for_another_resource_type_is_422() -> None:
    assert fhirpath_error(PATIENT, op("delete", "Observation.status")).status == 422


@pytest.mark.parametrize("path", [
    "Patient.name.exists()", "Patient.name | Patient.telecom", "Patient.managingOrganization.resolve().name",
    "Patient.name.select(given)", "Patient.name.given + 'x'", "Patient.children()",
])
def test_unsupported_paths_are_400_not_supported(path: str) -> None:
    error = fhirpath_error(PATIENT, op("delete", path))
    assert (error.status, error.code, error.expression) == (400, "not-supported", [path])


BAD_PARAMETERS: list[Any] = [
    {"resourceType": "Patient"}, [], {"resourceType": "Parameters", "parameter": {"name": "operation"}},
    params({"name": "patch", "part": []}),
    params({"name": "operation", "part": [{"name": "path", "valueString": "Patient"}]}),
    params({"name": "operation", "part": [{"name": "type", "valueCode": "delete"}]}),
    params(op("upsert", "Patient.gender")),
    params(op("add", "Patient", value={"valueCode": "male"})),
    params(op("add", "Patient", name={"valueString": "gender"})),
    params(op("add", "Patient", name={"valueString": "not a name"}, value={"valueCode": "male"})),
    params(op("insert", "Patient.identifier", value={"valueIdentifier": {}})),
    params(op("insert", "Patient.identifier", index={"valueString": "1"}, value={"valueIdentifier": {}})),
    params(op("move", "Patient.identifier", source={"valueInteger": 0})),
    params(op("replace", "Patient.gender")),
    params(op("replace", "Patient.gender", value={})),
    params(op("replace", "Patient.gender", value={"valueCode": "male", "valueString": "male"})),
    params(op("delete", "Patient.gender", frob={"valueString": "x"})),
    params({"name": "operation", "part": [{"name": "type", "valueCode": "delete"}, {"name": "type", "valueCode": "add"},
                                          {"name": "path", "valueString": "Patient.gender"}]}),
    params(op("delete", "Patient.name.where(use = )")),
    params(op("delete", "Patient.name.where(use = 'x'")),
]


@pytest.mark.parametrize("parameters", BAD_PARAMETERS)
def test_malformed_parameters_are_400_invalid(parameters: Any) -> None:
    with pytest.raises(PatchError) as caught:
        apply_fhirpath_patch(PATIENT, parameters)
    assert (caught.value.status, caught.value.code) == (400, "invalid")


def test_a_malformed_operation_is_reported_before_a_failing_one() -> None:
    error = fhirpath_error(PATIENT, op("replace", "Patient.maritalStatus", value={"valueString": "x"}),
                           op("upsert", "Patient.gender"))
    assert error.status == 400


def test_fhirpath_patch_leaves_input_and_parameters_alone() -> None:
    before, parameters = copy.deepcopy(PATIENT), params(
        op("add", "Patient", name={"valueString": "maritalStatus"}, value={"valueCodeableConcept": {"text": "S"}}),
        op("delete", "Patient.name[0]"), op("insert", "Patient.identifier", index={"valueInteger": 0},
                                             value={"valueIdentifier": {"value": "0"}}))
    parameters_before = copy.deepcopy(parameters)
    out = apply_fhirpath_patch(PATIENT, parameters)
    out["maritalStatus"]["text"] = "changed"
    out["identifier"][1]["value"] = "changed"
    assert PATIENT == before and parameters == parameters_before


def test_primitive_extensions_are_reachable() -> None:
    birth_time = BIRTH_TIME["extension"][0]
    out = apply_fhirpath_patch(patient(birthDate="1974-12-25"), params(
        op("add", "Patient.birthDate", name={"valueString": "extension"}, value={"part": [
            {"name": "url", "valueUri": birth_time["url"]},
            {"name": "valueDateTime", "valueDateTime": "1974-12-25"}]})))
    assert out == patient(birthDate="1974-12-25", _birthDate={"extension": [
        {"url": birth_time["url"], "valueDateTime": "1974-12-25"}]})
    out = apply_fhirpath_patch(PATIENT, params(op("delete", f"Patient.birthDate.extension('{birth_time['url']}')")))
    assert out["birthDate"] == "1974-12-25" and "_birthDate" not in out
    with_ids = {**PATIENT, "name": [{"given": ["Peter", "James"], "_given": [{"id": "g1"}, {"id": "g2"}]}]}
    out = apply_fhirpath_patch(with_ids, params(op("delete", "Patient.name.given[1].id")))
    assert out["name"] == [{"given": ["Peter", "James"], "_given": [{"id": "g1"}, None]}]
