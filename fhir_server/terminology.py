"""Value set expansion over the vendored R4 terminology (http://hl7.org/fhir/R4/valueset.html#compositions).

``expand(url)`` returns the set of (system, code) pairs a value set contains, computed from
``compose`` (concept lists, whole code systems, ``is-a``/``descendent-of`` filters, nested
value sets, excludes) or a stored expansion. It returns None when the value set cannot be
expanded locally — unknown, or drawing on code systems not held here (SNOMED CT, LOINC,
UCUM, BCP-47, MIME types) — so callers skip the check rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from .definitions import definitions

__all__ = ["expand", "codes_of", "Concepts"]

Concepts = frozenset[tuple[str, str]]
HIERARCHY_FILTERS = ("is-a", "descendent-of", "is-not-a")


def _flatten(concepts: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for concept in concepts:
        yield concept
        yield from _flatten(concept.get("concept", []))


@cache
def codes_of(system: str) -> frozenset[str] | None:
    """Every code of a complete code system held here, else None."""
    code_system = definitions().code_systems.get(system)
    if code_system is None or code_system.get("content") not in ("complete", None):
        return None
    return frozenset(c["code"] for c in _flatten(code_system.get("concept", [])))


def _descendants(system: str, code: str, include_self: bool) -> set[str] | None:
    code_system = definitions().code_systems.get(system)
    if code_system is None:
        return None
    for concept in _flatten(code_system.get("concept", [])):
        if concept["code"] == code:
            below = {c["code"] for c in _flatten(concept.get("concept", []))}
            return below | {code} if include_self else below
    return set()


def _filtered(system: str, filters: list[dict[str, Any]]) -> set[str] | None:
    codes: set[str] | None = None
    for item in filters:
        if item.get("property") != "concept" or item.get("op") not in HIERARCHY_FILTERS:
            return None
        found = _descendants(system, item["value"], item["op"] == "is-a")
        if found is None:
            return None
        if item["op"] == "is-not-a":
            every = codes_of(system)
            if every is None:
                return None
            found = set(every) - found - {item["value"]}
        codes = found if codes is None else codes & found
    return codes


def _component(component: dict[str, Any]) -> set[tuple[str, str]] | None:
    """The concepts of one compose include/exclude, or None if it cannot be computed here."""
    system = component.get("system")
    result: set[tuple[str, str]] | None = None
    if system is not None:
        if "concept" in component:
            codes: set[str] | frozenset[str] | None = {c["code"] for c in component["concept"]}
        elif "filter" in component:
            codes = _filtered(system, component["filter"])
        else:
            codes = codes_of(system)
        if codes is None:
            return None
        result = {(system, code) for code in codes}
    for url in component.get("valueSet", []):
        nested = expand(url)
        if nested is None:
            return None
        result = set(nested) if result is None else result & nested
    return result


@cache
def expand(url: str) -> Concepts | None:
    value_set = definitions().value_sets.get(url.split("|", 1)[0])
    if value_set is None:
        return None
    compose = value_set.get("compose")
    if compose is None:
        contains = value_set.get("expansion", {}).get("contains")
        if not contains:
            return None
        return frozenset((c.get("system", ""), c["code"]) for c in _flatten_contains(contains))
    included: set[tuple[str, str]] = set()
    for component in compose.get("include", []):
        part = _component(component)
        if part is None:
            return None
        included |= part
    for component in compose.get("exclude", []):
        part = _component(component)
        if part is None:
            return None
        included -= part
    return frozenset(included)


def _flatten_contains(contains: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in contains:
        if "code" in item:
            yield item
        yield from _flatten_contains(item.get("contains", []))
