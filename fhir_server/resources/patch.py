"""Patch bodies for the FHIR R4 patch interaction: JSON Patch and FHIRPath Patch.

Specs: http://hl7.org/fhir/R4/http.html#patch (JSON Patch, RFC 6902) and
http://hl7.org/fhir/R4/fhirpatch.html (FHIRPath Patch, a ``Parameters`` resource). Both are pure
functions from (resource, patch body) to a new resource; the input is never mutated. Neither may
change ``resourceType`` or ``id``. Failures raise ``PatchError``: status 400 for a malformed body,
422 for a well-formed one that cannot be applied. FHIRPath paths are located by ``fhirpath_patch``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Self, cast

import jsonpatch

from ..errors import BadRequest, FhirError, Issue, Unprocessable
from .fhirpath_patch import (
    ElementInfo,
    Location,
    PathError,
    Step,
    choice_keys,
    element_info,
    parse_steps,
    primitive_shadow,
    resolve,
    shadow,
    type_name,
    type_root,
)

__all__ = ["PatchError", "apply_fhirpath_patch", "apply_json_patch"]

JSON_PATCH_OPS: dict[str, tuple[str, ...]] = {
    "add": ("value",), "remove": (), "replace": ("value",), "move": ("from",), "copy": ("from",), "test": ("value",),
}
FHIRPATH_OPS: dict[str, tuple[str, ...]] = {
    "add": ("name", "value"), "insert": ("value", "index"), "delete": (), "replace": ("value",),
    "move": ("source", "destination"),
}
PART_NAMES = ("type", "path", "name", "value", "index", "source", "destination")


class PatchError(FhirError):
    """A patch that cannot be applied.

    ``status`` is 400 (malformed patch document) or 422 (well-formed but cannot apply), ``code``
    the OperationOutcome issue code, ``expression`` FHIRPath-style locations; ``str(e)`` is the message.
    """

    expression: list[str]

    def __new__(cls, message: str, status: int = 422, code: str = "processing",
                expression: list[str] | None = None) -> Self:
        # The instance's class also derives from BadRequest/Unprocessable with status and code set,
        # so the app's FhirError handler renders it and callers catching those classes still work.
        return cast(Self, super().__new__(_variant(status, code)))

    def __init__(self, message: str, status: int = 422, code: str = "processing",
                 expression: list[str] | None = None) -> None:
        self.expression = list(expression or [])
        super().__init__(message, [Issue("error", code, message, tuple(self.expression))])

    def __reduce__(self) -> tuple[Any, ...]:
        return PatchError, (self.message, self.status, self.code, self.expression)


@cache
def _variant(status: int, code: str) -> type[PatchError]:
    base = {400: BadRequest, 422: Unprocessable}.get(status, FhirError)
    return type(f"PatchError{status}", (PatchError, base), {"status": status, "code": code, "__module__": __name__})


def _keep_identity(before: dict[str, Any], after: Any) -> dict[str, Any]:
    if not isinstance(after, dict):
        raise PatchError("The patched result is not a resource (a JSON object)")
    for key in ("resourceType", "id"):
        if after.get(key) != before.get(key):
            raise PatchError(f"A patch may not change the {key} of a resource "
                             f"({before.get(key)!r} would become {after.get(key)!r})",
                             expression=[f"{before.get('resourceType')}.{key}"])
    return after


# --- JSON Patch -----------------------------------------------------------------------------------

def _pointer_expression(resource_type: str, pointer: Any) -> list[str]:
    """``/name/0/given`` -> ``Patient.name[0].given``, for OperationOutcome.issue.expression."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        return []
    expression = resource_type
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        expression += f"[{token}]" if token.isdigit() else ("" if token == "-" else f".{token}")
    return [expression]


def _check_json_operation(operation: Any, number: int) -> None:
    if not isinstance(operation, dict) or operation.get("op") not in JSON_PATCH_OPS:
        raise PatchError(f"JSON Patch operation {number} needs an 'op' (one of {', '.join(JSON_PATCH_OPS)})",
                         400, "invalid")
    needed = ("path", *JSON_PATCH_OPS[operation["op"]])
    missing = [member for member in needed if member not in operation]
    if missing or not isinstance(operation["path"], str) or not isinstance(operation.get("from", ""), str):
        raise PatchError(f"JSON Patch operation {number} ({operation['op']}) needs {', '.join(needed)} "
                         "(path and from are JSON Pointer strings)", 400, "invalid")


