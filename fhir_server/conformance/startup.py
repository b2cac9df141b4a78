"""Loading the profiles folder when a process starts (``serve``, ``load``, ``reindex``).

Start-up names every package left out and why, and goes on without it; with
``FHIR_PROFILES_STRICT`` it refuses to start instead.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

from .apply import Applied, apply_catalog
from .catalog import Catalog, load_catalog

__all__ = ["load_profiles", "apply_write_policy"]

log = logging.getLogger(__name__)


@cache
def load_profiles(folder: Path, strict: bool = False) -> Catalog:
    """Read and apply the folder's packages once per process (the registries are process-wide)."""
    catalog = load_catalog(folder, strict)
    for problem in catalog.problems:
        log.error("IG package left out: %s", problem)
    for warning in catalog.warnings:
        log.warning("IG package: %s", warning)
    applied: Applied = apply_catalog(catalog)
    if catalog.packages:
        log.info("IG packages from %s: %s (%d profiles, %d search parameters, %d value sets, %d code systems,"
                 " %d concept maps)", folder, ", ".join(p.label for p in catalog.packages), applied.profiles,
                 applied.search_parameters, applied.value_sets, applied.code_systems, applied.concept_maps)
    return catalog


def apply_write_policy(required: tuple[tuple[str, str], ...], reject_unknown: bool) -> None:
    """Profiles required per type, and what a profile the server does not know means (settings)."""
    from ..resources.validation import configure

    by_type: dict[str, tuple[str, ...]] = {}
    for rtype, url in required:
        by_type[rtype] = (*by_type.get(rtype, ()), url)
    configure(by_type, reject_unknown)
