"""Value set expansion (http://hl7.org/fhir/R4/valueset.html#expansion, the compose rules of
valueset.html#compositions): enumerated concepts, whole code systems, filters, imported
value sets (intersected with the include's system part), excludes; then the $expand
parameters ``filter``, ``activeOnly`` and paging.

Guards: a value set that imports itself, directly or through others, is an error naming the
cycle; an expansion over ``limit`` codes is ``too-costly`` and stops as soon as it is known
(a code system in PostgreSQL is asked for at most ``limit + 1`` rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .codesystem import text_matches
from .errors import CannotExpand, TerminologyError, TooCostly, UnknownValueSet
from .model import Concept, objects
from .sources import Sources

__all__ = ["Expander", "DEFAULT_LIMIT", "MAX_DEPTH"]

DEFAULT_LIMIT = 10_000
MAX_DEPTH = 16
Found = dict[tuple[str, str], Concept]  # insertion-ordered: expansion order follows the compose


def _check_shape(component: dict[str, Any], url: str) -> None:
    """Wrong shapes (a filter that is not a list of objects, ...) are the definition's error, not ours."""
    for key, kind in (("concept", dict), ("filter", dict), ("valueSet", str)):
        value = component.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, kind) for v in value)):
            raise CannotExpand(f"compose {key} of {url} must be a list of {'objects' if kind is dict else 'urls'}")
    if "system" in component and not isinstance(component["system"], str):
        raise CannotExpand(f"compose system of {url} must be a url")


def _components(compose: dict[str, Any], key: str, url: str) -> list[dict[str, Any]]:
    items = compose.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CannotExpand(f"compose.{key} of {url} must be a list of objects")
    for item in items:
        _check_shape(item, url)
    return items


