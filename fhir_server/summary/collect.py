"""Filling the summary's sections with one compartment search per source, under the caller's policy.

The same machinery as Patient/$everything (resources/operations/everything.py): the Patient is
checked visible first, then each search runs in the Patient compartment with the policy's
predicate inside its SQL (search.service.search with ``access``), so a section never holds a row
the caller could not read. A type the caller's scopes do not cover is reported as withheld.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..search.service import SearchOptions, search
from ..smart_auth.policy import Policy
from .document import Filled
from .sections import SECTIONS, Section

__all__ = ["collect"]


async def _fill(conn: AsyncConnection[Any], section: Section, patient_id: str, options: SearchOptions,
                policy: Policy, limit: int) -> Filled:
    filled = Filled(section)
    for source in section.sources:
        if not policy.allows(source.resource_type, "s"):
            filled.withheld.append(source.resource_type)
            continue
        items = [*source.params, ("_count", str(limit + 1))]
        result = await search(conn, [source.resource_type], items, options, ("Patient", patient_id), access=policy)
        filled.truncated |= len(result.matches) > limit
        filled.rows.extend(result.matches[:limit])
    return filled


async def collect(conn: AsyncConnection[Any], patient_id: str, options: SearchOptions, policy: Policy,
                  limit: int) -> list[Filled]:
    return [await _fill(conn, section, patient_id, options, policy, limit) for section in SECTIONS]
