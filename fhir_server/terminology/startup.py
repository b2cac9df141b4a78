"""The top-level ``terminology/`` folder: CodeSystem, ValueSet and ConceptMap JSON files (or
Bundles of them) loaded when the server starts, beside the R4 core and the IG packages
(http://hl7.org/fhir/R4/terminology-module.html).

Each file is checked before use: it must parse, be one of those types with a ``url``, not
replace an R4 core canonical, and each ValueSet must expand here (no import cycle, no code
system the server does not hold, at most ``max_expansion`` codes). A file that fails is named
with the reason and left out; with ``FHIR_TERMINOLOGY_STRICT`` start-up stops instead.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from ..definitions import definitions
from ..errors import FhirError
from .expansion import Expander
from .model import Concept
from .sources import Sources, concept_maps

__all__ = ["load_terminology", "TerminologyFolderError", "Loaded"]

log = logging.getLogger(__name__)
TYPES = ("CodeSystem", "ValueSet", "ConceptMap")


class TerminologyFolderError(Exception):
    """A file of the folder cannot be used and the server is configured strict."""


class _Unchecked:
    """Stand-in for a PostgreSQL-held code system while checking files: start-up does not query it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.version: str | None = None
        self.complete = True

    def concept(self, code: str) -> Concept | None:
        return None

    def concepts(self, text: str | None, limit: int) -> list[Concept]:
        return []

    def filtered(self, filters: list[dict[str, Any]], text: str | None, limit: int) -> list[Concept]:
        return []

    def parents(self, code: str) -> list[str]:
        return []

    def children(self, code: str) -> list[str]:
        return []

    def subsumes(self, ancestor: str, code: str) -> bool:
        return False


class Loaded:
    def __init__(self) -> None:
        self.resources: list[tuple[str, dict[str, Any]]] = []  # (file name, resource)
        self.problems: list[str] = []


def _resources_of(path: Path) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        data = [e.get("resource") for e in data.get("entry") or [] if isinstance(e, dict)]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict) or item.get("resourceType") not in TYPES:
            kind = item.get("resourceType") if isinstance(item, dict) else type(item).__name__
            raise ValueError(f"holds a {kind}, not a CodeSystem, ValueSet or ConceptMap")
        if not isinstance(item.get("url"), str):
            raise ValueError(f"{item['resourceType']}/{item.get('id')} has no url")
    return items


def _read(folder: Path, out: Loaded) -> None:
    defs = definitions()
    core = set(defs.value_sets) | set(defs.code_systems)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            items = _resources_of(path)
            clash = [r["url"] for r in items if r["url"] in core and r["resourceType"] != "ConceptMap"]
            if clash:
                raise ValueError(f"{clash[0]} is already defined (R4 core or an IG package)")
        except ValueError as exc:
            out.problems.append(f"{path}: {exc}")
            continue
        out.resources += [(path.name, r) for r in items]


def _tables() -> dict[str, dict[str, dict[str, Any]]]:
    defs = definitions()
    return {"ValueSet": defs.value_sets, "CodeSystem": defs.code_systems, "ConceptMap": concept_maps()}


def _apply(resources: list[tuple[str, dict[str, Any]]], add: bool) -> None:
    tables = _tables()
    for _, resource in resources:
        table = tables[resource["resourceType"]]
        keys = [resource["url"], *([f"{resource['url']}|{resource['version']}"] if resource.get("version") else [])]
        for key in keys:
            if add:
                table[key] = resource
            else:
                table.pop(key, None)


def _check_value_sets(folder: Path, out: Loaded, max_expansion: int, loaded: frozenset[str]) -> None:
    """Expand every ValueSet of the folder; drop those that fail (and, in turn, their importers)."""
    sources = Sources(loaded={url: _Unchecked(url) for url in loaded})
    failed = True
    while failed:
        failed = False
        dropped: set[str] = set()
        for name, resource in list(out.resources):
            if resource["resourceType"] != "ValueSet" or name in dropped:
                continue
            try:
                Expander(sources, max_expansion).expand(resource)
            except FhirError as exc:
                out.problems.append(f"{folder / name}: ValueSet {resource['url']}: {exc.message}")
                _apply([(n, r) for n, r in out.resources if n == name], add=False)  # the whole file goes
                out.resources = [(n, r) for n, r in out.resources if n != name]
                dropped.add(name)
                failed = True


@cache
def load_terminology(folder: Path, strict: bool = False, max_expansion: int = 10_000,
                     loaded: frozenset[str] = frozenset()) -> Loaded:
    """Read, check and register the folder once per process (the definitions are process-wide)."""
    out = Loaded()
    _read(folder, out)
    _apply(out.resources, add=True)
    _check_value_sets(folder, out, max_expansion, loaded)
    for problem in out.problems:
        log.error("terminology file left out: %s", problem)
    if strict and out.problems:
        _apply(out.resources, add=False)
        raise TerminologyFolderError("; ".join(out.problems))
    if out.resources:
        log.info("terminology from %s: %d resources", folder, len(out.resources))
    return out
