"""Structural R4 validation with hand-made resources; expected issues worked out from the R4 definitions."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.resources.validation import validate_resource
from fhir_server.terminology import expand


def _errors(resource: Any) -> list[tuple[str, tuple[str, ...]]]:
    return [(i.code, i.expression) for i in validate_resource(resource) if i.severity in ("error", "fatal")]


def test_valid_patient_has_no_errors() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "active": True, "gender": "female", "birthDate": "1980-02-29",
               "name": [{"family": "Doe", "given": ["Jane"], "_given": [{"extension": [
                   {"url": "http://example.org/ext", "valueString": "x"}]}]}],
               "deceasedBoolean": False, "multipleBirthInteger": 2,
               "managingOrganization": {"reference": "Organization/o1"}}
    assert _errors(patient) == []


@pytest.mark.parametrize(("resource", "expected"), [
    ({"resourceType": "Patient", "birthDate": "1990-13-01"}, ("value", ("Patient.birthDate",))),
    ({"resourceType": "Patient", "birthDate": "2019-02-29"}, ("value", ("Patient.birthDate",))),
    ({"resourceType": "Patient", "gender": "mal"}, ("code-invalid", ("Patient.gender",))),
    ({"resourceType": "Patient", "name": {"family": "x"}}, ("structure", ("Patient.name",))),
    ({"resourceType": "Patient", "foo": 1}, ("structure", ("Patient.foo",))),
    ({"resourceType": "Patient", "active": "true"}, ("value", ("Patient.active",))),
    ({"resourceType": "Patient", "multipleBirthInteger": 2.5}, ("value", ("Patient.multipleBirthInteger",))),
    ({"resourceType": "Patient", "gender": ["male"]}, ("structure", ("Patient.gender",))),
    ({"resourceType": "Patient", "name": [{"given": [""]}]}, ("value", ("Patient.name[0].given[0]",))),
    ({"resourceType": "Patient", "name": []}, ("structure", ("Patient.name",))),
    ({"resourceType": "Patient", "deceasedBoolean": True, "deceasedDateTime": "2020"},
     ("structure", ("Patient.deceasedBoolean",))),
    ({"resourceType": "Patient", "deceasedString": "yes"}, ("structure", ("Patient.deceasedString",))),
    ({"resourceType": "Patient", "contact": [{"gender": "male"}]}, ("invariant", ("Patient.contact[0]",))),
    ({"resourceType": "Observation", "status": "final"}, ("required", ("Observation.code",))),
    ({"resourceType": "Observation", "code": {"text": "x"}}, ("required", ("Observation.status",))),
    ({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
      "subject": {"reference": "Medication/1"}}, ("structure", ("Observation.subject",))),
    ({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
      "valueQuantity": {"value": "12"}}, ("value", ("Observation.valueQuantity.value",))),
    ({"resourceType": "Patient", "_birthDate": {"foo": 1}}, ("structure", ("Patient.birthDate.foo",))),
    ({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group",
      "item": [{"type": "string"}]}]}, ("required", ("Questionnaire.item[0].item[0].linkId",))),
    ({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient",
      "gender": "robot"}}]}, ("code-invalid", ("Bundle.entry[0].resource.gender",))),
    ({"resourceType": "Patient", "contained": [{"resourceType": "Nope"}]}, ("invalid", ("Patient.contained[0]",))),
    ({"resourceType": "Nope"}, ("invalid", ("",))),
])
def test_each_check_reports_code_and_location(resource: dict[str, Any], expected: tuple[str, tuple[str, ...]]) -> None:
    errors = _errors(resource)
    assert expected in errors, errors


def test_codeable_concept_binding() -> None:
    bad = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "category": [{"text": "free"}],
           "dataAbsentReason": {"coding": [{"system": "http://example.org", "code": "zzz"}]}}
    # Observation.dataAbsentReason is extensible, not required: no binding error.
    assert _errors(bad) == []
    condition = {"resourceType": "Condition", "subject": {"reference": "Patient/1"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "nonsense"}]}}
    assert ("code-invalid", ("Condition.clinicalStatus",)) in _errors(condition)


def test_value_set_expansion() -> None:
    gender = expand("http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1")
    assert gender == {("http://hl7.org/fhir/administrative-gender", c) for c in ("male", "female", "other", "unknown")}
    assert expand("http://hl7.org/fhir/ValueSet/ucum-units") is None  # UCUM is not held locally
    assert expand("http://example.org/no-such-value-set") is None


def test_unknown_profile_is_a_warning() -> None:
    issues = validate_resource({"resourceType": "Patient"}, profiles=["http://example.org/StructureDefinition/x"])
    assert [(i.severity, i.code) for i in issues if i.code == "not-found"] == [("warning", "not-found")]


# Values that passed once are remembered per element (structure.py, _CLEAN): the same value
# must still be judged by the element it appears at, and nothing that depends on the rest of
# the resource may be remembered.
_BOGUS_STATUS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                             "code": "not-a-clinical-status"}]}
_SUBJECT = {"reference": "Patient/p1"}


def test_a_value_clean_at_one_element_is_still_checked_at_another() -> None:
    # Condition.code has an example binding: any coding passes; clinicalStatus' binding is required
    at_code = {"resourceType": "Condition", "subject": _SUBJECT, "code": _BOGUS_STATUS}
    at_status = {"resourceType": "Condition", "subject": _SUBJECT, "clinicalStatus": _BOGUS_STATUS}
    for _ in range(2):
        assert _errors(at_code) == []
        assert _errors(at_status) == [("code-invalid", ("Condition.clinicalStatus",))]


def test_a_local_reference_is_judged_against_its_own_resource() -> None:
    holder = {"url": "http://example.org/where", "valueReference": {"reference": "#loc"}}
    with_contained = {"resourceType": "Patient", "contained": [{"resourceType": "Location", "id": "loc"}],
                      "extension": [holder]}
    without = {"resourceType": "Patient", "extension": [holder]}
    assert _errors(with_contained) == []
    assert ("invariant", ("Patient.extension[0].valueReference",)) in _errors(without)
    assert _errors(with_contained) == []


def test_a_remembered_reference_is_still_checked_against_each_elements_targets() -> None:
    at_subject = {"resourceType": "Condition", "subject": _SUBJECT}
    at_encounter = {"resourceType": "Condition", "subject": {"reference": "Patient/p2"}, "encounter": _SUBJECT}
    for _ in range(2):
        assert _errors(at_subject) == []
        assert _errors(at_encounter) == [("structure", ("Condition.encounter",))]  # Encounter only


def test_a_repeated_bad_value_is_reported_every_time() -> None:
    bad = {"system": "http://loinc.org", "code": " padded"}  # code: no leading whitespace
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [bad, bad]}, "category": [{"coding": [bad]}]}
    expected = [("value", ("Observation.category[0].coding[0].code",)),
                ("value", ("Observation.code.coding[0].code",)), ("value", ("Observation.code.coding[1].code",))]
    for _ in range(2):
        assert sorted(_errors(observation)) == expected
