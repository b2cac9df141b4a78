"""The sections of the patient summary: LOINC section codes of the International Patient Summary
(http://hl7.org/fhir/uv/ips/StructureDefinition-Composition-uv-ips.html) and what fills each.

Each section lists the patient's resources of its types (their Patient compartment), newest first
by the type's clinical date, records entered in error left out. Results are laboratory
Observations and DiagnosticReports (IPS "Results": lab and other diagnostic results).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SECTIONS", "Section", "Source"]

LOINC = "http://loinc.org"


@dataclass(frozen=True)
class Source:
    """One resource type of a section and the search that selects and orders its entries."""

    resource_type: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Section:
    code: str  # LOINC
    title: str
    sources: tuple[Source, ...]


def _source(rtype: str, sort: str, *params: tuple[str, str]) -> Source:
    return Source(rtype, (*params, ("_sort", f"-{sort}")))


NOT_IN_ERROR = ("status:not", "entered-in-error")
SECTIONS: tuple[Section, ...] = (
    Section("11450-4", "Problem list", (
        _source("Condition", "recorded-date", ("verification-status:not", "entered-in-error")),)),
    Section("10160-0", "History of Medication use", (
        _source("MedicationStatement", "effective", NOT_IN_ERROR),
        _source("MedicationRequest", "authoredon", NOT_IN_ERROR))),
    Section("48765-2", "Allergies and adverse reactions", (
        _source("AllergyIntolerance", "date", ("verification-status:not", "entered-in-error")),)),
    Section("30954-2", "Relevant diagnostic tests/laboratory data", (
        _source("Observation", "date", ("category", "laboratory"), NOT_IN_ERROR),
        _source("DiagnosticReport", "date", NOT_IN_ERROR))),
    Section("11369-6", "History of Immunization", (_source("Immunization", "date", NOT_IN_ERROR),)),
    Section("47519-4", "History of Procedures", (_source("Procedure", "date", NOT_IN_ERROR),)),
    Section("46240-8", "History of encounters", (_source("Encounter", "date", NOT_IN_ERROR),)),
)