def apply_json_patch(resource: dict[str, Any], patch_document: object) -> dict[str, Any]:
    """Apply an RFC 6902 document (a JSON array of operations) to a copy of ``resource``."""
    if not isinstance(patch_document, list):
        raise PatchError("A JSON Patch body must be a JSON array of operations", 400, "invalid")
    for number, operation in enumerate(patch_document):
        _check_json_operation(operation, number)
    patched: Any = copy.deepcopy(resource)
    resource_type = str(resource.get("resourceType", ""))
    # one operation at a time so a failure can name its operation; the copy keeps it all-or-nothing
    for number, operation in enumerate(copy.deepcopy(patch_document)):
        where = _pointer_expression(resource_type, operation["path"])
        label = f"JSON Patch operation {number} ({operation['op']} {operation['path']})"
        try:
            patched = jsonpatch.JsonPatch([operation]).apply(patched, in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise PatchError(f"{label}: test failed: {exc}", 422, "processing", where) from exc
        except jsonpatch.InvalidJsonPatch as exc:
            raise PatchError(f"{label} is malformed: {exc}", 400, "invalid", where) from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, ValueError,
                KeyError, IndexError) as exc:
            raise PatchError(f"{label} cannot be applied: {exc}", 422, "processing", where) from exc
    return _keep_identity(resource, patched)


# --- FHIRPath Patch -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Value:
    data: Any
    suffix: str | None  # "Quantity" for valueQuantity; None for a value given as parts
    extra: Any = None  # the "_valueXxx" id/extensions of a primitive


@dataclass
class _Operation:
    number: int
    kind: str
    path: str
    steps: list[Step]
    parts: dict[str, dict[str, Any]]

    def fail(self, message: str, status: int = 422, code: str = "processing") -> PatchError:
        return PatchError(f"FHIRPath Patch operation {self.number} ({self.kind} at {self.path}): {message}",
                          status, code, [self.path])

    def text(self, name: str) -> Any:
        part = self.parts.get(name, {})
        return next((part[k] for k in ("valueString", "valueCode") if k in part), None)

    def integer(self, name: str) -> int:
        value = self.parts.get(name, {}).get("valueInteger")
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"needs an integer '{name}' part (valueInteger)", 400, "invalid")
        return value


def _read_parts(parameter: dict[str, Any], label: str) -> dict[str, dict[str, Any]]:
    parts: dict[str, dict[str, Any]] = {}
    raw = parameter.get("part", [])
    for part in raw if isinstance(raw, list) else [None]:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(part, dict) or name not in PART_NAMES:
            raise PatchError(f"{label}: each part needs a name, one of {', '.join(PART_NAMES)}; got {name!r}",
                             400, "invalid", [label])
        if name in parts:
            raise PatchError(f"{label} has more than one '{name}' part", 400, "invalid", [label])
        parts[name] = part
    return parts


def _read_operation(parameter: Any, number: int) -> _Operation:
    """Check one ``operation`` parameter up front, so a malformed body fails with 400 before any 422."""
    label = f"Parameters.parameter[{number}]"
    if not isinstance(parameter, dict) or parameter.get("name") != "operation":
        raise PatchError(f"{label} must be a parameter named 'operation'", 400, "invalid", [label])
    parts = _read_parts(parameter, label)
    kind, path = parts.get("type", {}).get("valueCode"), parts.get("path", {}).get("valueString")
    if kind not in FHIRPATH_OPS or not isinstance(path, str) or not path.strip():
        raise PatchError(f"{label} needs a 'type' part (valueCode: {' | '.join(FHIRPATH_OPS)}) and a 'path' part "
                         "(valueString)", 400, "invalid", [label])
    op = _Operation(number, kind, path, [], parts)
    missing = [name for name in FHIRPATH_OPS[kind] if name not in parts]
    if missing:
        raise op.fail(f"needs the part(s) {', '.join(missing)}", 400, "invalid")
    if kind == "add" and not (isinstance(op.text("name"), str) and op.text("name").isidentifier()):
        raise op.fail("'name' must be an element name (valueString)", 400, "invalid")
    for name in ("index", "source", "destination"):
        if name in FHIRPATH_OPS[kind]:
            op.integer(name)
    op.steps = _parse(op, path)
    return op


def _parse(op: _Operation, path: str) -> list[Step]:
    try:
        return parse_steps(path)
    except PathError as exc:
        raise op.fail(str(exc), exc.status, exc.code) from exc


def _locate(op: _Operation, resource: dict[str, Any], steps: list[Step] | None = None) -> list[Location]:
    try:
        return resolve(resource, op.steps if steps is None else steps)
    except PathError as exc:
        raise op.fail(str(exc), exc.status, exc.code) from exc


