"""Values of a SearchParameter's FHIRPath expression, for indexing at write time.

http://hl7.org/fhir/R4/searchparameter.html#SearchParameter.expression and
http://hl7.org/fhir/R4/fhirpath.html#search. Each expression is compiled once. Almost all
official expressions are dotted paths with a few well-known functions (``as(T)``,
``ofType(T)``, ``where(resolve() is T)``, ``where(field='literal')``, ``extension('url')``,
``first()``, ``[n]``); those run on a small native walker over the JSON (fast enough for
hundreds of writes a second). Anything else falls back to fhirpathpy.

``resolve() is T`` in a search expression means "a reference to a T": it is decided from
the reference text (``T/id``, ``.../T/id``), ``Reference.type``, or a contained target.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..fhir.fhirpath_env import (
    choice_suffixes,
    compile_expression,
    resolving,
    top_level_positions,
    typed_node,
)

__all__ = ["Node", "Extractor", "compile_path", "root_keys", "split_union", "reference_type", "text_leaves"]

# A node is (value, type hint): the hint is the choice suffix (``Quantity``, ``DateTime``)
# when the value came from a choice element, else None; the index types duck-type the rest.
Node = tuple[Any, str | None]
Extractor = Callable[[dict[str, Any], Any], list[Node]]

_CHOICES = choice_suffixes()
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_AS_PAREN = re.compile(rf"^\((?P<path>[^()]+?) as (?P<type>{_IDENT})\)(?P<rest>(\.[^|]*)?)$")
_WHERE_RESOLVE = re.compile(rf"^where\(resolve\(\) is (?P<type>{_IDENT})\)$")
_WHERE_EQ = re.compile(rf"^where\((?P<field>{_IDENT}) ?= ?'(?P<lit>[^']*)'\)$")
_TYPE_FN = re.compile(rf"^(?:as|ofType)\((?P<type>{_IDENT})\)$")
_EXTENSION = re.compile(r"^extension\('(?P<url>[^']*)'\)$")
_INDEX = re.compile(rf"^(?P<name>{_IDENT})\[(?P<index>\d+)\]$")


def split_union(expression: str) -> list[str]:
    """Split on top-level ``|`` (outside parentheses and quotes)."""
    parts, start = [], 0
    for i in top_level_positions(expression):
        if expression[i] == "|":
            parts.append(expression[start:i].strip())
            start = i + 1
    parts.append(expression[start:].strip())
    return [p for p in parts if p]


def _split_steps(path: str) -> list[str]:
    steps, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(path):
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and ch == ".":
            steps.append(path[start:i].strip())
            start = i + 1
    steps.append(path[start:].strip())
    return steps


def reference_type(ref: Any, root: dict[str, Any] | None = None) -> str | None:
    """The resource type a Reference (or reference string) points at, when knowable."""
    if isinstance(ref, dict):
        if ref.get("type"):
            return str(ref["type"])
        ref = ref.get("reference")
    if not isinstance(ref, str):
        return None
    if ref.startswith("#"):
        if root is None:
            return None
        target = next((c for c in root.get("contained", ()) if c.get("id") == ref[1:]), None)
        return target.get("resourceType") if isinstance(target, dict) else None
    segments = ref.split("?")[0].split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        segments = segments[:-2]
    return segments[-2] if len(segments) >= 2 and segments[-2][:1].isupper() else None


# ---- native steps: each maps a list of nodes to a list of nodes --------------------------

Step = Callable[[list[Node], dict[str, Any]], list[Node]]


def _flatten(value: Any, hint: str | None, out: list[Node]) -> None:
    if isinstance(value, list):
        out.extend((v, hint) for v in value if v is not None)
    elif value is not None:
        out.append((value, hint))


def _choice_keys(name: str) -> dict[str, str]:
    """A choice element's JSON keys and their type hints (``valueQuantity`` -> ``Quantity``);
    empty for other elements."""
    return {name + s[0].upper() + s[1:]: s[0].upper() + s[1:] for s in _CHOICES.get(name, ())}


def _child(name: str) -> Step:
    # A choice element's keys are found by scanning the object's few keys rather than trying
    # each of the up to 50 choice types.
    choice_keys = _choice_keys(name)

    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        out: list[Node] = []
        for value, _ in nodes:
            if not isinstance(value, dict):
                continue
            if name in value:
                _flatten(value[name], None, out)
            elif choice_keys:
                for key in value:
                    hint = choice_keys.get(key)
                    if hint is not None:
                        _flatten(value[key], hint, out)
        return out

    return step


def _type_filter(type_name: str) -> Step:
    wanted = type_name[0].upper() + type_name[1:]
    aliases = {"Quantity": {"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "Money"}}
    accepted = aliases.get(wanted, {wanted})

    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        return [(v, h or wanted) for v, h in nodes if h is None or h in accepted]

    return step


def _resolve_is(type_name: str) -> Step:
    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        return [(v, h) for v, h in nodes if reference_type(v, root) == type_name]

    return step


def _field_equals(field: str, literal: str) -> Step:
    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        return [(v, h) for v, h in nodes if isinstance(v, dict) and v.get(field) == literal]

    return step


def _extension(url: str) -> Step:
    child = _child("extension")

    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        return [(v, h) for v, h in child(nodes, root) if isinstance(v, dict) and v.get("url") == url]

    return step


def _first(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
    return nodes[:1]


def _indexed(name: str, index: int) -> Step:
    child = _child(name)

    def step(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
        out = []
        for node in nodes:
            values = child([node], root)
            if index < len(values):
                out.append(values[index])
        return out

    return step


def _root(nodes: list[Node], root: dict[str, Any]) -> list[Node]:
    return [(root, None)]


def _native_step(text: str) -> Step | None:
    if text in ("%resource", "%rootResource"):
        return _root
    if re.fullmatch(_IDENT, text):
        return _child(text)
    if m := _TYPE_FN.match(text):
        return _type_filter(m["type"])
    if m := _WHERE_RESOLVE.match(text):
        return _resolve_is(m["type"])
    if m := _WHERE_EQ.match(text):
        return _field_equals(m["field"], m["lit"])
    if m := _EXTENSION.match(text):
        return _extension(m["url"])
    if m := _INDEX.match(text):
        return _indexed(m["name"], int(m["index"]))
    if text == "first()":
        return _first
    return None


@dataclass(frozen=True)
class _Native:
    steps: tuple[Step, ...]

    def __call__(self, focus: dict[str, Any], root: Any) -> list[Node]:
        nodes: list[Node] = [(focus, None)]
        for step in self.steps:
            nodes = step(nodes, root)
            if not nodes:
                break
        return nodes


def _steps_text(part: str, relative: bool) -> list[str]:
    rest_steps: list[str] = []
    m = _AS_PAREN.match(part)
    if m:
        part = m["path"]
        rest_steps = [f"as({m['type']})", *_split_steps(m["rest"][1:])] if m["rest"] else [f"as({m['type']})"]
    steps_text = _split_steps(part) + rest_steps
    return steps_text if relative else steps_text[1:]  # the leading type name is the focus itself


def _native(part: str, relative: bool) -> _Native | None:
    steps = [_native_step(s) for s in _steps_text(part, relative)]
    if any(s is None for s in steps):
        return None
    return _Native(tuple(s for s in steps if s is not None))


def _unwrap(item: Any) -> Node:
    data = getattr(item, "data", item)
    path = getattr(item, "path", None)
    if not isinstance(data, dict | list | str | int | float | bool) and data is not None:
        data = str(data)  # fhirpathpy date/time/quantity objects
    return data, path if isinstance(path, str) and path[:1].isupper() and "." not in path else None


def _fallback(part: str) -> Extractor:
    compiled = compile_expression(part)

    def run(focus: dict[str, Any], root: Any) -> list[Node]:
        with resolving(root if isinstance(root, dict) else focus):
            try:
                result = compiled(typed_node(focus, focus.get("resourceType")), {})
            except Exception:  # noqa: BLE001 - an expression that cannot run on this content yields nothing
                return []
        return [_unwrap(item) for item in result if item is not None]

    return run


def compile_path(parts: list[str], relative: bool = False) -> tuple[Extractor, int]:
    """One extractor for the union of ``parts``; also returns how many parts need fhirpathpy."""
    runners: list[Extractor] = []
    slow = 0
    for part in parts:
        native = _native(part, relative)
        if native is None:
            slow += 1
            runners.append(_fallback(part))
        else:
            runners.append(native)
    if len(runners) == 1:
        return runners[0], slow

    def union(focus: dict[str, Any], root: Any) -> list[Node]:
        return [node for run in runners for node in run(focus, root)]

    return union, slow


def _first_keys(part: str) -> frozenset[str] | None:
    """The resource keys one native branch starts from (a choice element: each of its typed
    names), or None when it may yield values without them."""
    if _native(part, False) is None:
        return None  # fhirpathpy: exists(), empty() and the like answer on a missing element
    steps = _steps_text(part, False)
    if not steps:
        return None  # the resource itself
    if _EXTENSION.match(steps[0]):
        name = "extension"
    else:
        indexed = _INDEX.match(steps[0])
        name = indexed["name"] if indexed else steps[0]
    if not re.fullmatch(_IDENT, name):
        return None
    return frozenset({name, *_choice_keys(name)})


def root_keys(parts: list[str]) -> frozenset[str] | None:
    """Top-level keys without which the absolute expression ``parts`` extracts nothing from a
    resource, or None when there is no such set: indexing skips a parameter whose keys are all
    absent (most of a type's parameters, on a typical resource)."""
    keys: set[str] = set()
    for part in parts:
        first = _first_keys(part)
        if first is None:
            return None
        keys |= first
    return frozenset(keys)


# Keys whose strings are structure, not text: references, URIs (systems, extension urls,
# profiles) and ids. With dates and the narrative's XHTML they were two thirds of a Synthea
# resource's strings, and most of the cost of its _content vector.
_NOT_TEXT = frozenset({"reference", "system", "url", "profile", "id", "fullUrl", "div"})
_DATE_TIME = re.compile(r"\d{4}-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?)?")


def text_leaves(value: Any, out: list[str]) -> list[str]:
    """The strings of a JSON value that are text (for ``_content``): every string except those
    under ``_NOT_TEXT`` keys and dates/times (searched as dates). Recursive: stored and
    request JSON nests at most as deep as the parsers allow."""

    def walk(node: Any) -> None:
        kind = type(node)
        if kind is dict:
            for key, child in node.items():
                if key not in _NOT_TEXT:
                    walk(child)
        elif kind is list:
            for child in node:
                walk(child)
        elif kind is str and not _DATE_TIME.fullmatch(node):
            out.append(node)

    walk(value)
    return out
