"""CodeSystem/$lookup (http://hl7.org/fhir/R4/codesystem-operation-lookup.html): name, version,
display, designations and properties of one code, with the hierarchy as the ``parent`` and
``child`` properties (codesystem.html#hierarchy). ``property`` names restrict the properties
returned; without it every property is returned.
"""

from __future__ import annotations

from typing import Any

from .codesystem import SystemView
from .errors import UnknownCodeSystem
from .outputs import parameters, part

__all__ = ["lookup"]


def _property_part(prop: dict[str, Any]) -> dict[str, Any]:
    parts = [part("code", "valueCode", prop.get("code"))]
    parts += [{"name": "value", key: value} for key, value in prop.items() if key.startswith("value")]
    return {"name": "property", "part": parts}


def _designation_part(designation: dict[str, Any]) -> dict[str, Any]:
    parts = []
    if "language" in designation:
        parts.append(part("language", "valueCode", designation["language"]))
    if "use" in designation:
        parts.append(part("use", "valueCoding", designation["use"]))
    parts.append(part("value", "valueString", designation.get("value")))
    return {"name": "designation", "part": parts}


def lookup(view: SystemView, name: str, code: str, wanted: list[str], language: str | None) -> dict[str, Any]:
    concept = view.concept(code)
    if concept is None:
        raise UnknownCodeSystem(f"Code '{code}' is not in CodeSystem {view.url}")
    out = [part("name", "valueString", name)]
    if view.version:
        out.append(part("version", "valueString", view.version))
    display = concept.display_in(language)
    if display is not None:
        out.append(part("display", "valueString", display))
    if concept.abstract:
        out.append(part("abstract", "valueBoolean", True))
    out += [_designation_part(d) for d in concept.designations]
    properties = [p for p in concept.properties if p.get("code") not in ("parent", "child", "subsumedBy")]
    properties += [{"code": "parent", "valueCode": c} for c in view.parents(code)]
    properties += [{"code": "child", "valueCode": c} for c in view.children(code)]
    out += [_property_part(p) for p in properties if not wanted or p.get("code") in wanted]
    return parameters(out)
