"""What a profile adds to its base definition (http://hl7.org/fhir/R4/profiling.html), checked on
the snapshot's element tree: slicing (#slicing) with the discriminator types value, pattern,
type, profile and exists; slice cardinality and closed slicing; ``fixed[x]`` and ``pattern[x]``
(elementdefinition-definitions.html#ElementDefinition.pattern_x_); ``maxLength``; the types a
profile allows on a choice element; extensions checked against their own StructureDefinitions
(a slice or element whose type names a profile); bindings: ``required`` inside slices (outside
them the table walk of ``structure.py`` checks them) and ``extensible`` as a warning when a code
is outside a value set that can be expanded here; ``mustSupport`` reported as information when
asked (``$validate`` only).

Cardinality, types and invariants of elements outside slices are checked by walking the
resource with the profile's compiled table (``Validator._profile_issues``); this module checks
what that walk cannot see. A discriminator path this module cannot evaluate (``resolve()``)
makes the slice unmatched, reported once as a warning rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import Issue
from .bindings import binding_problem

__all__ = ["ProfileNode", "ProfileChecker", "profile_tree"]

Resolver = Callable[[str], dict[str, Any] | None]
_OF_TYPE = re.compile(r"^ofType\(([A-Za-z]+)\)$")
_EXTENSION = re.compile(r"^extension\('([^']+)'\)$")


@dataclass
class ProfileNode:
    """One ElementDefinition of a snapshot, with its child elements and its slices."""

    element: dict[str, Any]
    children: list[ProfileNode] = field(default_factory=list)
    slices: list[ProfileNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.element["path"]).rsplit(".", 1)[-1]

    @property
    def slice_name(self) -> str | None:
        return self.element.get("sliceName")

    @property
    def max(self) -> int | None:
        raw = self.element.get("max", "*")
        return None if raw == "*" else int(raw)

    @property
    def type_codes(self) -> list[str]:
        return [str(t.get("code")) for t in self.element.get("type", ())]

    @property
    def type_profiles(self) -> list[str]:
        return [p for t in self.element.get("type", ()) for p in t.get("profile", ())]

    def fixed_or_pattern(self) -> tuple[str, Any] | None:
        for key, value in self.element.items():
            if key.startswith("fixed") and key != "fixed":
                return "fixed", value
            if key.startswith("pattern") and key != "pattern":
                return "pattern", value
        return None

    def descendant(self, relative_path: str) -> ProfileNode | None:
        """The element at ``relative_path`` below this one (child names, not ids)."""
        node: ProfileNode | None = self
        for part in relative_path.split("."):
            node = next((c for c in node.children if c.name in (part, f"{part}[x]")), None) if node else None
        return node


def _parent_id(element_id: str) -> tuple[str, bool]:
    """(parent id, is a slice): ``A.b:s`` is a slice of ``A.b``; ``A.b:s.c`` a child of ``A.b:s``."""
    head, _, last = element_id.rpartition(".")
    if ":" in last:
        return f"{head}.{last.split(':', 1)[0]}" if head else last.split(":", 1)[0], True
    return head, False


_TREES: dict[str, ProfileNode] = {}


def profile_tree(sd: dict[str, Any]) -> ProfileNode:
    """The snapshot as a tree of nodes, built once per profile url and version."""
    key = f"{sd['url']}|{sd.get('version') or ''}"
    tree = _TREES.get(key)
    if tree is None:
        elements = sd["snapshot"]["element"]
        by_id: dict[str, ProfileNode] = {}
        tree = ProfileNode(elements[0])
        by_id[elements[0].get("id", elements[0]["path"])] = tree
        for element in elements[1:]:
            node = ProfileNode(element)
            element_id = element.get("id") or element["path"]
            by_id[element_id] = node
            parent_id, is_slice = _parent_id(element_id)
            parent = by_id.get(parent_id)
            if parent is not None:
                (parent.slices if is_slice else parent.children).append(node)
        _TREES[key] = tree
    return tree


def _values(node: ProfileNode, parent: dict[str, Any], location: str) -> list[tuple[str, Any, str]]:
    """(JSON key, value, location) of the element in one parent object; choice elements by their typed keys."""
    name = node.name
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = [k for k in parent if k.startswith(stem) and k[len(stem):len(stem) + 1].isupper()]
    else:
        keys = [name] if name in parent else []
    # a primitive present only through its _name (id/extension, no value) is present all the same
    keys += [k[1:] for k in parent if k.startswith("_") and k[1:] not in parent
             and (k[1:] == name or name.endswith("[x]") and k[1:].startswith(name[:-3]))]
    found: list[tuple[str, Any, str]] = []
    for key in keys:
        value = parent.get(key, parent.get("_" + key))
        if isinstance(value, list):
            found.extend((key, item, f"{location}.{key}[{i}]") for i, item in enumerate(value) if item is not None)
        else:
            found.append((key, value, f"{location}.{key}"))
    return found


def matches_pattern(value: Any, pattern: Any) -> bool:
    """``pattern[x]`` semantics: every element of the pattern is present in the value with the same
    value; an array in the pattern matches when each of its items matches some item of the value."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches_pattern(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(matches_pattern(item, p) for item in items) for p in pattern)
    return value == pattern


