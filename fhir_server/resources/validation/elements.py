"""Element tables compiled once from StructureDefinition snapshots (http://hl7.org/fhir/R4/elementdefinition.html).

For every element path of a structure, the JSON property names its children may use
(choice elements expanded: ``value[x]`` -> ``valueQuantity``, ``valueString``...), each with
the ElementDefinition facts validation needs. A profile is compiled the same way as a base
definition, so applying one is applying another table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ...definitions import definitions

__all__ = ["Child", "ElementInfo", "StructureTable", "table_for", "table_for_structure", "PRIMITIVES",
           "SYSTEM_TYPES"]

PRIMITIVES = frozenset(name for name, sd in definitions().types.items() if sd["kind"] == "primitive-type")
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_TYPES = {f"http://hl7.org/fhirpath/System.{name}": fhir for name, fhir in (
    ("String", "string"), ("Boolean", "boolean"), ("Integer", "integer"), ("Decimal", "decimal"),
    ("Date", "date"), ("DateTime", "dateTime"), ("Time", "time"))}


@dataclass(frozen=True)
class ElementInfo:
    path: str
    min: int
    max: int | None  # None: unbounded
    content_reference: str | None
    binding: tuple[str, str] | None  # (strength, value set url without version)
    constraints: tuple[dict[str, Any], ...]
    target_types: frozenset[str]  # Reference targets by type name; empty: any
    choice: bool

    @property
    def repeats(self) -> bool:
        return self.max is None or self.max > 1


@dataclass(frozen=True)
class Child:
    info: ElementInfo
    type_code: str  # FHIR type of this JSON property ("" for BackboneElement children of the same table)


@dataclass
class StructureTable:
    """Children by parent path; element facts by path."""

    name: str
    root: ElementInfo
    children: dict[str, dict[str, Child]] = field(default_factory=dict)
    required: dict[str, list[ElementInfo]] = field(default_factory=dict)


def _type_code(entry: dict[str, Any]) -> str:
    code = str(entry["code"])
    if code.startswith("http://hl7.org/fhirpath/System."):
        ext = next((e["valueUrl"] for e in entry.get("extension", []) if e.get("url") == FHIR_TYPE_EXT), None)
        return str(ext or SYSTEM_TYPES.get(code, "string"))
    return code


CORE_SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def _target_type(profile: str) -> str | None:
    """The resource type a Reference's target profile constrains (an IG profile by its ``type``)."""
    url = profile.split("|", 1)[0]
    if url.startswith(CORE_SD_PREFIX) and "/" not in url[len(CORE_SD_PREFIX):]:
        sd = definitions().structure_definitions.get(url)
        return str(sd["type"]) if sd is not None else url[len(CORE_SD_PREFIX):]
    sd = definitions().structure_definitions.get(url)
    return str(sd["type"]) if sd is not None else None


def _targets(types: list[dict[str, Any]]) -> frozenset[str]:
    names = set()
    for entry in types:
        for profile in entry.get("targetProfile", []):
            target = _target_type(profile)
            if target is None:  # a profile this server does not know: its type is not restricted
                return frozenset()
            names.add(target)
    return frozenset() if "Resource" in names else frozenset(names)


def _info(element: dict[str, Any]) -> ElementInfo:
    binding = element.get("binding")
    max_raw = element.get("max", "*")
    return ElementInfo(
        path=element["path"], min=int(element.get("min", 0)), max=None if max_raw == "*" else int(max_raw),
        content_reference=(element.get("contentReference") or "").lstrip("#") or None,
        binding=(binding["strength"], binding["valueSet"].split("|", 1)[0])
        if binding and binding.get("valueSet") else None,
        constraints=tuple(element.get("constraint", ())), target_types=_targets(element.get("type", [])),
        choice=element["path"].endswith("[x]"))


def _add_child(table: StructureTable, element: dict[str, Any], info: ElementInfo) -> None:
    parent, _, name = info.path.rpartition(".")
    slot = table.children.setdefault(parent, {})
    types = element.get("type", [])
    if info.choice:
        stem = name[:-3]
        for entry in types:
            code = _type_code(entry)
            slot[stem + code[0].upper() + code[1:]] = Child(info, code)
    else:
        code = _type_code(types[0]) if len(types) == 1 else ""
        slot[name] = Child(info, "" if code in ("BackboneElement", "Element") and not info.content_reference
                           else code)
    if info.min > 0:
        table.required.setdefault(parent, []).append(info)


def compile_structure(sd: dict[str, Any]) -> StructureTable:
    elements = [e for e in sd["snapshot"]["element"] if "sliceName" not in e]
    table = StructureTable(sd.get("type", sd["name"]), _info(elements[0]))
    resource_id = f"{elements[0]['path']}.id" if sd.get("kind") == "resource" else None
    for element in elements[1:]:
        if element["path"] == resource_id:
            # resource.html#id: "The only time that a resource does not have an id is when it is being
            # submitted to the server using a create operation"; its type is id (the R4 snapshot says string).
            element = {**element, "type": [{"code": "id"}]}
        _add_child(table, element, _info(element))
    return table


@cache
def table_for(type_name: str) -> StructureTable | None:
    """The compiled base definition of a resource or datatype."""
    sd = definitions().types.get(type_name)
    return compile_structure(sd) if sd is not None else None


_PROFILE_TABLES: dict[str, StructureTable] = {}


def table_for_structure(sd: dict[str, Any]) -> StructureTable:
    """A compiled profile (or any snapshot StructureDefinition), cached by url and version
    (two versions of an IG define the same canonical url differently)."""
    key = f"{sd['url']}|{sd.get('version') or ''}"
    if key not in _PROFILE_TABLES:
        _PROFILE_TABLES[key] = compile_structure(sd)
    return _PROFILE_TABLES[key]
