"""Reading the scheduling operations' input: an Appointment, a Bundle holding one, or a Parameters
(http://hl7.org/fhir/R4/operations.html#request, IHE ITI Scheduling $hold/$book input)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest

__all__ = ["appointment_in", "parameter_value"]


def _one(resources: list[Any], what: str) -> dict[str, Any]:
    found = [r for r in resources if isinstance(r, dict) and r.get("resourceType") == "Appointment"]
    if len(found) != 1:
        raise BadRequest(f"{what} needs exactly one Appointment (found {len(found)})")
    return found[0]


def appointment_in(body: Any, operation: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(f"{operation} needs an Appointment, a Bundle with one, or a Parameters body")
    kind = body.get("resourceType")
    if kind == "Appointment":
        return body
    if kind == "Bundle":
        return _one([e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)], operation)
    if kind == "Parameters":
        return _one([p.get("resource") for p in body.get("parameter") or [] if isinstance(p, dict)], operation)
    raise BadRequest(f"{operation} needs an Appointment, a Bundle with one, or a Parameters body, not {kind}")


def parameter_value(body: Any, name: str) -> Any:
    """The value[x] of the first parameter ``name`` of a Parameters body (None when absent)."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "Parameters":
        return None
    for param in body.get("parameter") or []:
        if isinstance(param, Mapping) and param.get("name") == name:
            return next((v for k, v in param.items() if k.startswith("value")), None)
    return None
