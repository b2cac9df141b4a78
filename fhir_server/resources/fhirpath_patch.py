"""Locating the elements a FHIRPath Patch path names (http://hl7.org/fhir/R4/fhirpatch.html).

FHIRPath evaluates to values, but a patch needs *places* in the resource's JSON, so the path is
walked here rather than handed to fhirpathpy. Supported: element names from the resource root
(``Patient.name.given``), ``[n]``, ``first()``, ``last()``, ``where(criteria)`` (criteria are
evaluated by fhirpathpy with the R4 model on each candidate), ``ofType(T)``, ``extension(url)``
and choice elements (``Observation.value`` finds ``valueQuantity``). Anything else raises
``PathError`` (400 not-supported) instead of guessing. Element cardinality and choice types come
from the vendored R4 StructureDefinitions. ``patch.py`` turns ``PathError`` into ``PatchError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

from ..definitions import definitions

__all__ = ["ElementInfo", "Location", "PathError", "Step", "choice_keys", "element_info", "parse_steps",
           "primitive_shadow", "resolve", "shadow", "type_name", "type_root"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[\s*(\d+)\s*\]", re.ASCII)  # ASCII digits: \d alone takes Arabic-Indic digits
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'")
FUNCTIONS = ("where", "first", "last", "ofType", "extension")
_ROOT = "$root"


class PathError(ValueError):
    """A path that cannot be walked; ``status``/``code`` say how the request should fail."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class ElementInfo:
    """What the R4 definitions say about one element."""

    name: str  # last segment of the element path, e.g. "value[x]"
    repeats: bool
    choice: bool
    types: tuple[str, ...]


@dataclass
class Location:
    """``container[key]``, or ``container[key][index]`` for one item of a repeating element.

    ``element`` is the FHIRPath name (``value`` for the JSON key ``valueQuantity``); ``type_path``
    the element names from the nearest type root, for definition look-ups (a chosen type, e.g.
    ``("Quantity",)``, for a choice element); ``owner`` the type path of the containing element.
    """

    container: dict[str, Any]
    key: str
    index: int | None = None
    element: str = ""
    type_path: tuple[str, ...] = field(default_factory=tuple)
    owner: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_root(self) -> bool:
        return self.key == _ROOT

    @property
    def is_choice(self) -> bool:
        return self.element != self.key and not self.is_root

    def get(self) -> Any:
        value = self.container[self.key]
        return value if self.index is None else value[self.index]

    def items(self) -> list[Any] | None:
        """The list holding this item, when it is one item of a repeating element."""
        return self.container[self.key] if self.index is not None else None


@dataclass(frozen=True)
class Step:
    kind: str  # "name", "index", or one of FUNCTIONS
    arg: str = ""


def shadow(container: dict[str, Any], key: str) -> list[Any] | None:
    """The ``_key`` list carrying ids/extensions of a primitive list, when it lines up with it."""
    values, extras = container.get(key), container.get("_" + key)
    if isinstance(values, list) and isinstance(extras, list) and len(extras) == len(values):
        return extras
    return None


def primitive_shadow(loc: Location, create: bool = False) -> dict[str, Any] | None:
    """The ``_key`` object holding a primitive's id and extensions (made when ``create``)."""
    key = "_" + loc.key
    if loc.index is None:
        if create and not isinstance(loc.container.get(key), dict):
            loc.container[key] = {}
        extra = loc.container.get(key)
        return extra if isinstance(extra, dict) else None
    extras = shadow(loc.container, loc.key)
    if extras is None and create:
        extras = loc.container[key] = [None] * len(loc.container[loc.key])
    if extras is not None and create and not isinstance(extras[loc.index], dict):
        extras[loc.index] = {}
    return extras[loc.index] if extras is not None and isinstance(extras[loc.index], dict) else None


