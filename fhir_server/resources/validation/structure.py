"""Structural validation of a resource against a compiled StructureDefinition
(http://hl7.org/fhir/R4/validation.html, json.html): unknown elements, JSON shapes (arrays for
repeating elements only), primitive formats, cardinality, choice elements, required
bindings, Reference target types, contained and nested resources, and the FHIRPath
invariants of every element (delegated to ``InvariantChecker``).

Each issue's ``expression`` is the FHIRPath location with indices, e.g. ``Patient.name[0].given[1]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import Issue
from ...jsonio import dumps
from .bindings import binding_problem
from .bundle_rules import bundle_issues
from .datatype_rules import datatype_problems
from .elements import PRIMITIVES, Child, ElementInfo, StructureTable, table_for
from .extensions import Place, extension_issues
from .invariants import InvariantChecker
from .primitives import primitive_problem

__all__ = ["Walker"]

RESOURCE_TYPES_NESTED = ("Resource", "DomainResource")
EXTENSION_KEYS = frozenset({"extension", "modifierExtension"})
_DATATYPE_CONSTRAINTS: dict[str, tuple[dict[str, Any], ...]] = {}


def _datatype_constraints(datatype: StructureTable) -> tuple[dict[str, Any], ...]:
    """A data type's own invariants minus ele-1 (the element using the type checks that one)."""
    found = _DATATYPE_CONSTRAINTS.get(datatype.name)
    if found is None:
        found = _DATATYPE_CONSTRAINTS[datatype.name] = tuple(
            c for c in datatype.root.constraints if c.get("key") != "ele-1")
    return found


# Values of named data types that validated without any issue, keyed by (element id,
# serialized value) and mapped to the element itself (which keeps the id from being reused).
# A value's validity depends only on its element (type, bindings, constraints) and itself -- except a
# Reference's ref-1 (a local '#id' must match the root's contained resources; the only data-type
# invariant of R4 that looks outside its value), so nothing that holds a local reference is
# remembered: a bundle's many references to its patient and encounters are. Narrative and
# Meta are unique per resource, an Attachment may be megabytes; no value over _CLEAN_BYTES is kept.
_CLEAN: dict[tuple[int, bytes], Child] = {}
_CLEAN_LIMIT = 50_000
_CLEAN_BYTES = 1024
_NOT_REMEMBERED = frozenset({"Narrative", "Meta", "Attachment"})
_LOCAL_REFERENCE = b'"reference":"#'  # as orjson writes it (no spaces)


def _clean_key(child: Child, value: dict[str, Any]) -> tuple[int, bytes] | None:
    if child.type_code in _NOT_REMEMBERED:
        return None
    try:
        serialized = dumps(value)
    except (TypeError, ValueError):  # e.g. an integer beyond 64 bits: validate it every time
        return None
    if len(serialized) > _CLEAN_BYTES or _LOCAL_REFERENCE in serialized:
        return None
    return id(child), serialized


