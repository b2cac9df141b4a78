"""Where the engine finds ValueSets, CodeSystems and ConceptMaps by canonical URL
(http://hl7.org/fhir/R4/references.html#canonical, ``url|version`` allowed).

Precedence: resources handed in by the caller (inline, or stored in the server and fetched by
the operation), then code systems loaded into PostgreSQL (``fhir-server terminology load``),
then the process-wide definitions: the vendored R4 core, the IG packages of ``profiles/`` and
the files of ``terminology/`` (both added at start-up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..definitions import definitions
from .codesystem import CodeSystemView, SystemView

__all__ = ["Sources", "concept_maps", "split_canonical", "view_of"]

_VIEWS: dict[str, tuple[int, CodeSystemView]] = {}
_CONCEPT_MAPS: dict[str, dict[str, Any]] = {}


def concept_maps() -> dict[str, dict[str, Any]]:
    """Process-wide ConceptMaps by url (filled from ``terminology/`` at start-up)."""
    return _CONCEPT_MAPS


def split_canonical(url: str) -> tuple[str, str | None]:
    base, _, version = url.partition("|")
    return base, version or None


def view_of(resource: dict[str, Any]) -> CodeSystemView:
    """The (cached) view of a process-wide CodeSystem; rebuilt if the resource was replaced."""
    key = f"{resource.get('url')}|{resource.get('version')}"
    cached = _VIEWS.get(key)
    if cached is None or cached[0] != id(resource):
        cached = _VIEWS[key] = (id(resource), CodeSystemView(resource))
    return cached[1]


def _pick(table: dict[str, dict[str, Any]], url: str) -> dict[str, Any] | None:
    base, version = split_canonical(url)
    found = table.get(url) if version else None
    if found is None:
        found = table.get(base)
        if found is not None and version and found.get("version") not in (None, version):
            return None
    return found


@dataclass
class Sources:
    value_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    code_systems: dict[str, dict[str, Any]] = field(default_factory=dict)
    concept_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: dict[str, SystemView] = field(default_factory=dict)  # PostgreSQL-held code systems by url

    def value_set(self, url: str) -> dict[str, Any] | None:
        return _pick(self.value_sets, url) or _pick(definitions().value_sets, url)

    def code_system(self, url: str) -> SystemView | None:
        own = _pick(self.code_systems, url)
        if own is not None:
            return CodeSystemView(own)
        base, _ = split_canonical(url)
        if base in self.loaded:
            return self.loaded[base]
        found = _pick(definitions().code_systems, url)
        return view_of(found) if found is not None else None

    def concept_map(self, url: str) -> dict[str, Any] | None:
        return _pick(self.concept_maps, url) or _pick(_CONCEPT_MAPS, url)

    def add(self, resource: dict[str, Any]) -> None:
        """Make a stored or inline resource known by its url (and url|version)."""
        table = {"ValueSet": self.value_sets, "CodeSystem": self.code_systems,
                 "ConceptMap": self.concept_maps}.get(resource.get("resourceType", ""))
        url = resource.get("url")
        if table is not None and isinstance(url, str):
            table.setdefault(url, resource)
            if resource.get("version"):
                table.setdefault(f"{url}|{resource['version']}", resource)
