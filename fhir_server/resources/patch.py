"""Patch documents: JSON Patch (RFC 6902) and FHIRPath Patch.

http://hl7.org/fhir/R4/http.html#patch, http://hl7.org/fhir/R4/fhirpatch.html. Both are pure
functions from (resource, patch document) to a new resource; the input is never mutated.
A patch may not change ``resourceType`` or ``id``. Malformed documents raise ``BadRequest``
(400); documents that cannot be applied (missing path, failed ``test``) raise
``Unprocessable`` (422). FHIRPath Patch paths are resolved by ``fhirpath_patch``.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from ..errors import BadRequest, Unprocessable
from .fhirpath_patch import Target, element_repeats, resolve_path

__all__ = ["apply_json_patch", "apply_fhirpath_patch"]

JSON_PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")
FHIRPATH_OPS = ("add", "insert", "delete", "replace", "move")


def _check_identity(before: dict[str, Any], after: Any) -> dict[str, Any]:
    if not isinstance(after, dict):
        raise Unprocessable("The patch result is not a resource (a JSON object)")
    if after.get("resourceType") != before.get("resourceType") or after.get("id") != before.get("id"):
        raise Unprocessable("A patch may not change the resourceType or the id of a resource")
    return after


def apply_json_patch(resource: dict[str, Any], document: Any) -> dict[str, Any]:
    if not isinstance(document, list):
        raise BadRequest("A JSON Patch document is a JSON array of operations")
    for number, op in enumerate(document):
        if not isinstance(op, dict) or op.get("op") not in JSON_PATCH_OPS or not isinstance(op.get("path"), str):
            raise BadRequest(f"JSON Patch operation {number} needs 'op' (one of {', '.join(JSON_PATCH_OPS)}) "
                             "and a string 'path'")
    try:
        patched = jsonpatch.JsonPatch(document).apply(copy.deepcopy(resource))
    except jsonpatch.JsonPatchTestFailed as exc:
        raise Unprocessable(f"JSON Patch test failed: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise Unprocessable(f"JSON Patch cannot be applied: {exc}") from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise BadRequest(f"Malformed JSON Patch: {exc}") from exc
    return _check_identity(resource, patched)


def _parts(operation: dict[str, Any], number: int) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    for part in operation.get("part", []):
        name = part.get("name") if isinstance(part, dict) else None
        if not name:
            raise BadRequest(f"FHIRPath Patch operation {number}: every part needs a name")
        parts[name] = part
    return parts


def _primitive(part: dict[str, Any] | None, kinds: tuple[str, ...]) -> Any:
    if part is None:
        return None
    return next((part[k] for k in kinds if k in part), None)


def _value(part: dict[str, Any] | None, number: int) -> Any:
    """value[x] of a part, or a complex value given as nested parts (fhirpatch.html#concepts)."""
    if part is None:
        raise BadRequest(f"FHIRPath Patch operation {number} needs a value")
    for key, value in part.items():
        if key.startswith("value") and key[5:6].isupper():
            return copy.deepcopy(value)
    if "part" in part:
        return {p["name"]: _value(p, number) for p in part["part"]}
    if "resource" in part:
        return copy.deepcopy(part["resource"])
    raise BadRequest(f"FHIRPath Patch operation {number}: the value part has no value")


def _index(parts: dict[str, Any], name: str, number: int) -> int:
    value = _primitive(parts.get(name), ("valueInteger",))
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"FHIRPath Patch operation {number} needs a non-negative integer '{name}'")
    return value


def _single(targets: list[Target], path: str, number: int) -> Target:
    if len(targets) != 1:
        raise Unprocessable(f"FHIRPath Patch operation {number}: {path} matches {len(targets)} elements, not one")
    return targets[0]


def _add(resource: dict[str, Any], path: str, parts: dict[str, Any], number: int) -> None:
    container = _single(resolve_path(resource, path), path, number).get()
    name = _primitive(parts.get("name"), ("valueString", "valueCode"))
    if not isinstance(container, dict) or not isinstance(name, str) or not name:
        raise Unprocessable(f"FHIRPath Patch add {number}: {path} is not an element that can hold '{name}'")
    value = _value(parts.get("value"), number)
    existing = container.get(name)
    if isinstance(existing, list):
        existing.append(value)
    elif existing is None:
        container[name] = [value] if element_repeats(resource, path, name) else value
    else:
        raise Unprocessable(f"FHIRPath Patch add {number}: {path}.{name} already has a value (use replace)")


