"""Output shapes of the terminology operations: the expanded ValueSet
(http://hl7.org/fhir/R4/valueset.html#expansion) and Parameters parts
(http://hl7.org/fhir/R4/parameters.html).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from ..fhir.datetimes import format_instant, now_instant
from .model import Concept, contains_item

__all__ = ["ExpandRequest", "expansion_resource", "part", "parameters"]

HEADER_KEYS = ("resourceType", "id", "url", "version", "name", "title", "status")


@dataclass(frozen=True)
class ExpandRequest:
    filter: str | None = None
    offset: int = 0
    count: int | None = None
    include_designations: bool = False
    active_only: bool = False
    display_language: str | None = None

    def echo(self) -> list[dict[str, Any]]:
        """expansion.parameter: the parameters that shaped this expansion."""
        out: list[dict[str, Any]] = []
        if self.filter:
            out.append({"name": "filter", "valueString": self.filter})
        if self.count is not None:
            out.append({"name": "count", "valueInteger": self.count})
        if self.offset:
            out.append({"name": "offset", "valueInteger": self.offset})
        if self.include_designations:
            out.append({"name": "includeDesignations", "valueBoolean": True})
        if self.active_only:
            out.append({"name": "activeOnly", "valueBoolean": True})
        if self.display_language:
            out.append({"name": "displayLanguage", "valueCode": self.display_language})
        return out


def expansion_resource(value_set: dict[str, Any], concepts: list[Concept], req: ExpandRequest) -> dict[str, Any]:
    out = {k: value_set[k] for k in HEADER_KEYS if k in value_set}
    out["resourceType"] = "ValueSet"
    out.setdefault("status", "active")
    end = None if req.count is None else req.offset + req.count
    expansion: dict[str, Any] = {
        "identifier": f"urn:uuid:{uuid.uuid4()}", "timestamp": format_instant(now_instant()),
        "total": len(concepts), "offset": req.offset,
    }
    if params := req.echo():
        expansion["parameter"] = params
    page = concepts[req.offset:end]
    if page:
        expansion["contains"] = [contains_item(c, req.include_designations, req.display_language) for c in page]
    out["expansion"] = expansion
    return out


def part(name: str, key: str, value: Any) -> dict[str, Any]:
    return {"name": name, key: value}


def parameters(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": parts}