def _call_argument(path: str, start: int) -> tuple[str, int]:
    """The text inside a call opened just before ``start``, and the position after its ')'."""
    depth, quote, i = 1, "", start
    while i < len(path):
        char = path[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return path[start:i].strip(), i + 1
        i += 1
    raise PathError(f"Unbalanced parentheses in path {path!r}")


def _function_step(path: str, name: str, arg: str) -> Step:
    if name not in FUNCTIONS:
        raise PathError(f"Function {name}() is not supported in a patch path {path!r}; supported: "
                        f"{', '.join(f + '()' for f in FUNCTIONS)}", code="not-supported")
    if name in ("first", "last") and arg:
        raise PathError(f"{name}() takes no argument in path {path!r}")
    if name == "where" and not arg:
        raise PathError(f"where() needs criteria in path {path!r}")
    if name == "ofType":
        arg = arg.removeprefix("FHIR.").removeprefix("System.")
        if not _IDENT.fullmatch(arg):
            raise PathError(f"ofType() needs a type name in path {path!r}")
    if name == "extension":
        literal = _STRING.fullmatch(arg)
        if not literal:
            raise PathError(f"extension() needs a quoted url in path {path!r}")
        arg = literal.group(1)
    return Step(name, arg)


def parse_steps(path: str) -> list[Step]:
    """Split a path into steps; any form outside the supported subset is refused."""
    steps: list[Step] = []
    i, text = 0, path.strip()
    while i < len(text):
        if text[i].isspace() or (text[i] == "." and steps):
            i += 1
            continue
        index = _INDEX.match(text, i)
        if index and steps:
            steps.append(Step("index", index.group(1)))
            i = index.end()
            continue
        name = _IDENT.match(text, i)
        if not name:
            raise PathError(f"Patch paths are element names, [n] and {', '.join(FUNCTIONS)}(); cannot read "
                            f"{path!r} at {text[i:]!r}", code="not-supported")
        i = name.end()
        if i < len(text) and text[i] == "(":
            arg, i = _call_argument(text, i + 1)
            steps.append(_function_step(path, name.group(0), arg))
        else:
            steps.append(Step("name", name.group(0)))
    if not steps:
        raise PathError("A patch path may not be empty")
    return steps


@cache
def _table(name: str) -> dict[str, dict[str, Any]]:
    sd = definitions().types.get(name)
    return {e["path"]: e for e in sd["snapshot"]["element"]} if sd else {}


def type_name(suffix: str) -> str | None:
    """``Quantity`` -> ``Quantity``, ``DateTime`` -> ``dateTime``: the FHIR type a choice suffix names."""
    types = definitions().types
    for candidate in (suffix, suffix[:1].lower() + suffix[1:]):
        if candidate in types:
            return candidate
    return None


def _lookup(table: dict[str, dict[str, Any]], parent: str, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The element ``parent.name`` (and the chosen type when ``name`` is e.g. ``valueQuantity``)."""
    element = table.get(f"{parent}.{name}") or table.get(f"{parent}.{name}[x]")
    if element is not None:
        return element, None
    for i in range(1, len(name)):
        if name[i].isupper() and f"{parent}.{name[:i]}[x]" in table:
            return table[f"{parent}.{name[:i]}[x]"], type_name(name[i:])
    return None, None


def _children_table(element: dict[str, Any], table: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Where the children of ``element`` are defined: in place, by contentReference, or in its datatype."""
    if "contentReference" in element:
        return table, element["contentReference"].lstrip("#")
    path = element["path"].removesuffix("[x]")
    codes = [t["code"] for t in element.get("type", [])]
    if len(codes) == 1 and codes[0] not in ("BackboneElement", "Element") and _table(codes[0]):
        return _table(codes[0]), codes[0]
    return table, path


@cache
def _element_info(type_path: tuple[str, ...]) -> ElementInfo | None:
    table = _table(type_path[0])
    element, chosen = table.get(type_path[0]), None
    for name in type_path[1:]:
        if element is None:
            return None
        # below ``valueQuantity`` the children are Quantity's, whatever else value[x] allows
        table, parent = (_table(chosen), chosen) if chosen else _children_table(element, table)
        element, chosen = _lookup(table, parent, name)
    if element is None:
        return None
    types = tuple(t["code"] for t in element.get("type", []))
    path = str(element["path"])
    return ElementInfo(path.rsplit(".", 1)[-1], element.get("max") not in ("0", "1"), path.endswith("[x]"), types)


def element_info(type_path: tuple[str, ...]) -> ElementInfo | None:
    """Cardinality and type of the element at ``(Type, name, ...)``; None if R4 does not define it."""
    return _element_info(type_path) if type_path else None


def _choice_type(key: str, element: str) -> str | None:
    suffix = key[len(element):]
    return type_name(suffix) if key.startswith(element) and suffix[:1].isupper() else None


def choice_keys(node: dict[str, Any], element: str) -> list[str]:
    """The JSON keys in ``node`` that carry the choice element ``element`` (``value`` -> ``valueQuantity``)."""
    return [key for key in node if _choice_type(key, element)]


def type_root(loc: Location) -> tuple[str, ...]:
    """The type path under which the children of ``loc`` are defined."""
    node = loc.get()
    return (node["resourceType"],) if isinstance(node, dict) and isinstance(node.get("resourceType"), str) \
        else loc.type_path


def _children(loc: Location, name: str) -> list[Location]:
    node = loc.get()
    if not isinstance(node, dict):
        # FHIRPath reaches a primitive's id and extensions, which JSON keeps in "_key"
        node = primitive_shadow(loc) if name in ("id", "extension") else None
        if node is None:
            return []
    base = type_root(loc)
    info = element_info((*base, name))
    keys = [name] if name in node else []
    if not keys and (info is None or info.choice):
        keys = choice_keys(node, name)
    found: list[Location] = []
    for key in keys:
        chosen = _choice_type(key, name) if key != name else None
        type_path = (chosen,) if chosen else (*base, name)
        value = node[key]
        if isinstance(value, list):
            found += [Location(node, key, i, name, type_path, base) for i in range(len(value))]
        else:
            found.append(Location(node, key, None, name, type_path, base))
    return found


def _type_of(loc: Location) -> str | None:
    node = loc.get()
    if isinstance(node, dict) and isinstance(node.get("resourceType"), str):
        return str(node["resourceType"])
    if loc.is_choice:
        return loc.type_path[0]
    info = element_info(loc.type_path)
    return info.types[0] if info and len(info.types) == 1 else None


def _matches(loc: Location, criteria: str, root: dict[str, Any]) -> bool:
    node = loc.get()
    base = ".".join(type_root(loc))
    try:
        result = fhirpathpy.evaluate(node, {"base": base, "expression": criteria},
                                     {"resource": root, "rootResource": root}, models["r4"])
    except Exception as exc:  # fhirpathpy signals bad expressions with bare Exception and others
        raise PathError(f"Cannot evaluate where({criteria}): {exc}") from exc
    return result == [True]


def _apply(step: Step, current: list[Location], root: dict[str, Any]) -> list[Location]:
    if step.kind == "name":
        return [child for loc in current for child in _children(loc, step.arg)]
    if step.kind == "index":
        position = int(step.arg)
        return current[position:position + 1]
    if step.kind == "first":
        return current[:1]
    if step.kind == "last":
        return current[-1:]
    if step.kind == "ofType":
        return [loc for loc in current if (_type_of(loc) or "").lower() == step.arg.lower()]
    if step.kind == "extension":
        extensions = [child for loc in current for child in _children(loc, "extension")]
        return [loc for loc in extensions if isinstance(loc.get(), dict) and loc.get().get("url") == step.arg]
    return [loc for loc in current if _matches(loc, step.arg, root)]


def resolve(resource: dict[str, Any], steps: list[Step]) -> list[Location]:
    """Every place the steps select, in document order (the resource itself is the start)."""
    resource_type = str(resource.get("resourceType", ""))
    if steps and steps[0].kind == "name" and steps[0].arg[:1].isupper():
        if steps[0].arg != resource_type:
            raise PathError(f"The path starts at {steps[0].arg} but the resource is a {resource_type}",
                            status=422, code="processing")
        steps = steps[1:]
    current = [Location({_ROOT: resource}, _ROOT, None, resource_type, (resource_type,))]
    for step in steps:
        current = _apply(step, current, resource)
    return current
