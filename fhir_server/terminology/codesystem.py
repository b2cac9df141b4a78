"""An in-memory view of one CodeSystem resource (http://hl7.org/fhir/R4/codesystem.html):
concepts by code, the hierarchy (``concept`` nesting plus the ``parent``/``child``
properties, codesystem.html#hierarchy) and the compose filters over it
(valueset-filter-operator.html). Large code systems loaded into PostgreSQL have the same
interface in ``store.DbCodeSystem``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from .errors import CannotExpand
from .model import Concept, objects

__all__ = ["SystemView", "CodeSystemView", "text_matches", "INACTIVE_STATUSES"]

INACTIVE_STATUSES = frozenset({"retired", "inactive", "deprecated"})
HIERARCHY_PROPERTIES = frozenset({"concept", "code"})
# Concept properties naming a parent: R4's ``parent``, and ``subsumedBy`` as HL7 Terminology (THO) writes it.
PARENT_PROPERTIES = frozenset({"parent", "subsumedBy"})


class SystemView(Protocol):
    url: str
    version: str | None
    complete: bool

    def concept(self, code: str) -> Concept | None: ...

    def concepts(self, text: str | None, limit: int) -> list[Concept]: ...

    def filtered(self, filters: list[dict[str, Any]], text: str | None, limit: int) -> list[Concept]: ...

    def parents(self, code: str) -> list[str]: ...

    def children(self, code: str) -> list[str]: ...

    def subsumes(self, ancestor: str, code: str) -> bool: ...


def text_matches(concept: Concept, text: str | None) -> bool:
    """The ``filter`` parameter of $expand: every word occurs in the display or the code."""
    if not text:
        return True
    haystack = f"{concept.display or ''} {concept.code}".lower()
    return all(word in haystack for word in text.lower().split())


def _flatten(concepts: list[dict[str, Any]], parent: str | None) -> Iterator[tuple[dict[str, Any], str | None]]:
    for item in concepts:
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            yield item, parent
            yield from _flatten(item.get("concept") or [], item["code"])


def _property_values(concept: Concept, name: str) -> list[str]:
    out = []
    for prop in concept.properties:
        if prop.get("code") == name:
            for key, value in prop.items():
                if key.startswith("value"):
                    out.append(str(value.get("code")) if isinstance(value, dict) else str(value).lower()
                               if isinstance(value, bool) else str(value))
    return out


def _inactive(properties: list[dict[str, Any]]) -> bool:
    for prop in properties:
        if prop.get("code") == "inactive" and prop.get("valueBoolean") is True:
            return True
        if prop.get("code") == "status" and prop.get("valueCode") in INACTIVE_STATUSES:
            return True
    return False


class CodeSystemView:
    def __init__(self, resource: dict[str, Any]) -> None:
        self.resource = resource
        self.url: str = resource.get("url", "")
        self.version: str | None = resource.get("version")
        self.complete = resource.get("content", "complete") == "complete"
        self.by_code: dict[str, Concept] = {}
        self._parents: dict[str, list[str]] = {}
        self._children: dict[str, list[str]] = {}
        for item, parent in _flatten(resource.get("concept") or [], None):
            self._add(item, parent)

    def _add(self, item: dict[str, Any], parent: str | None) -> None:
        code = item["code"]
        props = list(objects(item.get("property")))
        abstract = any(p.get("code") == "notSelectable" and p.get("valueBoolean") is True for p in props)
        self.by_code[code] = Concept(self.url, code, item.get("display"), self.version, _inactive(props), abstract,
                                     objects(item.get("designation")), tuple(props))
        parents = [parent] if parent else []
        parents += [p["valueCode"] for p in props
                    if p.get("code") in PARENT_PROPERTIES and isinstance(p.get("valueCode"), str)]
        for child in (p["valueCode"] for p in props if p.get("code") == "child" and "valueCode" in p):
            self._link(code, child)
        for up in parents:
            self._link(up, code)

    def _link(self, parent: str, child: str) -> None:
        if parent not in self._parents.setdefault(child, []):
            self._parents[child].append(parent)
            self._children.setdefault(parent, []).append(child)

    def concept(self, code: str) -> Concept | None:
        return self.by_code.get(code)

    def parents(self, code: str) -> list[str]:
        return list(self._parents.get(code, ()))

    def children(self, code: str) -> list[str]:
        return list(self._children.get(code, ()))

    def descendants(self, code: str) -> set[str]:
        """Codes below ``code`` (not itself); the seen set stops cycles in bad hierarchies."""
        seen: set[str] = set()
        todo = list(self._children.get(code, ()))
        while todo:
            item = todo.pop()
            if item not in seen:
                seen.add(item)
                todo.extend(self._children.get(item, ()))
        seen.discard(code)
        return seen

    def ancestors(self, code: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self._parents.get(code, ()))
        while todo:
            item = todo.pop()
            if item not in seen:
                seen.add(item)
                todo.extend(self._parents.get(item, ()))
        seen.discard(code)
        return seen

    def subsumes(self, ancestor: str, code: str) -> bool:
        return ancestor == code or ancestor in self.ancestors(code)

    def _enumerable(self) -> None:
        if not self.complete:
            raise CannotExpand(f"CodeSystem {self.url} is not held here in full (content "
                               f"'{self.resource.get('content')}'), so its codes cannot be enumerated")

    def concepts(self, text: str | None, limit: int) -> list[Concept]:
        self._enumerable()
        return _take((c for c in self.by_code.values() if text_matches(c, text)), limit)

    def filtered(self, filters: list[dict[str, Any]], text: str | None, limit: int) -> list[Concept]:
        self._enumerable()
        tests = [self._predicate(f) for f in filters]
        return _take((c for c in self.by_code.values() if text_matches(c, text) and all(t(c) for t in tests)), limit)

    def _predicate(self, item: dict[str, Any]) -> Any:
        prop, op, value = item.get("property"), item.get("op"), item.get("value")
        if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
            raise CannotExpand(f"A compose filter of {self.url} lacks property, op or value")
        if prop in HIERARCHY_PROPERTIES and op in ("is-a", "descendent-of", "is-not-a", "generalizes"):
            below = self.descendants(value)
            if op == "is-a":
                return lambda c: c.code == value or c.code in below
            if op == "descendent-of":
                return lambda c: c.code in below
            if op == "is-not-a":
                return lambda c: c.code != value and c.code not in below
            above = self.ancestors(value) | {value}
            return lambda c: c.code in above
        return _value_predicate(self.url, prop, op, value)


def _value_predicate(url: str, prop: str, op: str, value: str) -> Any:
    def values(c: Concept) -> list[str]:
        if prop in HIERARCHY_PROPERTIES:
            return [c.code]
        if prop == "display":
            return [c.display] if c.display else []
        return _property_values(c, prop)

    if op == "=":
        return lambda c: value in values(c)
    if op in ("in", "not-in"):
        allowed = {v.strip() for v in value.split(",")}
        if op == "in":
            return lambda c: any(v in allowed for v in values(c))
        return lambda c: not any(v in allowed for v in values(c))
    if op == "regex":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise CannotExpand(f"The regex filter '{value}' of {url} is not a valid expression: {exc}") from exc
        return lambda c: any(pattern.fullmatch(v) for v in values(c))
    if op == "exists":
        wanted = value == "true"
        return lambda c: bool(values(c)) == wanted
    raise CannotExpand(f"The filter '{prop} {op} {value}' of {url} is not supported here")


def _take(items: Iterable[Concept], limit: int) -> list[Concept]:
    out = []
    for item in items:
        out.append(item)
        if len(out) > limit:
            break
    return out
