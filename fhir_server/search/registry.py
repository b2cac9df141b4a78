"""SearchParameter definitions -> one implementation per (resource type, code).

http://hl7.org/fhir/R4/searchparameter.html and http://hl7.org/fhir/R4/searchparameter-registry.html.
The 1,375 official R4 parameters come from the vendored definitions; custom SearchParameter
resources are added when written (and loaded from the database on first use per process),
and apply to writes from then on (``fhir-server reindex`` covers older data).
Expressions shared by many types (``clinical-patient``) are split on ``|`` and each type keeps
only its own branches. Each branch is compiled once, when the type is first used.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ..definitions import definitions
from .extract import Extractor, compile_path, root_keys, split_union

__all__ = ["SearchParam", "Component", "registry", "search_params_for", "Registry", "RESOURCE_COLUMNS",
           "FULLTEXT", "SEARCH_TYPES", "DOMAIN_EXCLUDED"]

SEARCH_TYPES = ("number", "date", "string", "token", "reference", "composite", "quantity", "uri", "special")
RESOURCE_COLUMNS = frozenset({"_id", "_lastUpdated"})  # searched on the resource table itself
FULLTEXT = frozenset({"_text", "_content"})  # searched on search_text (PostgreSQL full text)
DOMAIN_EXCLUDED = frozenset({"Bundle", "Binary", "Parameters"})  # not DomainResources
_LEAD = re.compile(r"^\(*\s*([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Component:
    definition: str
    expression: str
    extract: Extractor
    type: str


@dataclass(frozen=True)
class SearchParam:
    """One SearchParameter bound to one resource type."""

    code: str
    type: str
    url: str
    resource_type: str
    expression: str | None
    targets: tuple[str, ...] = ()
    description: str | None = None
    extract: Extractor | None = None
    components: tuple[Component, ...] = ()
    slow: bool = False  # some branch runs on fhirpathpy
    roots: frozenset[str] | None = None  # top-level keys it needs (extract.root_keys)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def indexed(self) -> bool:
        return self.code not in RESOURCE_COLUMNS and self.code not in FULLTEXT and self.extract is not None


def _applies(sp: dict[str, Any], rtype: str) -> bool:
    bases = sp.get("base") or []
    return rtype in bases or "Resource" in bases or ("DomainResource" in bases and rtype not in DOMAIN_EXCLUDED)


def _branches(expression: str, rtype: str) -> list[str]:
    out = []
    for part in split_union(expression):
        m = _LEAD.match(part)
        lead = m.group(1) if m else ""
        if lead in (rtype, "Resource", "DomainResource") or lead[:1].islower():
            if lead[:1].islower():
                part = f"{rtype}.{part}"
            out.append(part)
    return out


class Registry:
    """Official and custom SearchParameters, bound per resource type on first use."""

    def __init__(self, official: list[dict[str, Any]]) -> None:
        self._lock = threading.Lock()
        self._defs: list[dict[str, Any]] = list(official)
        self._by_url = {sp["url"]: sp for sp in self._defs if "url" in sp}
        self._bound: dict[str, dict[str, SearchParam]] = {}
        self._indexed: dict[str, tuple[SearchParam, ...]] = {}
        self.custom_loaded = False

    def add_custom(self, sp: dict[str, Any]) -> None:
        """Register (or replace) a custom SearchParameter resource.

        Only ``status = active`` parameters take effect (draft ones, such as the spec's own
        example SearchParameters, must not change how existing parameters search).
        """
        if sp.get("status") != "active" or not sp.get("code") or not sp.get("type"):
            return
        with self._lock:
            url = sp.get("url") or f"urn:custom:{sp.get('id')}"
            self._defs = [d for d in self._defs if d.get("url") != url and not _same_slot(d, sp)] + [{**sp, "url": url}]
            self._by_url[url] = {**sp, "url": url}
            for base in sp.get("base") or []:
                self._bound.pop(base, None)
                self._indexed.pop(base, None)
            if {"Resource", "DomainResource"} & set(sp.get("base") or []):
                self._bound.clear()
                self._indexed.clear()

    def for_type(self, rtype: str) -> dict[str, SearchParam]:
        bound = self._bound.get(rtype)
        if bound is None:
            with self._lock:
                bound = {sp["code"]: self._bind(sp, rtype) for sp in self._defs if _applies(sp, rtype)}
                self._bound[rtype] = bound
        return bound

    def indexed_for(self, rtype: str) -> tuple[SearchParam, ...]:
        """The type's parameters that have index rows, bound once."""
        indexed = self._indexed.get(rtype)
        if indexed is None:
            indexed = self._indexed[rtype] = tuple(p for p in self.for_type(rtype).values() if p.indexed)
        return indexed

    def get(self, rtype: str, code: str) -> SearchParam | None:
        return self.for_type(rtype).get(code)

    def _bind(self, sp: dict[str, Any], rtype: str) -> SearchParam:
        expression = sp.get("expression")
        extract, slow, roots = None, False, None
        if expression:
            parts = _branches(expression, rtype)
            if parts:
                extract, n_slow = compile_path(parts)
                slow, roots = n_slow > 0, root_keys(parts)
        components = tuple(self._component(c) for c in sp.get("component") or ())
        return SearchParam(
            code=sp["code"], type=sp["type"], url=sp.get("url", ""), resource_type=rtype, expression=expression,
            targets=tuple(sp.get("target") or ()), description=sp.get("description"), extract=extract,
            components=components, slow=slow, roots=roots)

    def _component(self, component: dict[str, Any]) -> Component:
        definition = component.get("definition", "")
        target = self._by_url.get(definition, {})
        extract, _ = compile_path(split_union(component.get("expression", "")), relative=True)
        return Component(definition, component.get("expression", ""), extract, target.get("type", "token"))


def _same_slot(official: dict[str, Any], custom: dict[str, Any]) -> bool:
    """A custom parameter with the code and base of an official one replaces it."""
    same_base = set(official.get("base") or []) == set(custom.get("base") or [])
    return official.get("code") == custom.get("code") and same_base


@cache
def registry() -> Registry:
    return Registry(definitions().search_parameters)


def search_params_for(resource_type: str) -> list[dict[str, Any]]:
    """CapabilityStatement.rest.resource.searchParam entries for ``resource_type``."""
    out = []
    for code, param in sorted(registry().for_type(resource_type).items()):
        if param.type == "special" and code != "_content":
            continue
        entry: dict[str, Any] = {"name": code, "definition": param.url, "type": param.type}
        if param.description:
            entry["documentation"] = param.description
        out.append(entry)
    return out
