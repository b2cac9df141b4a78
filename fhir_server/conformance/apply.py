"""Put a catalog's definitions to work: profiles for validation, SearchParameters for search and
indexing, ValueSets, CodeSystems and ConceptMaps for terminology.

Precedence: the vendored R4 core definitions keep their canonical URLs (an IG's copy of a core
value set does not replace it); among IG packages the newest version of a package is applied
last, so an unversioned canonical (``meta.profile`` without ``|version``) means the newest
loaded one, while ``url|version`` names one exactly. IG SearchParameters apply to new writes;
``fhir-server reindex`` indexes what was stored before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..definitions import definitions
from ..resources.validation import register as register_profile
from ..search.registry import registry
from ..terminology.sources import concept_maps
from .catalog import Catalog
from .package import IgPackage

__all__ = ["apply_catalog", "Applied"]


@dataclass(frozen=True)
class Applied:
    profiles: int
    search_parameters: int
    value_sets: int
    code_systems: int
    concept_maps: int = 0


def _versioned(resource: dict[str, Any], package: IgPackage) -> str:
    return f"{resource['url']}|{resource.get('version') or package.version}"


def _structure_definitions(package: IgPackage, core: frozenset[str]) -> int:
    by_url = definitions().structure_definitions
    count = 0
    for sd in package.of_type("StructureDefinition"):
        if not sd.get("url") or "snapshot" not in sd or sd["url"] in core:
            continue
        by_url[sd["url"]] = by_url[_versioned(sd, package)] = sd
        register_profile(sd)
        register_profile(sd, _versioned(sd, package))
        count += 1
    return count


def _terminology(package: IgPackage, rtype: str, table: dict[str, dict[str, Any]], core: frozenset[str]) -> int:
    count = 0
    for resource in package.of_type(rtype):
        url = resource.get("url")
        if not url or url in core:
            continue
        table[url] = table[_versioned(resource, package)] = resource
        count += 1
    return count


def _search_parameters(package: IgPackage) -> int:
    count = 0
    for sp in package.of_type("SearchParameter"):
        if sp.get("status") == "active" and sp.get("code") and sp.get("base") and sp.get("expression"):
            registry().add_custom(sp)
            count += 1
    return count


def apply_catalog(catalog: Catalog) -> Applied:
    """Register everything the catalog's packages define; call once, before serving or loading."""
    defs = definitions()
    core_sds = frozenset(defs.structure_definitions)
    core_vs, core_cs = frozenset(defs.value_sets), frozenset(defs.code_systems)
    totals = [0, 0, 0, 0, 0]
    for package in catalog.packages:
        totals[0] += _structure_definitions(package, core_sds)
        totals[1] += _search_parameters(package)
        totals[2] += _terminology(package, "ValueSet", defs.value_sets, core_vs)
        totals[3] += _terminology(package, "CodeSystem", defs.code_systems, core_cs)
        # ConceptMaps go where $translate finds the terminology/ folder's (R4 core ships none to keep).
        totals[4] += _terminology(package, "ConceptMap", concept_maps(), frozenset())
    return Applied(*totals)
