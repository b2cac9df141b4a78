"""Official R4 examples (hl7.fhir.r4.examples@4.0.1) that break the R4 specification themselves.

Each entry: file name -> (text the rejection must contain, why the example is invalid).
Judged by reading the example against the R4 definition; none is here because of a
limitation of this server's validator.
"""

from __future__ import annotations

_EMPTY_NARRATIVE = "txt-2", "Narrative div holds only whitespace; txt-2 requires non-whitespace content"
_NO_BASE = "SearchParameter.base", "SearchParameter.base is 1..*; these extension search parameters have none"
_LOGICAL_NO_BASE = "sdf-4", "A non-abstract StructureDefinition without baseDefinition breaks sdf-4"
_IG_INCOMPLETE = "ImplementationGuide.name", "ImplementationGuide.name and .status are 1..1 and missing"

KNOWN_INVALID: dict[str, tuple[str, str]] = {
    "ActivityDefinition-blood-tubes-supply.json": _EMPTY_NARRATIVE,
    "ActivityDefinition-heart-valve-replacement.json": _EMPTY_NARRATIVE,
    "EventDefinition-example.json": _EMPTY_NARRATIVE,
    "Questionnaire-zika-virus-exposure-assessment.json": _EMPTY_NARRATIVE,
    "Bundle-dataelements.json": ("bdl-7", "Several entries share one fullUrl without distinct meta.versionId"),
    "DeviceMetric-example.json": ("DeviceMetric.parent",
                                  "DeviceMetric.parent may reference Device only; the example names DeviceDefinition"),
    "DeviceUseStatement-example.json": ("DeviceUseStatement.reasonReference",
                                        "reasonReference allows Condition, Observation, DiagnosticReport, "
                                        "DocumentReference and Media, not Procedure"),
    "MedicationRequest-medrx0301.json": ("MedicationRequest.dispenseRequest.performer",
                                         "dispenseRequest.performer may reference Organization only, not Practitioner"),
    "Observation-clinical-gender.json": ("Observation.performer",
                                         "Observation.performer may not reference an Encounter"),
    "ImplementationGuide-fhir.json": _IG_INCOMPLETE,
    "ig-r4.json": _IG_INCOMPLETE,
    "Questionnaire-qs1.json": ("linkId", "Nested Questionnaire items lack linkId, which is 1..1"),
    "SearchParameter-codesystem-extensions-CodeSystem-author.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-effective.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-end.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-keyword.json": _NO_BASE,
    "SearchParameter-codesystem-extensions-CodeSystem-workflow.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-author.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-effective.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-end.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-keyword.json": _NO_BASE,
    "SearchParameter-valueset-extensions-ValueSet-workflow.json": _NO_BASE,
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json": (
        "Invalid id", "Its id has 67 characters; FHIR ids have at most 64"),
    "StructureDefinition-Definition.json": _LOGICAL_NO_BASE,
    "StructureDefinition-Event.json": _LOGICAL_NO_BASE,
    "StructureDefinition-FiveWs.json": _LOGICAL_NO_BASE,
    "StructureDefinition-Request.json": _LOGICAL_NO_BASE,
}
