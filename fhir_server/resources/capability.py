"""The CapabilityStatement (http://hl7.org/fhir/R4/capabilitystatement.html), derived from what the
server really registers: the R4 resource types, the interactions the routes implement,
the search parameters of the search registry and the operations. Never hand-written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..definitions import FHIR_VERSION, definitions
from ..jsonio import dumps

__all__ = ["build_capability_statement", "INTERACTIONS", "SYSTEM_INTERACTIONS"]

INTERACTIONS = ("read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                "create", "search-type")
SYSTEM_INTERACTIONS = ("history-system", "search-system")
SearchParamsFor = Callable[[str], list[dict[str, Any]]]


def _resource_entry(rtype: str, search_params: SearchParamsFor,
                    operations: list[dict[str, str]]) -> dict[str, Any]:
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
    params = search_params(rtype)
    if params:
        entry["searchParam"] = params
    if operations:
        entry["operation"] = operations
    return entry


def build_capability_statement(base: str, software_version: str, search_params: SearchParamsFor,
                               operations: list[dict[str, str]], security: dict[str, Any] | None,
                               type_operations: dict[str, list[dict[str, str]]] | None = None) -> bytes:
    """``security``: ``rest.security`` (SMART on FHIR); None means authorization is switched off.
    ``type_operations``: operations of one resource type only (after those of every type)."""
    by_type = type_operations or {}
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource_entry(t, search_params, [*operations, *by_type.get(t, [])])
                     for t in sorted(definitions().resource_types)],
        "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS],
    }
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
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [rest],
    }
    return dumps(statement)
