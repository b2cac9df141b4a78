"""The canonical key order of a resource: ``resourceType`` first, then every element in the order
of its StructureDefinition, as the specification's own examples are written
(http://hl7.org/fhir/R4/json.html: "resourceType" first; elements in the order of the definitions,
http://hl7.org/fhir/R4/formats.html#wire). ``_name`` (a primitive's id/extensions) follows
``name``. Keys no definition knows (a future element, a typo the validator let through as a
warning) follow the known ones, sorted, so the same resource always serializes to the same bytes.

The order is looked up per (definition, element path) and cached: a BackboneElement's children
come from its own resource's definition, a datatype's from the datatype's, ``contentReference``
(``Questionnaire.item.item``) from the element it names, and a nested resource (``contained``,
``Bundle.entry.resource``, ``Parameters.parameter.resource``) from its own ``resourceType``.
Applied once at write time, so reads serve the stored bytes as they are.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..definitions import definitions

__all__ = ["canonical"]

Context = tuple[str, str]  # (StructureDefinition type, element path), e.g. ("Patient", "Patient.contact")
Slot = tuple[int, "Context | None"]  # (rank, context of the value's children; None: primitive)
RESOURCE: Context = ("", "resource")  # the value is a resource: its resourceType says which
ELEMENT: Context = ("Element", "Element")  # the "_name" shadow of a primitive: id and extension
RESOURCE_CODES = frozenset({"Resource", "DomainResource"})


def canonical(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``resource`` with its keys, at every level, in canonical order. Objects must be
    plain ``dict``s (as ``jsonio.parse_json`` makes them): subclasses are left as they are."""
    return _resource(resource)


def _resource(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    rtype = node.get("resourceType")
    if not isinstance(rtype, str) or rtype not in definitions().types:
        return node  # not a resource we know: left exactly as it came
    return {"resourceType": rtype, **_ordered(node, (rtype, rtype))}


def _ordered(node: dict[str, Any], context: Context) -> dict[str, Any]:
    layout = _layout(context)
    known: list[tuple[int, str, Any]] = []
    unknown: list[tuple[str, Any]] = []
    for key, value in node.items():
        slot = layout.get(key)
        if slot is None:
            if key != "resourceType":
                unknown.append((key, value))
            continue
        rank, child = slot
        if child is not None:  # a complex value: its own keys are ordered too
            if type(value) is list:
                value = [_one(item, child) for item in value]
            elif type(value) is dict:
                value = _one(value, child)
        known.append((rank, key, value))
    known.sort()  # ranks, then keys: two keys of one choice element (a defect) still order stably
    out = {key: value for _, key, value in known}
    if unknown:
        out.update(sorted(unknown))
    return out


def _one(value: Any, context: Context) -> Any:
    if type(value) is not dict:
        return value
    if context is RESOURCE:
        return _resource(value)
    return _ordered(value, context)


@cache
def _layout(context: Context) -> dict[str, Slot]:
    """JSON key -> (rank, children's context) for the direct children of ``context``'s element."""
    type_name, path = context
    sd = definitions().types.get(type_name)
    if sd is None:
        return {}
    elements: list[dict[str, Any]] = sd["snapshot"]["element"]
    paths = {e["path"] for e in elements}
    prefix, depth = path + ".", path.count(".") + 1
    layout: dict[str, Slot] = {}
    for rank, element in enumerate(elements):
        element_path: str = element["path"]
        if not element_path.startswith(prefix) or element_path.count(".") != depth:
            continue
        name = element_path.rsplit(".", 1)[1]
        codes = [t["code"] for t in element.get("type", [])]
        if name.endswith("[x]"):
            for code in codes:
                key = name[:-3] + code[0].upper() + code[1:]
                layout[key] = (2 * rank, _child(type_name, element, [code], paths))
                layout["_" + key] = (2 * rank + 1, ELEMENT)
        else:
            layout[name] = (2 * rank, _child(type_name, element, codes, paths))
            layout["_" + name] = (2 * rank + 1, ELEMENT)
    return layout


def _child(type_name: str, element: dict[str, Any], codes: list[str], paths: set[str]) -> Context | None:
    reference = element.get("contentReference")
    if isinstance(reference, str) and reference.startswith("#"):
        return (type_name, reference[1:])
    path = element["path"]
    if any(p.startswith(path + ".") for p in paths):
        return (type_name, path)  # a BackboneElement: children defined right here
    if len(codes) != 1:
        return None
    code = codes[0]
    if code in RESOURCE_CODES or code in definitions().resource_types:
        return RESOURCE
    if code[:1].isupper() and code in definitions().types:
        return (code, definitions().types[code]["snapshot"]["element"][0]["path"])
    return None  # a primitive (boolean, string, ..., System.String)