def _list_target(resource: dict[str, Any], path: str, number: int) -> tuple[list[Any], Target]:
    targets = resolve_path(resource, path)
    owners = {id(t.owner_list) for t in targets if t.owner_list is not None}
    if not targets or len(owners) != 1 or targets[0].owner_list is None:
        raise Unprocessable(f"FHIRPath Patch operation {number}: {path} is not a list of repeating elements")
    return targets[0].owner_list, targets[0]


def _insert(resource: dict[str, Any], path: str, parts: dict[str, Any], number: int) -> None:
    targets = resolve_path(resource, path)
    index = _index(parts, "index", number)
    value = _value(parts.get("value"), number)
    if targets and targets[0].owner_list is not None:
        items = targets[0].owner_list
    else:
        parent, name = _parent_and_name(resource, path, number)
        items = parent.setdefault(name, [])
    if index > len(items):
        raise Unprocessable(f"FHIRPath Patch insert {number}: index {index} is past the end ({len(items)} items)")
    items.insert(index, value)


def _parent_and_name(resource: dict[str, Any], path: str, number: int) -> tuple[dict[str, Any], str]:
    head, _, name = path.rpartition(".")
    parent = _single(resolve_path(resource, head), head, number).get()
    if not isinstance(parent, dict) or not name.isidentifier():
        raise Unprocessable(f"FHIRPath Patch operation {number}: cannot insert at {path}")
    return parent, name


def _move(resource: dict[str, Any], path: str, parts: dict[str, Any], number: int) -> None:
    items, _ = _list_target(resource, path, number)
    source, destination = _index(parts, "source", number), _index(parts, "destination", number)
    if source >= len(items) or destination >= len(items):
        raise Unprocessable(f"FHIRPath Patch move {number}: source/destination outside 0..{len(items) - 1}")
    items.insert(destination, items.pop(source))


def _apply_operation(resource: dict[str, Any], operation: Any, number: int) -> None:
    if not isinstance(operation, dict) or operation.get("name") != "operation":
        raise BadRequest(f"Parameters.parameter[{number}] is not an 'operation'")
    parts = _parts(operation, number)
    kind = _primitive(parts.get("type"), ("valueCode", "valueString"))
    path = _primitive(parts.get("path"), ("valueString",))
    if kind not in FHIRPATH_OPS or not isinstance(path, str) or not path:
        raise BadRequest(f"FHIRPath Patch operation {number} needs type (one of {', '.join(FHIRPATH_OPS)}) and path")
    if kind == "add":
        _add(resource, path, parts, number)
    elif kind == "insert":
        _insert(resource, path, parts, number)
    elif kind == "move":
        _move(resource, path, parts, number)
    elif kind == "replace":
        _single(resolve_path(resource, path), path, number).set(_value(parts.get("value"), number))
    else:
        targets = resolve_path(resource, path)
        if len(targets) > 1:
            raise Unprocessable(f"FHIRPath Patch delete {number}: {path} matches {len(targets)} elements")
        if targets:
            targets[0].delete()


def apply_fhirpath_patch(resource: dict[str, Any], parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("A FHIRPath Patch is a Parameters resource")
    patched = copy.deepcopy(resource)
    for number, operation in enumerate(parameters.get("parameter", [])):
        _apply_operation(patched, operation, number)
    return _check_identity(resource, _prune(patched))


def _prune(node: Any) -> Any:
    """Drop lists and objects a delete left empty: FHIR JSON never carries empty ones."""
    if isinstance(node, dict):
        pruned = {k: _prune(v) for k, v in node.items()}
        return {k: v for k, v in pruned.items() if v not in ({}, [])}
    if isinstance(node, list):
        return [v for v in (_prune(item) for item in node) if v not in ({}, [])]
    return node