def _single(op: _Operation, found: list[Location]) -> Location:
    if len(found) != 1:
        what = "nothing" if not found else f"{len(found)} elements"
        raise op.fail(f"the path matches {what}; this operation needs exactly one element")
    return found[0]


def _part_value(op: _Operation, part: dict[str, Any], type_path: tuple[str, ...]) -> _Value:
    typed = [key for key in part if key.startswith("value") and key[5:6].isupper()]
    if len(typed) > 1:
        raise op.fail(f"a value part has more than one value[x]: {', '.join(typed)}", 400, "invalid")
    if typed:
        return _Value(copy.deepcopy(part[typed[0]]), typed[0][5:], copy.deepcopy(part.get("_" + typed[0])))
    if isinstance(part.get("resource"), dict):
        return _Value(copy.deepcopy(part["resource"]), str(part["resource"].get("resourceType")))
    if isinstance(part.get("part"), list) and part["part"]:
        return _Value(_compose(op, part["part"], type_path), None)
    raise op.fail("a value part needs a value[x], a resource or nested parts", 400, "invalid")


def _compose(op: _Operation, parts: list[Any], type_path: tuple[str, ...]) -> dict[str, Any]:
    """A complex value given as parts named after its elements (fhirpatch.html: anonymous types)."""
    composed: dict[str, Any] = {}
    for part in parts:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or not name.isidentifier():
            raise op.fail(f"a nested value part needs an element name, got {name!r}", 400, "invalid")
        value = _part_value(op, part, (*type_path, name))
        key, info = _element_key(op, type_path, name, value)
        if key in composed and info is not None and not info.repeats:
            raise op.fail(f"{'.'.join((*type_path, key))} can occur only once")
        if key in composed:
            current = composed[key]
            composed[key] = [*(current if isinstance(current, list) else [current]), value.data]
        else:
            composed[key] = [value.data] if info is not None and info.repeats else value.data
    return composed


def _element_key(op: _Operation, type_path: tuple[str, ...], name: str,
                 value: _Value) -> tuple[str, ElementInfo | None]:
    """The JSON key for element ``name`` holding ``value``: ``deceased`` + valueBoolean -> ``deceasedBoolean``."""
    info = element_info((*type_path, name))
    if info is None or not info.choice:
        return name, info
    base = info.name.removesuffix("[x]")
    suffix = (value.suffix or "") if name == base else name[len(base):]
    chosen = type_name(suffix) if suffix else None
    if chosen is None or chosen not in info.types:
        raise op.fail(f"{'.'.join((*type_path, base))}[x] needs a value of one of the types {', '.join(info.types)}")
    return base + suffix[:1].upper() + suffix[1:], info


def _set_extra(container: dict[str, Any], key: str, index: int | None, extra: Any) -> None:
    """Keep the ``_key`` primitive id/extension sibling in step with a value just written."""
    if index is None:
        if extra is None:
            container.pop("_" + key, None)
        else:
            container["_" + key] = extra
        return
    extras = shadow(container, key)
    if extras is None and extra is not None:
        extras = container["_" + key] = [None] * len(container[key])
    if extras is not None:
        extras[index] = extra


def _add(op: _Operation, resource: dict[str, Any]) -> None:
    target = _single(op, _locate(op, resource))
    node, name = target.get(), str(op.text("name"))
    if not isinstance(node, dict) and name in ("id", "extension"):
        node = primitive_shadow(target, create=True)
    if not isinstance(node, dict):
        raise op.fail(f"the path selects a primitive value; cannot add '{name}' to it")
    base = type_root(target)
    value = _value(op, (*base, name))
    key, info = _element_key(op, base, name, value)
    if info is None and element_info(base) is not None:
        raise op.fail(f"{'.'.join(base)} has no element '{name}' in FHIR R4")
    if info is not None and info.choice and set(choice_keys(node, info.name.removesuffix("[x]"))) - {key}:
        raise op.fail(f"'{name}' already has a value of another type (use replace)")
    existing = node.get(key)
    if isinstance(existing, list):
        extras = shadow(node, key)
        existing.append(value.data)
        if extras is not None:
            extras.append(None)
        _set_extra(node, key, len(existing) - 1, value.extra)
    elif key in node:
        raise op.fail(f"'{key}' already has a value and does not repeat (use replace)")
    else:
        repeats = info is not None and info.repeats
        node[key] = [value.data] if repeats else value.data
        _set_extra(node, key, 0 if repeats else None, value.extra)


def _value(op: _Operation, type_path: tuple[str, ...]) -> _Value:
    return _part_value(op, op.parts["value"], type_path)


