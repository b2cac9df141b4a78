"""Who sees what: every R4 resource type in exactly one class, for tokens limited to a patient.

A patient-context token (``patient/`` scopes with a launch patient, or a Patient user's
``user/`` scopes) sees the Patient compartment (the official Patient CompartmentDefinition,
http://hl7.org/fhir/R4/compartmentdefinition-patient.html). The 80 R4 types outside it are
classed here, once, because "not in the compartment" does not mean "holds no patient data":

- ``public``: reference, definitional, conformance and terminology data that describes no
  patient (Practitioner, Organization, Location, Medication, ValueSet, ...): readable with a
  scope for the type, never writable with a patient-context token;
- ``narrowed``: may hold one patient's data; readable (and writable) only when it is the
  token's patient's, by the rule in ``NARROWED`` (``patient_rows`` turns it into SQL);
- ``restricted``: may hold anyone's data with no cheap way to tell whose (a Bundle's entries,
  Parameters, MessageHeader.focus, Linkage, ...): never visible to a patient-context token.

The README's "Who sees what" section is this table in prose; tests/unit/smart_auth checks
that the classes cover the 146 R4 types exactly once.
"""

from __future__ import annotations

from functools import cache

from ..search.compartment import patient_compartment_types

__all__ = ["COMPARTMENT", "PUBLIC", "NARROWED", "RESTRICTED", "PUBLIC_TYPES", "NARROWED_TYPES",
           "RESTRICTED_TYPES", "ACTOR_PARAMS", "type_class", "subject_params"]

COMPARTMENT, PUBLIC, NARROWED, RESTRICTED = "compartment", "public", "narrowed", "restricted"

PUBLIC_TYPES = frozenset({
    # people and places of the provider (the directory)
    "Practitioner", "PractitionerRole", "Organization", "OrganizationAffiliation", "Location",
    "HealthcareService", "Endpoint", "InsurancePlan", "Slot",
    # products and substances
    "Medication", "MedicationKnowledge", "MedicinalProduct", "MedicinalProductAuthorization",
    "MedicinalProductContraindication", "MedicinalProductIndication", "MedicinalProductIngredient",
    "MedicinalProductInteraction", "MedicinalProductManufactured", "MedicinalProductPackaged",
    "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "Substance",
    "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
    "SubstanceSourceMaterial", "SubstanceSpecification", "DeviceDefinition", "DeviceMetric",
    "CatalogEntry", "ChargeItemDefinition", "ObservationDefinition", "SpecimenDefinition",
    # conformance and terminology
    "CapabilityStatement", "CodeSystem", "CompartmentDefinition", "ConceptMap", "GraphDefinition",
    "ImplementationGuide", "MessageDefinition", "NamingSystem", "OperationDefinition", "SearchParameter",
    "StructureDefinition", "StructureMap", "TerminologyCapabilities", "ValueSet", "ExampleScenario",
    "TestScript", "TestReport",
    # knowledge: definitions, evidence, research designs
    "ActivityDefinition", "EventDefinition", "Library", "Measure", "PlanDefinition", "Questionnaire",
    "ResearchDefinition", "ResearchElementDefinition", "ResearchStudy", "Evidence", "EvidenceVariable",
    "EffectEvidenceSynthesis", "RiskEvidenceSynthesis",
})

# Outside the compartment but about one patient: the rule that ties a row to its patient.
NARROWED_TYPES: dict[str, str] = {
    "Binary": "securityContext is the patient or a resource in their compartment, or a DocumentReference/Media "
              "of their compartment has it as attachment",
    "Task": "Task.for is the patient (search parameters patient, subject)",
    "Contract": "Contract.subject is the patient (patient, subject)",
    "GuidanceResponse": "GuidanceResponse.subject is the patient (patient, subject)",
    "Device": "Device.patient is the patient, or absent (a device not assigned to anyone); "
              "writes only with Device.patient the patient",
}

# The search parameters that tie a narrowed type to its patient (reference index, target Patient).
NARROWED_PARAMS: dict[str, tuple[str, ...]] = {
    "Task": ("patient", "subject"), "Contract": ("patient", "subject"),
    "GuidanceResponse": ("patient", "subject"), "Device": ("patient",),
}

RESTRICTED_TYPES = frozenset({
    "Bundle",  # entries of any patients, not indexed: checking each entry costs a parse per row
    "Parameters", "OperationOutcome",  # free-form payloads
    "MessageHeader", "Linkage",  # point at arbitrary records (focus, linked items)
    "EnrollmentResponse", "PaymentNotice", "PaymentReconciliation",  # payer/provider business
    "BiologicallyDerivedProduct",  # donor (collection.source) data
    "VerificationResult",  # credential checks about people
    "Subscription",  # criteria and channel headers of other clients
})

# Compartment parameters that name someone *acting* on the record (who performed, wrote,
# asserted, sent or paid), not whose record it is. A patient-context write must put the
# resource in the patient's compartment by the other (subject) parameters: being the
# performer of Patient/pb's Observation does not make it patient A's to write.
ACTOR_PARAMS = frozenset({
    "performer", "author", "asserter", "recorder", "requester", "participant", "sender", "recipient",
    "attester", "payee", "payor", "receiver", "source", "policy-holder",
    "link",  # Patient.link.other: another person's Patient record linked to this one
})


def type_class(rtype: str) -> str:
    if rtype in patient_compartment_types():
        return COMPARTMENT
    if rtype in NARROWED_TYPES:
        return NARROWED
    if rtype in RESTRICTED_TYPES:
        return RESTRICTED
    return PUBLIC if rtype in PUBLIC_TYPES else RESTRICTED  # a type nobody classed: fail closed


@cache
def subject_params(rtype: str, membership: tuple[str, ...]) -> tuple[str, ...]:
    """The compartment parameters of ``rtype`` that say whose record it is (``membership`` minus actors)."""
    return tuple(p for p in membership if p not in ACTOR_PARAMS)