def _step(item: Any, part: str, of_type: str | None) -> list[Any]:
    """One dotted step from ``item``: a child (choice children by their typed keys, or only the
    one of type ``of_type``), or ``extension('url')``."""
    if not isinstance(item, dict):
        return []
    extension = _EXTENSION.match(part)
    if extension:
        return [e for e in item.get("extension", ()) if isinstance(e, dict) and e.get("url") == extension[1]]
    if of_type is not None:
        keys = [part + of_type[:1].upper() + of_type[1:]]
    elif part in item:
        keys = [part]
    else:
        keys = [k for k in item if k.startswith(part) and k[len(part):][:1].isupper()]
    found: list[Any] = []
    for key in keys:
        got = item.get(key)
        if got is not None:
            found.extend(got if isinstance(got, list) else [got])
    return found


def path_values(value: Any, path: str) -> list[Any] | None:
    """Values of a discriminator path (a dotted FHIRPath subset); None if the path cannot be evaluated."""
    parts = [] if path == "$this" else path.split(".")
    current = [value]
    for index, part in enumerate(parts):
        if part == "resolve()":
            return None
        if _OF_TYPE.match(part):
            continue  # applied with the step before it
        following = _OF_TYPE.match(parts[index + 1]) if index + 1 < len(parts) else None
        current = [v for item in current for v in _step(item, part, following[1] if following else None)]
    return current


