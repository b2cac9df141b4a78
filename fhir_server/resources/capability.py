"""The CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html), derived from what the
server really registers: the R4 resource types, the interactions the routes implement,
the search parameters of the search registry and the operations of ``operations/registry.py``
(system ones in ``rest.operation``, the others only on the types that serve them). Never
hand-written: tests call every interaction and operation declared here, and check that every
``$operation`` route is declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..definitions import FHIR_VERSION, definitions
from ..fhir.summary import apply_elements, apply_summary
from ..jsonio import dumps
from .operations import registry

__all__ = ["build_capability_statement", "Guides", "Metadata", "INTERACTIONS", "SYSTEM_INTERACTIONS",
           "PATCH_FORMATS"]

INTERACTIONS = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                "create", "search-type")
SYSTEM_INTERACTIONS = ("transaction", "batch", "history-system", "search-system")
PATCH_FORMATS = ("application/json-patch+json", "application/merge-patch+json", "application/fhir+json")
SearchParamsFor = Callable[[str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Guides:
    """What the loaded implementation guides let the statement claim (``conformance.claims``)."""

    implementation_guides: list[str] = field(default_factory=list)
    supported_profiles: dict[str, list[str]] = field(default_factory=dict)  # by resource type
    instantiates: list[str] = field(default_factory=list)


def _resource_entry(rtype: str, search_params: SearchParamsFor, profiles: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": rtype,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
        "interaction": [{"code": code} for code in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "not-supported",
        "conditionalUpdate": True,
        "conditionalDelete": "multiple",
        "referencePolicy": ["literal", "local"],
    }
    if profiles:
        entry["supportedProfile"] = profiles
    params = search_params(rtype)
    if params:
        entry["searchParam"] = params
    operations = [op.capability_entry() for op in registry.for_type(rtype)]
    if operations:
        entry["operation"] = operations
    return entry


def build_capability_statement(base: str, software_version: str, search_params: SearchParamsFor,
                               security: dict[str, Any] | None, guides: Guides = Guides()) -> dict[str, Any]:
    """``security``: ``rest.security`` (SMART on FHIR); None means authorization is switched off.
    Operations come from the registry, so the modules serving them must have been imported.
    ``guides``: what the loaded IG packages claim (``conformance.claims``)."""
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource_entry(t, search_params, guides.supported_profiles.get(t, []))
                     for t in sorted(definitions().resource_types)],
        "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
    }
    system = [op.capability_entry() for op in registry.system_level()]
    if system:
        rest["operation"] = system
    if security is not None:
        rest["security"] = security
    else:
        rest["documentation"] = "WARNING: authorization is switched OFF (development mode): every client can " \
                                "read and write everything."
    statement = {
        "resourceType": "CapabilityStatement",
        "id": "fhir-server",
        "url": f"{base}/metadata",
        "name": "FhirServerCapabilityStatement",
        "title": "fhir_server capability statement",
        "status": "active",
        "date": "2026-11-22",
        "publisher": "fhir_server",
        "kind": "instance",
        "software": {"name": "fhir_server", "version": software_version},
        "implementation": {"description": "fhir_server FHIR R4 API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json", "application/json"],
        "patchFormat": list(PATCH_FORMATS),
        "rest": [rest],
    }
    if guides.instantiates:
        statement["instantiates"] = guides.instantiates
    if guides.implementation_guides:
        statement["implementationGuide"] = guides.implementation_guides
    return statement


class Metadata:
    """The statement served at ``[base]/metadata``: the full bytes by default (built once), or the
    ``_summary`` / ``_elements`` subset a client asks for (search.html#summary: the full statement
    is ~450 KB, ``_summary=true`` leaves out the per-type details)."""

    def __init__(self, statement: dict[str, Any]) -> None:
        self.statement = statement
        self.full = dumps(statement)

    def render(self, summary: str | None, elements: str | None) -> bytes | dict[str, Any]:
        if summary in (None, "false") and elements is None:
            return self.full
        subset = self.statement
        if summary is not None:
            subset = apply_summary(subset, summary)
        if elements is not None:
            subset = apply_elements(subset, elements.split(","))
        return subset