def flatten_contains(contains: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in contains:
        if isinstance(item, dict):
            if "code" in item:
                yield item
            yield from flatten_contains(item.get("contains") or [])


@dataclass
class Expander:
    sources: Sources
    limit: int = DEFAULT_LIMIT

    def expand(self, value_set: dict[str, Any], text: str | None = None, active_only: bool = False) -> list[Concept]:
        """The concepts of ``value_set`` (text filter and activeOnly applied), in compose order."""
        found = self._value_set(value_set, text, ())
        return [c for c in found.values() if not (active_only and c.inactive)]

    def expand_url(self, url: str, text: str | None = None, active_only: bool = False) -> list[Concept]:
        return self.expand(self.resolve(url), text, active_only)

    def resolve(self, url: str) -> dict[str, Any]:
        value_set = self.sources.value_set(url)
        if value_set is None:
            raise UnknownValueSet(f"ValueSet {url} is not known to this server")
        return value_set

    def _value_set(self, value_set: dict[str, Any], text: str | None, stack: tuple[str, ...]) -> Found:
        url = value_set.get("url") or f"{value_set.get('resourceType')}/{value_set.get('id')}"
        if url in stack:
            raise TerminologyError(f"ValueSet {url} includes itself: {' -> '.join((*stack, url))}")
        if len(stack) >= MAX_DEPTH:
            raise TerminologyError(f"ValueSet imports nest deeper than {MAX_DEPTH}: {' -> '.join(stack)}")
        stack = (*stack, url)
        compose = value_set.get("compose")
        if not isinstance(compose, dict):
            return self.stored_expansion(value_set, url, text)
        found: Found = {}
        for component in _components(compose, "include", url):
            found.update(self._component(component, text, stack))
            self._check_size(found, url)
        for component in _components(compose, "exclude", url):
            for key in self._component(component, None, stack):
                found.pop(key, None)
        return found

    def stored_expansion(self, value_set: dict[str, Any], url: str, text: str | None) -> Found:
        """A value set without compose, by its own ``expansion.contains``."""
        contains = (value_set.get("expansion") or {}).get("contains")
        if not contains:
            raise CannotExpand(f"ValueSet {url} has neither a compose nor an expansion")
        found: Found = {}
        for item in flatten_contains(contains):
            concept = Concept(item.get("system", ""), item["code"], item.get("display"), item.get("version"),
                              bool(item.get("inactive")), bool(item.get("abstract")),
                              objects(item.get("designation")))
            if text_matches(concept, text):
                found[concept.key] = concept
        self._check_size(found, url)
        return found

    def _check_size(self, found: Found | list[Concept], url: str) -> None:
        if len(found) > self.limit:
            raise TooCostly(f"The expansion of {url} has more than {self.limit} codes: too costly to return; "
                            "narrow it with 'filter'")

    def _component(self, component: dict[str, Any], text: str | None, stack: tuple[str, ...]) -> Found:
        if not isinstance(component, dict):
            raise CannotExpand(f"A compose include/exclude of {stack[-1]} is not an object")
        imported: Found | None = None
        for url in component.get("valueSet") or []:
            part = self._value_set(self.resolve(url), text, stack)
            imported = part if imported is None else {k: v for k, v in imported.items() if k in part}
        system = component.get("system")
        if not isinstance(system, str):
            if imported is None:
                raise CannotExpand(f"A compose include of {stack[-1]} names neither a system nor a valueSet")
            return imported
        own = self._system_part(component, system, text, stack[-1], imported)
        return own if imported is None else {k: v for k, v in own.items() if k in imported}

    def _system_part(self, component: dict[str, Any], system: str, text: str | None, url: str,
                     imported: Found | None) -> Found:
        view = self.sources.code_system(system)
        version = component.get("version")
        if "concept" in component:
            return self.enumerated(component, system, version, view, text)
        if view is None:
            raise CannotExpand(f"CodeSystem {system} (in {url}) is not known to this server")
        if imported is not None and not component.get("filter"):
            # Only the imported codes can survive the intersection: test them, do not enumerate the system.
            return {k: v for k, v in imported.items() if k[0] == system and view.concept(k[1]) is not None}
        filters = component.get("filter") or []
        concepts = (view.filtered(filters, text, self.limit) if filters else view.concepts(text, self.limit))
        self._check_size(concepts, url)
        return {c.key: c for c in concepts}

    def enumerated(self, component: dict[str, Any], system: str, version: str | None, view: Any,
                   text: str | None) -> Found:
        """Listed concepts; the compose's display and designations win over the code system's."""
        found: Found = {}
        for item in component.get("concept") or []:
            if not isinstance(item, dict) or not isinstance(item.get("code"), str):
                continue
            known = view.concept(item["code"]) if view is not None else None
            concept = Concept(system, item["code"], item.get("display") or (known.display if known else None),
                              version or (known.version if known else None), bool(known and known.inactive),
                              bool(known and known.abstract),
                              objects(item.get("designation")) or (known.designations if known else ()))
            if text_matches(concept, text):
                found[concept.key] = concept
        return found


def _code_filter(code: str) -> dict[str, str]:
    return {"property": "code", "op": "=", "value": code}


@dataclass
class Membership:
    """Is one (system, code) in a value set? Evaluated on the compose for that code alone, so a
    value set over a whole large code system answers without being expanded
    (valueset-operation-validate-code.html)."""

    sources: Sources

    def find(self, value_set: dict[str, Any], system: str, code: str, stack: tuple[str, ...] = ()) -> Concept | None:
        url = value_set.get("url") or f"ValueSet/{value_set.get('id')}"
        if url in stack:
            raise TerminologyError(f"ValueSet {url} includes itself: {' -> '.join((*stack, url))}")
        if len(stack) >= MAX_DEPTH:
            raise TerminologyError(f"ValueSet imports nest deeper than {MAX_DEPTH}: {' -> '.join(stack)}")
        stack = (*stack, url)
        compose = value_set.get("compose")
        if not isinstance(compose, dict):
            found = Expander(self.sources).stored_expansion(value_set, url, None)
            return found.get((system, code))
        for component in _components(compose, "exclude", url):
            if self._component(component, system, code, stack) is not None:
                return None
        for component in _components(compose, "include", url):
            concept = self._component(component, system, code, stack)
            if concept is not None:
                return concept
        return None

    def _component(self, component: dict[str, Any], system: str, code: str, stack: tuple[str, ...]) -> Concept | None:
        concept: Concept | None = None
        for url in component.get("valueSet") or []:
            nested = self.sources.value_set(url)
            if nested is None:
                raise UnknownValueSet(f"ValueSet {url} (imported by {stack[-1]}) is not known to this server")
            concept = self.find(nested, system, code, stack)
            if concept is None:
                return None
        own = component.get("system")
        if not isinstance(own, str):
            return concept
        if own != system:
            return None
        if "concept" in component:
            found = Expander(self.sources).enumerated(
                {"concept": [c for c in component["concept"] if isinstance(c, dict) and c.get("code") == code]},
                system, component.get("version"), self.sources.code_system(system), None)
            return next(iter(found.values()), None)
        view = self.sources.code_system(system)
        if view is None:
            raise CannotExpand(f"CodeSystem {system} (in {stack[-1]}) is not known to this server")
        filters = component.get("filter") or []
        if not filters:
            return view.concept(code)
        matches = view.filtered([*filters, _code_filter(code)], None, 1)
        return matches[0] if matches else None