def _list_at(op: _Operation, resource: dict[str, Any], create: bool) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """The container and key of the one list the path names (insert and move work on a whole list)."""
    if op.steps[-1].kind != "name":
        raise op.fail("insert and move need a path ending in a repeating element's name, e.g. Patient.identifier",
                      400, "not-supported")
    found = _locate(op, resource)
    if len({(id(loc.container), loc.key) for loc in found}) > 1:
        raise op.fail("the path matches elements in more than one list")
    if found:
        if found[0].index is None:
            raise op.fail("the path selects an element that does not repeat")
        return found[0].container, found[0].key, found[0].type_path
    parent = _single(op, _locate(op, resource, op.steps[:-1]))
    node, name = parent.get(), op.steps[-1].arg
    base = type_root(parent)
    info = element_info((*base, name))
    known = info is not None or element_info(base) is None
    if not create or not isinstance(node, dict) or not known or (info is not None and not info.repeats):
        raise op.fail("the path does not name an existing list of a repeating element")
    node[name] = []
    return node, name, (*base, name)


def _insert(op: _Operation, resource: dict[str, Any]) -> None:
    container, key, type_path = _list_at(op, resource, create=True)
    items, index = container[key], op.integer("index")
    if not 0 <= index <= len(items):
        raise op.fail(f"index {index} is outside 0..{len(items)} (the list has {len(items)} items)")
    value = _value(op, type_path)
    extras = shadow(container, key)
    items.insert(index, value.data)
    if extras is not None:
        extras.insert(index, None)
    _set_extra(container, key, index, value.extra)


def _move(op: _Operation, resource: dict[str, Any]) -> None:
    container, key, _ = _list_at(op, resource, create=False)
    items, source, destination = container[key], op.integer("source"), op.integer("destination")
    if not (0 <= source < len(items) and 0 <= destination < len(items)):
        raise op.fail(f"source {source} and destination {destination} must be within 0..{len(items) - 1}")
    for values in (items, shadow(container, key)):
        if values is not None:
            values.insert(destination, values.pop(source))


def _replace(op: _Operation, resource: dict[str, Any]) -> None:
    target = _single(op, _locate(op, resource))
    value = _value(op, target.type_path)
    if target.is_root:
        if not isinstance(value.data, dict):
            raise op.fail("the whole resource can only be replaced by a resource")
        resource.clear()
        resource.update(value.data)
        return
    key = target.key
    if target.is_choice:
        key, _ = _element_key(op, target.owner, target.element, value)
        del target.container[target.key]
        target.container.pop("_" + target.key, None)
    if target.index is None:
        target.container[key] = value.data
    else:
        target.container[key][target.index] = value.data
    _set_extra(target.container, key, target.index, value.extra)


def _delete(op: _Operation, resource: dict[str, Any]) -> None:
    found = _locate(op, resource)
    if not found:
        return  # fhirpatch.html: delete the element "if found"
    target = _single(op, found)
    if target.is_root:
        raise op.fail("a patch cannot delete the resource itself")
    extras = shadow(target.container, target.key)
    if target.index is None:
        del target.container[target.key]
        target.container.pop("_" + target.key, None)
        return
    del target.container[target.key][target.index]
    if extras is not None:
        del extras[target.index]


def _prune(node: Any, aligned: bool = False) -> bool:
    """Drop objects and lists an operation left empty (FHIR JSON never has them); True if ``node`` is empty.

    In an ``aligned`` list (``_given`` next to ``given``) an emptied item becomes null rather than
    going, so the items still line up with the values.
    """
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            if _prune(value, key.startswith("_")):
                del node[key]
        return not node
    if isinstance(node, list):
        if aligned:
            node[:] = [None if _prune(item) else item for item in node]
            return all(item is None for item in node)
        node[:] = [item for item in node if not _prune(item)]
        return not node
    return False


_OPERATIONS: dict[str, Callable[[_Operation, dict[str, Any]], None]] = {
    "add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move,
}


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Apply a FHIRPath Patch ``Parameters`` resource to a copy of ``resource``."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise PatchError("A FHIRPath Patch body must be a Parameters resource", 400, "invalid")
    raw = parameters.get("parameter", [])
    if not isinstance(raw, list):
        raise PatchError("Parameters.parameter must be a list of operations", 400, "invalid")
    operations = [_read_operation(parameter, number) for number, parameter in enumerate(raw)]
    patched = copy.deepcopy(resource)
    for op in operations:
        _OPERATIONS[op.kind](op, patched)
        _prune(patched)
    return _keep_identity(resource, patched)