@dataclass
class ProfileChecker:
    """One profile's checks over one resource; issues go to ``issues``."""

    url: str
    resolve: Resolver
    issues: list[Issue]
    must_support: bool = False
    unevaluable: set[str] = field(default_factory=set)

    def add(self, severity: str, code: str, message: str, location: str) -> None:
        self.issues.append(Issue(severity, code, f"{message} (profile {self.url})", (location,)))

    def check(self, tree: ProfileNode, resource: dict[str, Any], location: str) -> None:
        self.children(tree, resource, location, in_slice=False)

    def children(self, node: ProfileNode, value: dict[str, Any], location: str, in_slice: bool) -> None:
        for child in node.children:
            found = _values(child, value, location)
            if in_slice:
                self.count(child, len(found), f"{location}.{child.name.replace('[x]', '')}")
            elif self.must_support and not found and child.element.get("mustSupport") and location.count(".") == 0:
                self.add("information", "informational", f"mustSupport element '{child.name}' is absent",
                         f"{location}.{child.name}")
            self.allowed_types(child, found)
            for _, item, here in found:
                self.value(child, item, here, in_slice)
            if child.slices and found:
                self.slicing(child, found, location)
            elif child.slices:
                for piece in child.slices:
                    self.count(piece, 0, f"{location}.{child.name}", piece.slice_name)

    def count(self, node: ProfileNode, n: int, location: str, slice_name: str | None = None) -> None:
        what = f"slice '{slice_name}' of {node.element['path']}" if slice_name else node.element["path"]
        minimum, maximum = int(node.element.get("min", 0)), node.max
        if n < minimum:
            self.add("error", "required", f"{what}: at least {minimum} required, found {n}", location)
        elif maximum is not None and n > maximum:
            self.add("error", "structure", f"{what}: at most {maximum} allowed, found {n}", location)

    def allowed_types(self, node: ProfileNode, found: list[tuple[str, Any, str]]) -> None:
        if not node.name.endswith("[x]"):
            return
        stem, allowed = node.name[:-3], {c[:1].upper() + c[1:] for c in node.type_codes}
        for key, _, here in found:
            if key[len(stem):] not in allowed:
                self.add("error", "structure", f"{key} is not allowed here: the profile allows "
                         f"{', '.join(sorted(stem + t for t in allowed))}", here)

    def value(self, node: ProfileNode, value: Any, location: str, in_slice: bool) -> None:
        constraint = node.fixed_or_pattern()
        if constraint is not None:
            kind, expected = constraint
            if not (value == expected if kind == "fixed" else matches_pattern(value, expected)):
                self.add("error", "value", f"{node.element['path']} must {'be' if kind == 'fixed' else 'match'} "
                         f"{kind} value {_short(expected)}", location)
        max_length = node.element.get("maxLength")
        if isinstance(max_length, int) and isinstance(value, str) and len(value) > max_length:
            self.add("error", "value", f"{node.element['path']} is longer than {max_length} characters", location)
        self.binding(node, value, location, in_slice)
        for profile in node.type_profiles:
            self.conforms(profile, value, location)
        if isinstance(value, dict):
            self.children(node, value, location, in_slice)

    def binding(self, node: ProfileNode, value: Any, location: str, in_slice: bool) -> None:
        binding = node.element.get("binding") or {}
        strength, value_set = binding.get("strength"), binding.get("valueSet")
        if not value_set or strength not in ("required", "extensible") or strength == "required" and not in_slice:
            return
        type_code = node.type_codes[0] if len(node.type_codes) == 1 else ""
        problem = binding_problem(type_code, value, str(value_set).split("|", 1)[0], str(strength))
        if problem is not None:
            self.add("error" if strength == "required" else "warning", "code-invalid", problem, location)

    def conforms(self, profile_url: str, value: Any, location: str) -> None:
        """A value whose type names a profile (an extension's definition, a datatype profile)."""
        sd = self.resolve(profile_url)
        if sd is None:
            if isinstance(value, dict) and "url" in value:
                self.add("warning", "not-found", f"Extension {profile_url} is not known to this server: "
                         "its value is not checked", location)
            return
        if not isinstance(value, dict) or "snapshot" not in sd:
            return
        nested = ProfileChecker(profile_url, self.resolve, self.issues, False, self.unevaluable)
        nested.children(profile_tree(sd), value, location, in_slice=True)

    def slicing(self, node: ProfileNode, found: list[tuple[str, Any, str]], location: str) -> None:
        slicing = node.element.get("slicing") or {}
        discriminators = slicing.get("discriminator") or []
        assigned: dict[int, list[tuple[Any, str]]] = {i: [] for i in range(len(node.slices))}
        for key, item, here in found:
            index = next((i for i, piece in enumerate(node.slices)
                          if self.in_slice(piece, discriminators, key, item)), None)
            if index is not None:
                assigned[index].append((item, here))
            elif node.name in ("extension", "modifierExtension"):
                self.unsliced_extension(item, here, closed=slicing.get("rules") == "closed")
            elif slicing.get("rules") == "closed":
                self.add("error", "structure", f"{node.element['path']} matches none of the slices "
                         f"{', '.join(str(p.slice_name) for p in node.slices)} (closed slicing)", here)
        for index, piece in enumerate(node.slices):
            items = assigned[index]
            self.count(piece, len(items), f"{location}.{node.name}", piece.slice_name)
            for item, here in items:
                self.value(piece, item, here, in_slice=True)

    def unsliced_extension(self, item: Any, location: str, closed: bool) -> None:
        """An extension the profile does not slice for: checked against its own definition when known."""
        url = item.get("url") if isinstance(item, dict) else None
        if closed:
            self.add("error", "structure", f"Extension {url} is not allowed here (closed slicing)", location)
        elif isinstance(url, str) and self.resolve(url) is None:
            self.add("warning", "not-found", f"Extension {url} is not known to this server: its value is not checked",
                     location)
        elif isinstance(url, str):
            self.conforms(url, item, location)

    def in_slice(self, piece: ProfileNode, discriminators: list[dict[str, Any]], key: str, item: Any) -> bool:
        if not discriminators:  # slicing by position or undeclared: nothing can place a value
            return False
        return all(self.discriminates(piece, d, key, item) for d in discriminators)

    def discriminates(self, piece: ProfileNode, discriminator: dict[str, Any], key: str, item: Any) -> bool:
        kind, path = discriminator.get("type"), str(discriminator.get("path", "$this"))
        if kind == "type" and path == "$this" and piece.name.endswith("[x]"):  # valueQuantity of value[x]
            return key[len(piece.name) - 3:] in {c[:1].upper() + c[1:] for c in piece.type_codes}
        got = path_values(item, path)
        if got is None:
            self._unevaluable(piece, path)
            return False
        target = piece if path == "$this" else piece.descendant(path)
        if kind in ("value", "pattern"):
            return self._value_discriminates(piece, target, path, got)
        if kind == "exists":
            must_exist = target is not None and int(target.element.get("min", 0)) > 0
            return bool(got) == must_exist if target is not None else not got
        if kind == "type":
            codes = set((target or piece).type_codes)
            return any(_type_of(v) in codes for v in got)
        if kind == "profile":
            return any(self._passes((target or piece).type_profiles, v) for v in got)
        return False

    def _value_discriminates(self, piece: ProfileNode, target: ProfileNode | None, path: str, got: list[Any]) -> bool:
        constraint = target.fixed_or_pattern() if target is not None else None
        if constraint is None and path == "url" and piece.type_profiles:  # extension slices: the type's profile
            return any(v in piece.type_profiles for v in got)
        if constraint is None:
            binding = (target.element.get("binding") or {}) if target is not None else {}
            if binding.get("strength") == "required" and binding.get("valueSet") and target is not None:
                type_code = target.type_codes[0] if target.type_codes else ""
                vs = str(binding["valueSet"]).split("|", 1)[0]
                return any(binding_problem(type_code, v, vs) is None for v in got)
            self._unevaluable(piece, path)
            return False
        kind, expected = constraint
        return any(v == expected if kind == "fixed" else matches_pattern(v, expected) for v in got)

    def _passes(self, profiles: list[str], value: Any) -> bool:
        for url in profiles:
            trial: list[Issue] = []
            sd = self.resolve(url)
            if sd is not None and "snapshot" in sd and isinstance(value, dict):
                ProfileChecker(url, self.resolve, trial).children(profile_tree(sd), value, "", in_slice=True)
                if not any(i.severity == "error" for i in trial):
                    return True
        return False

    def _unevaluable(self, piece: ProfileNode, path: str) -> None:
        key = f"{piece.element.get('id')}|{path}"
        if key not in self.unevaluable:
            self.unevaluable.add(key)
            self.add("warning", "not-supported", f"Slice '{piece.slice_name}' of {piece.element['path']}: "
                     f"discriminator '{path}' cannot be evaluated here; values were not assigned to it",
                     piece.element["path"])


def _type_of(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("resourceType")
    return None


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."
