"""Base R4 rules the reference validator applies beyond the StructureDefinitions' own checks
(resource.html#id, datatypes.html#string/#Coding/#Identifier/#Attachment/#markdown,
bundle.html#references, extensibility.html): each case with the exact issue it must raise."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from fhir_server.resources.validation import validate_resource

UUID1 = "urn:uuid:6e1a4e8e-4b8f-4bb1-9f55-0d2c2d0ad0a1"
UUID2 = "urn:uuid:6e1a4e8e-4b8f-4bb1-9f55-0d2c2d0ad0a2"


def _issues(resource: dict[str, Any], severities: tuple[str, ...] = ("error",),
            **options: bool) -> list[tuple[str, str, str]]:
    return [(i.severity, i.expression[0] if i.expression else "", i.diagnostics)
            for i in validate_resource(resource, **options)
            if i.severity in severities and not i.diagnostics.startswith("dom-6")]


@pytest.mark.parametrize("rid", ["bad id", "bad-id_1", "a" * 65, "é"])
def test_a_resource_id_must_be_an_id(rid: str) -> None:
    assert _issues({"resourceType": "Patient", "id": rid}) == [
        ("error", "Patient.id", f"{rid[:60]!r} is not a valid id")]


def test_ids_of_contained_resources_are_ids_too_and_good_ids_pass() -> None:
    assert _issues({"resourceType": "Patient", "id": "a-1.B", "contained": [{"resourceType": "Organization",
                    "id": "o_1", "name": "Org"}], "managingOrganization": {"reference": "#o_1"}}) == [
        ("error", "Patient.contained[0].id", "'o_1' is not a valid id")]
    assert _issues({"resourceType": "Patient", "id": "A" * 64}) == []


def test_strings_hold_at_most_one_megabyte() -> None:
    limit = 1024 * 1024
    assert _issues({"resourceType": "Patient", "name": [{"family": "x" * limit}]}) == []
    assert _issues({"resourceType": "Patient", "name": [{"family": "x" * (limit + 1)}]}) == [
        ("error", "Patient.name[0].family", "A string may hold at most 1 MB (1,048,576 characters); this one has "
         "1,048,577")]


@pytest.mark.parametrize("system", ["loinc", "2.16.840.1.113883.6.1", "/codes"])
def test_coding_and_identifier_systems_are_absolute(system: str) -> None:
    observation = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": system, "code": "1"}]},
                   "identifier": [{"system": system, "value": "1"}]}
    assert sorted(_issues(observation)) == [
        ("error", "Observation.code.coding[0].system", f"Coding.system must be an absolute URI, not {system!r}"),
        ("error", "Observation.identifier[0].system", f"Identifier.system must be an absolute URI, not {system!r}")]


@pytest.mark.parametrize("system", ["http://loinc.org", "urn:oid:2.16.840.1.113883.6.1", "urn:ietf:bcp:47"])
def test_absolute_systems_pass(system: str) -> None:
    assert _issues({"resourceType": "Observation", "status": "final",
                    "code": {"coding": [{"system": system, "code": "1"}]}}) == []


def _document_reference(**attachment: Any) -> dict[str, Any]:
    return {"resourceType": "DocumentReference", "status": "current",
            "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8=", **attachment}}]}


def test_attachment_size_and_hash_agree_with_the_data() -> None:
    sha1 = base64.b64encode(hashlib.sha1(b"hello").digest()).decode()  # noqa: S324 - what the spec uses
    assert _issues(_document_reference(size=5, hash=sha1), ("error", "warning")) == []
    assert _issues(_document_reference(size=99), ("error", "warning")) == [
        ("error", "DocumentReference.content[0].attachment.size",
         "Attachment.size 99 does not match the size of its data (5 bytes)")]
    assert _issues(_document_reference(hash="AAAA"), ("error", "warning")) == [
        ("warning", "DocumentReference.content[0].attachment.hash",
         f"Attachment.hash does not match its data (SHA-1 of the data is {sha1})")]


def test_fhir_comments_are_not_r4_json() -> None:
    assert _issues({"resourceType": "Patient", "fhir_comments": ["a comment"]}) == [
        ("error", "Patient.fhir_comments", "Unknown element 'fhir_comments'")]


def test_markdown_may_not_carry_active_html() -> None:
    plain = {"resourceType": "Questionnaire", "status": "active", "description": "**bold** and <b>tags</b>"}
    assert _issues(plain) == []
    script = {**plain, "description": "hi <script>alert(1)</script>"}
    assert _issues(script) == [("error", "Questionnaire.description",
                                "markdown must not contain active HTML ('<script'): it is shown to readers")]


def _entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource}


def test_bundle_full_urls_are_absolute_and_self_links_single() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "link": [{"relation": "self", "url": "http://x/a"}, {"relation": "self", "url": "http://x/b"}],
              "entry": [_entry("Patient/1", {"resourceType": "Patient", "id": "1"})]}
    assert _issues(bundle) == [
        ("error", "Bundle.link", "A Bundle has at most one 'self' link (2 found)"),
        ("error", "Bundle.entry[0].fullUrl", "fullUrl 'Patient/1' must be an absolute URL (or urn:uuid:/urn:oid:)")]


def test_a_reference_that_matches_two_entries_is_ambiguous_only_without_a_base() -> None:
    patients = [_entry("http://a.org/fhir/Patient/1", {"resourceType": "Patient", "id": "1"}),
                _entry("http://b.org/fhir/Patient/1", {"resourceType": "Patient", "id": "1"})]
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "Patient/1"}}
    with_base = {"resourceType": "Bundle", "type": "collection",
                 "entry": [*patients, _entry("http://a.org/fhir/Observation/o", {**observation, "id": "o"})]}
    assert _issues(with_base) == []  # resolved against its own base: http://a.org/fhir/Patient/1
    without_base = {"resourceType": "Bundle", "type": "collection", "entry": [*patients, _entry(UUID1, observation)]}
    assert _issues(without_base) == [
        ("error", "Bundle.entry[2].resource.subject.reference", "Reference Patient/1 matches more than one entry "
         "(http://a.org/fhir/Patient/1, http://b.org/fhir/Patient/1)")]


def test_a_document_carries_what_it_refers_to() -> None:
    composition = {"resourceType": "Composition", "status": "final", "type": {"text": "note"}, "date": "2024-01-01",
                   "title": "Note", "subject": {"reference": UUID2}, "author": [{"reference": "Practitioner/9"}]}
    document = {"resourceType": "Bundle", "type": "document", "identifier": {"system": "urn:ietf:rfc:3986",
                "value": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"}, "timestamp": "2024-01-01T00:00:00Z",
                "entry": [_entry(UUID1, composition), _entry(UUID2, {"resourceType": "Patient"})]}
    assert _issues(document) == [
        ("error", "Bundle.entry[0].resource.author[0].reference", "Reference Practitioner/9 does not resolve to an "
         "entry of the document: a document carries every resource it refers to")]


def test_a_full_url_that_disagrees_with_its_resource_is_a_warning() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [_entry("http://x.org/fhir/Patient/1", {"resourceType": "Patient", "id": "2"})]}
    assert _issues(bundle, ("error", "warning")) == [
        ("warning", "Bundle.entry[0].fullUrl", "fullUrl http://x.org/fhir/Patient/1 does not agree with the entry's "
         "resource (Patient/2)")]


BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"


def test_unknown_extensions_are_kept_with_a_warning_on_writes_and_refused_by_validate() -> None:
    patient = {"resourceType": "Patient", "extension": [{"url": "http://example.org/x", "valueString": "a"}],
               "modifierExtension": [{"url": "http://example.org/m", "valueBoolean": True}]}
    assert _issues(patient, ("error", "warning")) == [
        ("warning", "Patient.extension[0]",
         "The extension http://example.org/x is not known to this server: kept as sent, its content is not checked"),
        ("warning", "Patient.modifierExtension[0]", "The modifier extension http://example.org/m is not known to "
         "this server: kept as sent, its content is not checked")]
    assert _issues(patient, strict_extensions=True) == [
        ("error", "Patient.extension[0]", "The extension http://example.org/x is not known to this server"),
        ("error", "Patient.modifierExtension[0]", "The modifier extension http://example.org/m is not known to this "
         "server")]


def test_a_known_extension_in_its_context_with_its_value_type() -> None:
    ok = {"resourceType": "Patient", "extension": [{"url": BIRTH_PLACE, "valueAddress": {"city": "Lyon"}}],
          "birthDate": "2000-01-01", "_birthDate": {"extension": [{
              "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
              "valueDateTime": "2000-01-01T10:00:00Z"}]}}
    assert _issues(ok, ("error", "warning"), strict_extensions=True) == []
    wrong_type = {"resourceType": "Patient", "extension": [{"url": BIRTH_PLACE, "valueString": "Lyon"}]}
    assert _issues(wrong_type) == [("error", "Patient.extension[0].valueString", "valueString is not allowed here: "
                                    f"the profile allows valueAddress (profile {BIRTH_PLACE})")]


def test_an_extension_outside_its_context() -> None:
    observation_only = "http://hl7.org/fhir/StructureDefinition/observation-bodyPosition"
    patient = {"resourceType": "Patient",
               "extension": [{"url": observation_only, "valueCodeableConcept": {"text": "x"}}]}
    message = (f"The extension {observation_only} may not be used on Patient "
               "(its definition allows: Observation, Specimen.collection)")
    assert _issues(patient, ("error", "warning")) == [("warning", "Patient.extension[0]", message)]
    assert _issues(patient, strict_extensions=True) == [("error", "Patient.extension[0]", message)]
