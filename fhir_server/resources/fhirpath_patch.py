"""Resolving FHIRPath Patch paths to places in a resource's JSON (http://hl7.org/fhir/R4/fhirpatch.html).

FHIRPath evaluates to values, but a patch needs *locations*, so the path is walked here:
``Type.element``, ``[n]``, ``first()``, ``last()``, ``where(criteria)`` (criteria evaluated by
fhirpathpy on each candidate), ``ofType(T)`` and choice elements (``Observation.value``
finds ``valueQuantity``). Any other function is refused (400 not-supported) rather than
guessed. Whether a new element repeats comes from the R4 StructureDefinitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import fhirpathpy

from ..definitions import definitions
from ..errors import BadRequest

__all__ = ["Target", "resolve_path", "element_repeats"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[(\d+)\]")
FUNCTIONS = ("where", "first", "last", "ofType")


class PathNotSupported(BadRequest):
    code = "not-supported"


@dataclass
class Target:
    """One location: ``parent[key]``; ``owner_list`` is the list holding it, if it repeats."""

    parent: Any
    key: Any
    owner_list: list[Any] | None = None

    def get(self) -> Any:
        return self.parent[self.key]

    def set(self, value: Any) -> None:
        self.parent[self.key] = value

    def delete(self) -> None:
        del self.parent[self.key]


@dataclass(frozen=True)
class Step:
    kind: str  # "name", "index", or a function name
    arg: str = ""


def _call(path: str, start: int) -> tuple[str, int]:
    """The argument text of a call opened at ``start`` (just after '('), and the index after ')'."""
    depth, i, quote = 1, start, ""
    while i < len(path):
        char = path[i]
        if quote:
            quote = "" if char == quote and path[i - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return path[start:i], i + 1
        i += 1
    raise BadRequest(f"Unbalanced parentheses in FHIRPath Patch path {path!r}")


def parse_steps(path: str) -> list[Step]:
    steps: list[Step] = []
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
        index = _INDEX.match(path, i)
        if index:
            steps.append(Step("index", index.group(1)))
            i = index.end()
            continue
        name = _IDENT.match(path, i)
        if not name:
            raise BadRequest(f"Cannot read FHIRPath Patch path {path!r} at position {i}")
        i = name.end()
        if i < len(path) and path[i] == "(":
            if name.group(0) not in FUNCTIONS:
                raise PathNotSupported(f"FHIRPath Patch paths may use {', '.join(FUNCTIONS)}; "
                                       f"{name.group(0)}() is not supported")
            arg, i = _call(path, i + 1)
            steps.append(Step(name.group(0), arg.strip()))
        else:
            steps.append(Step("name", name.group(0)))
    return steps


def _children(target: Target, name: str) -> list[Target]:
    node = target.get()
    if not isinstance(node, dict):
        return []
    keys = [name] if name in node else [k for k in node if k.startswith(name) and k[len(name):len(name) + 1].isupper()]
    out: list[Target] = []
    for key in keys:
        value = node[key]
        if isinstance(value, list):
            out += [Target(value, i, value) for i in range(len(value))]
        else:
            out.append(Target(node, key))
    return out


def _matches(node: Any, criteria: str) -> bool:
    try:
        return fhirpathpy.evaluate(node, criteria, {}) == [True]
    except Exception as exc:  # fhirpathpy raises many types for bad expressions
        raise BadRequest(f"Cannot evaluate where({criteria}): {exc}") from exc


def _of_type(target: Target, type_name: str) -> bool:
    node = target.get()
    if isinstance(node, dict) and "resourceType" in node:
        return bool(node["resourceType"] == type_name)
    return isinstance(target.key, str) and target.key.endswith(type_name[:1].upper() + type_name[1:])


def _apply(step: Step, current: list[Target]) -> list[Target]:
    if step.kind == "name":
        return [child for t in current for child in _children(t, step.arg)]
    if step.kind == "index":
        position = int(step.arg)
        return current[position:position + 1]
    if step.kind == "first":
        return current[:1]
    if step.kind == "last":
        return current[-1:]
    if step.kind == "ofType":
        return [t for t in current if _of_type(t, step.arg)]
    return [t for t in current if _matches(t.get(), step.arg)]


def resolve_path(resource: dict[str, Any], path: str) -> list[Target]:
    """Every location the path selects, in document order."""
    steps = parse_steps(path)
    holder = {"root": resource}
    current = [Target(holder, "root")]
    if steps and steps[0].kind == "name" and steps[0].arg == resource.get("resourceType"):
        steps = steps[1:]
    for step in steps:
        current = _apply(step, current)
    return current


def _type_path(path: str) -> list[str]:
    """``Patient.contact[0].where(x).telecom`` -> ["Patient", "contact", "telecom"]."""
    return [s.arg for s in parse_steps(path) if s.kind == "name"]


@cache
def _table(type_name: str) -> dict[str, dict[str, Any]]:
    sd = definitions().types.get(type_name)
    return {e["path"]: e for e in sd["snapshot"]["element"]} if sd else {}


def _lookup(table: dict[str, dict[str, Any]], path: str) -> dict[str, Any] | None:
    return table.get(path) or table.get(path + "[x]")


def _element(names: list[str]) -> dict[str, Any] | None:
    """The ElementDefinition at a dotted element path, following datatypes and contentReference."""
    table, current = _table(names[0]), names[0]
    element: dict[str, Any] | None = None
    for name in names[1:]:
        element = _lookup(table, f"{current}.{name}")
        parent = table.get(current, {})
        if element is None and "contentReference" in parent:
            current = parent["contentReference"].lstrip("#")
            element = _lookup(table, f"{current}.{name}")
        if element is None and parent.get("type"):
            current = parent["type"][0]["code"]
            table = _table(current)
            element = _lookup(table, f"{current}.{name}")
        if element is None:
            return None
        current = element["path"].removesuffix("[x]")
    return element


def element_repeats(resource: dict[str, Any], path: str, name: str) -> bool:
    """True when ``path.name`` is a repeating element (max ``*`` or > 1) in R4."""
    names = _type_path(path)
    if not names or names[0] != resource.get("resourceType"):
        names = [str(resource.get("resourceType")), *names]
    element = _element([*names, name])
    return element is not None and element.get("max") not in ("0", "1")
