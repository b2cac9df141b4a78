"""The fhirpathpy set-up shared by invariant checking and search-index extraction.

FHIRPath: http://hl7.org/fhirpath/N1/ ; FHIR's additions (``%resource``, ``%rootResource``,
``%ucum``, ``hasValue()``, ``resolve()``, ``htmlChecks()``):
http://hl7.org/fhir/R4/fhirpath.html#functions and
http://hl7.org/fhir/R4/fhirpath.html#vars.

Every expression is parsed once (``compile_expression`` is cached). Evaluation starts from a
*typed* focus node, because fhirpathpy only knows that ``Period.start`` is a ``dateTime``
(and so compares it as a date, and resolves choice types such as ``value.ofType(Quantity)``)
when the focus carries its FHIR type path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from html.entities import name2codepoint
from typing import Any
from xml.etree import ElementTree

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode, TypeInfo
from fhirpathpy.models import models

__all__ = [
    "R4_MODEL", "UCUM", "CompiledPath", "compile_expression", "evaluate", "typed_node",
    "locate", "json_child_type", "choice_suffixes", "resolving", "html_checks",
    "html_has_content", "parse_xhtml", "top_level_positions",
]

R4_MODEL: dict[str, Any] = models["r4"]
UCUM = "http://unitsofmeasure.org"
# fhirpathpy keeps the model for is/as/ofType in a class attribute that it only sets inside
# `is`/`as`; set it once so `ofType()` works before any `is` has run in the process.
TypeInfo.model = R4_MODEL  # type: ignore[assignment]

CompiledPath = Callable[..., list[Any]]


def top_level_positions(text: str) -> Iterator[int]:
    """Positions of an expression's characters outside parentheses and 'quoted strings'
    (where ``|``, ``or`` and other operators split it)."""
    depth, quote = 0, False
    for i, ch in enumerate(text):
        if ch == "'" and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0:
            yield i

_PATHS_ELSEWHERE: dict[str, str] = R4_MODEL["pathsDefinedElsewhere"]
_PATH2TYPE: dict[str, str] = R4_MODEL["path2Type"]
_CHOICES: dict[str, list[str]] = R4_MODEL["choiceTypePaths"]

# The resource that `resolve()` looks references up in (user functions get no context).
_RESOLVE_ROOT: ContextVar[dict[str, Any] | None] = ContextVar("fhirpath_resolve_root", default=None)


def _has_value(inputs: list[Any]) -> bool:
    """hasValue(): a single primitive that carries a value (not just extensions).

    fhirpathpy yields a primitive *and* its ``_name`` extension holder as two nodes, so
    count only the non-object items.
    """
    values = [i for i in inputs if not isinstance(i, dict | list)]
    return len(values) == 1 and len(inputs) <= 2


def _resolve(inputs: list[Any]) -> list[Any]:
    """resolve(): contained (``#id``) and Bundle (``fullUrl``) targets; others are empty."""
    root = _RESOLVE_ROOT.get()
    if root is None:
        return []
    out = []
    for item in inputs:
        ref = item.get("reference") if isinstance(item, dict) else item
        if isinstance(ref, str):
            target = _find_target(root, ref)
            if target is not None:
                out.append(ResourceNode.create_node(target))
    return out


def _find_target(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    if ref.startswith("#"):
        return next((c for c in root.get("contained", ()) if c.get("id") == ref[1:]), None)
    for entry in root.get("entry", ()) if root.get("resourceType") == "Bundle" else ():
        url = entry.get("fullUrl", "")
        if url == ref or url.endswith("/" + ref):
            return entry.get("resource")
    return None


_XHTML = "{http://www.w3.org/1999/xhtml}"
# http://hl7.org/fhir/R4/narrative.html#xhtml : no document structure, scripts, forms,
# frames, objects, styles sheets or base/link elements.
_FORBIDDEN_TAGS = frozenset({
    "html", "head", "body", "title", "meta", "base", "link", "style", "script", "noscript",
    "form", "input", "button", "select", "option", "textarea", "frame", "frameset", "iframe",
    "object", "embed", "applet", "param",
})
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


@lru_cache(maxsize=256)
def parse_xhtml(div: str) -> ElementTree.Element | None:
    """The narrative div parsed as XML (HTML named entities allowed), or None."""
    if not div.lstrip().startswith("<div"):
        return None
    text = _ENTITY.sub(_replace_entity, div)
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None


def _replace_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES or name not in name2codepoint:
        return match.group(0)
    return chr(name2codepoint[name])


def html_checks(div: Any) -> bool:
    """Approximates htmlChecks() for txt-1: a well-formed XHTML ``div`` without forbidden
    elements or event attributes (the spec's exact element/attribute lists are not enforced).
    """
    root = parse_xhtml(div) if isinstance(div, str) else None
    if root is None or root.tag != _XHTML + "div":
        return False
    for element in root.iter():
        if not element.tag.startswith(_XHTML) or element.tag[len(_XHTML):] in _FORBIDDEN_TAGS:
            return False
        if any(name.lower().startswith("on") for name in element.attrib):
            return False
    return True


def html_has_content(div: Any) -> bool:
    """Approximates htmlChecks() for txt-2: some non-whitespace text or an image."""
    root = parse_xhtml(div) if isinstance(div, str) else None
    if root is None:
        return False
    if any(text.strip() for text in root.itertext()):
        return True
    return any(True for _ in root.iter(_XHTML + "img"))


def _html_checks_fn(inputs: list[Any]) -> bool:
    return len(inputs) == 1 and html_checks(inputs[0])


def _no_trace(_label: str, _value: Any) -> None:
    """trace() must not print on a server."""


_OPTIONS: dict[str, Any] = {
    "userInvocationTable": {
        "hasValue": {"fn": _has_value},
        "resolve": {"fn": _resolve},
        "htmlChecks": {"fn": _html_checks_fn},
    },
    "traceFn": _no_trace,
}


@cache
def compile_expression(expression: str) -> CompiledPath:
    """Parse ``expression`` once per process (raises on a syntax error)."""
    return fhirpathpy.compile(expression, model=R4_MODEL, options=_OPTIONS)


def typed_node(data: Any, type_path: str | None) -> Any:
    """Wrap ``data`` so fhirpathpy knows its FHIR type path (e.g. ``Period``, ``Patient.contact``)."""
    if isinstance(data, dict) and "resourceType" in data:
        return data
    return ResourceNode.create_node(data, type_path)


def evaluate(expression: str, data: Any, type_path: str | None = None,
             variables: dict[str, Any] | None = None) -> list[Any]:
    """Evaluate a cached, compiled ``expression`` with ``data`` as focus (%context)."""
    return compile_expression(expression)(typed_node(data, type_path), variables or {})


@contextmanager
def resolving(root: dict[str, Any]) -> Iterator[None]:
    """Make ``resolve()`` look references up in ``root`` for the duration of the block."""
    token = _RESOLVE_ROOT.set(root)
    try:
        yield
    finally:
        _RESOLVE_ROOT.reset(token)


def _child_type(parent_type: str, name: str, data: Any) -> tuple[str, str]:
    """(type path, JSON key) of ``name`` under ``parent_type``; choice names are resolved."""
    child = f"{parent_type}.{name}"
    child = _PATHS_ELSEWHERE.get(child, child)
    if isinstance(data, dict) and name not in data and child in _CHOICES:
        for suffix in _CHOICES[child]:
            if f"{name}{suffix}" in data:
                return _PATH2TYPE.get(child + suffix, child + suffix), f"{name}{suffix}"
    if name in ("extension", "modifierExtension"):
        return "Extension", name
    return _PATH2TYPE.get(child, child), name


def json_child_type(parent_type: str | None, key: str) -> str | None:
    """FHIR type path of the JSON property ``key`` (``valueQuantity`` -> ``Quantity``)."""
    if parent_type is None:
        return None
    if key in ("extension", "modifierExtension"):
        return "Extension"
    child = f"{parent_type}.{key}"
    child = _PATHS_ELSEWHERE.get(child, child)
    return _PATH2TYPE.get(child, child)


def choice_suffixes() -> dict[str, frozenset[str]]:
    """Choice element name -> every type suffix it takes in R4 (``value`` -> Quantity, ...)."""
    out: dict[str, set[str]] = {}
    for path, types in _CHOICES.items():
        out.setdefault(path.rsplit(".", 1)[1], set()).update(types)
    return {name: frozenset(types) for name, types in out.items()}


def locate(root: dict[str, Any], location: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """Walk a FHIRPath location (``Bundle.entry[0].resource.name[1]``) through ``root``.

    Returns the FHIR type path of the located node, %resource (the nearest enclosing
    resource) and %rootResource (its container when it is a contained resource).
    """
    data: Any = root
    type_path: str | None = root.get("resourceType")
    resource = container = root
    for segment in location.split(".")[1:]:
        name, _, index = segment.partition("[")
        if type_path is None:
            return None, resource, container
        type_path, key = _child_type(type_path, name, data)
        data = data.get(key) if isinstance(data, dict) else None
        if index and isinstance(data, list):
            pos = int(index.rstrip("]"))
            data = data[pos] if pos < len(data) else None
        if isinstance(data, dict) and "resourceType" in data:
            type_path = data["resourceType"]
            container = resource if name == "contained" else data
            resource = data
    return type_path, resource, container