@dataclass
class Walker:
    """One validation run: collects issues while walking a resource."""

    checker: InvariantChecker
    resource_types: frozenset[str]
    root: dict[str, Any] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    # Extensions: definitions by url (None: not checked), and how an unknown one is reported.
    resolve: Callable[[str], dict[str, Any] | None] | None = None
    unknown_extension: str = "warning"
    element_path: str = ""  # the element whose value is being walked (``Patient.name`` inside HumanName)
    element_type: str = ""  # and its type (``HumanName``; ``date`` for a primitive's ``_birthDate``)

    def error(self, code: str, message: str, location: str) -> None:
        self.issues.append(Issue("error", code, message, (location,)))

    def resource(self, resource: Any, location: str, table: StructureTable | None = None) -> None:
        """Validate a resource (the root, a contained one or a Bundle entry's) at ``location``."""
        if not isinstance(resource, dict):
            self.error("structure", "A resource must be a JSON object", location)
            return
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or rtype not in self.resource_types:
            self.error("invalid", f"Unknown resource type {rtype!r}", location)
            return
        table = table or table_for(rtype)
        assert table is not None
        path = location if location else rtype
        saved, self.root = self.root, (self.root or resource)
        self.complex(resource, table, table.name, path, is_resource=True)
        self.invariants(resource, table.root.constraints, path)
        if rtype == "Bundle":
            self.issues.extend(bundle_issues(resource, path))
        self.root = saved

    def invariants(self, node: Any, constraints: tuple[dict[str, Any], ...], location: str) -> None:
        if constraints:
            self.issues.extend(self.checker.check(node, constraints, location, self.root))

    def complex(self, node: dict[str, Any], table: StructureTable, path: str, location: str,
                is_resource: bool = False) -> None:
        """Walk an object whose element definitions live in ``table`` under ``path``."""
        children = table.children.get(path, {})
        present: set[str] = set()
        for key, value in node.items():
            if key == "resourceType" and is_resource:
                continue
            if key.startswith("_"):
                self.primitive_extension(key, value, children, location)
                present.add(key[1:])
                continue
            child = children.get(key)
            if child is None:
                self.error("structure", f"Unknown element '{key}'", f"{location}.{key}")
                continue
            present.add(key)
            if key in EXTENSION_KEYS and self.resolve is not None:
                self.extensions(key, value, node, table, path, location, is_resource)
            self.element(key, value, child, table, location)
        self.cardinality(children, table.required.get(path, []), present, location)

    def extensions(self, key: str, value: Any, node: dict[str, Any], table: StructureTable, path: str,
                   location: str, is_resource: bool) -> None:
        """Each extension of ``node`` against its definition (``extensions.py``)."""
        assert self.resolve is not None
        in_datatype = path == table.name and not is_resource and bool(self.element_path)
        place = Place(self.element_path if in_datatype else path, self.element_type if in_datatype else path,
                      is_resource, node.get("url") if table.name == "Extension" else None)
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                self.issues.extend(extension_issues(item, place, key == "modifierExtension", self.unknown_extension,
                                                    self.resolve, f"{location}.{key}[{index}]"))

    def cardinality(self, children: dict[str, Child], required: list[ElementInfo], present: set[str],
                    location: str) -> None:
        by_element: dict[str, list[str]] = {}
        for key in present:
            child = children.get(key)
            if child is not None:
                by_element.setdefault(child.info.path, []).append(key)
        for path, keys in by_element.items():
            if len(keys) > 1 and path.endswith("[x]"):
                self.error("structure", f"Only one of {', '.join(sorted(keys))} may be present",
                           f"{location}.{sorted(keys)[0]}")
        for info in required:
            if info.path not in by_element:
                name = info.path.rsplit(".", 1)[1]
                self.error("required", f"Missing required element '{name}' (min {info.min})", f"{location}.{name}")

    def element(self, key: str, value: Any, child: Child, table: StructureTable, location: str) -> None:
        info = child.info
        here = f"{location}.{key}"
        if isinstance(value, list):
            if not info.repeats:
                self.error("structure", f"'{key}' is a single element, not an array", here)
                return
            if not value:
                self.error("structure", f"'{key}' is an empty array", here)
            if info.max is not None and len(value) > info.max:
                self.error("structure", f"'{key}' allows at most {info.max} items", here)
            for index, item in enumerate(value):
                if item is not None:
                    self.value(item, child, table, f"{here}[{index}]")
            return
        if info.repeats:
            self.error("structure", f"'{key}' repeats: it must be a JSON array", here)
            return
        self.value(value, child, table, here)

    def value(self, value: Any, child: Child, table: StructureTable, location: str) -> None:
        info, type_code = child.info, child.type_code
        before, clean_key = len(self.issues), None
        if type_code in PRIMITIVES:
            problem = primitive_problem(type_code, value)
            if problem is not None:
                self.error("value", problem, location)
                return
        elif type_code in RESOURCE_TYPES_NESTED:
            self.resource(value, location)
            return
        elif not isinstance(value, dict):
            self.error("structure", "must be a JSON object", location)
            return
        elif info.content_reference:
            self.complex(value, table, info.content_reference, location)
        elif type_code == "":
            self.complex(value, table, info.path, location)
        else:
            # codings, codes and extensions repeat across resources: a value that already
            # passed at this element is not walked again
            clean_key = _clean_key(child, value)
            if clean_key is not None and _CLEAN.get(clean_key) is child:
                return
            saved = self.element_path, self.element_type
            self.element_path, self.element_type = info.path, type_code
            self.datatype(value, type_code, location)
            self.element_path, self.element_type = saved
        self.bindings_and_references(value, child, location)
        self.invariants(value, info.constraints, location)
        if clean_key is not None and len(self.issues) == before:
            if len(_CLEAN) >= _CLEAN_LIMIT:
                _CLEAN.clear()
            _CLEAN[clean_key] = child

    def datatype(self, value: dict[str, Any], type_code: str, location: str) -> None:
        datatype = table_for(type_code)
        if datatype is None:
            self.error("structure", f"Unknown data type {type_code}", location)
            return
        self.complex(value, datatype, datatype.name, location)
        self.invariants(value, _datatype_constraints(datatype), location)
        for severity, code, message, suffix in datatype_problems(type_code, value):
            self.issues.append(Issue(severity, code, message, (location + suffix,)))

    def bindings_and_references(self, value: Any, child: Child, location: str) -> None:
        info = child.info
        if info.binding is not None and info.binding[0] == "required":
            problem = binding_problem(child.type_code, value, info.binding[1])
            if problem is not None:
                self.error("code-invalid", problem, location)
        if child.type_code == "Reference" and info.target_types and isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str) and ref.count("/") == 1 and not ref.startswith(("#", "urn:")):
                target = ref.split("/", 1)[0]
                if target in self.resource_types and target not in info.target_types:
                    allowed = ", ".join(sorted(info.target_types))
                    self.error("structure", f"Reference to {target} is not allowed here (allowed: {allowed})",
                               location)

    def primitive_extension(self, key: str, value: Any, children: dict[str, Child], location: str) -> None:
        """``_name``: the id/extension of primitive ``name`` (json.html#primitive)."""
        child = children.get(key[1:])
        here = f"{location}.{key[1:]}"
        if child is None or child.type_code not in PRIMITIVES:
            self.error("structure", f"Unknown element '{key}'", f"{location}.{key}")
            return
        items = value if isinstance(value, list) else [value]
        element_table = table_for("Element")
        assert element_table is not None
        saved = self.element_path, self.element_type
        self.element_path, self.element_type = child.info.path, child.type_code
        for index, item in enumerate(items):
            if item is None:
                continue
            if not isinstance(item, dict):
                self.error("structure", f"'{key}' must hold objects with id/extension", here)
                continue
            self.complex(item, element_table, "Element", here if len(items) == 1 else f"{here}[{index}]")
        self.element_path, self.element_type = saved
