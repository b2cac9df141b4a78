"""Reading the records a pharmacy rule judges against: live resources by literal reference, read
inside the write's own transaction (so a resource written earlier in the same bundle is seen)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from ..errors import FhirError
from ..fhir.datetimes import parse_fhir_datetime_range

__all__ = ["reference_of", "live", "instant_range", "period_covers", "coded"]

# [base/]Type/id[/_history/v]: the last Type/id pair is what a literal reference names.
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def reference_of(element: Any, *types: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference to one of ``types`` (any type if none); None otherwise."""
    ref = element.get("reference") if isinstance(element, Mapping) else None
    match = _REFERENCE.search(ref) if isinstance(ref, str) else None
    if match is None or (types and match.group(1) not in types):
        return None
    return match.group(1), match.group(2)


async def live(conn: AsyncConnection[Any], rtype: str, rid: str) -> dict[str, Any] | None:
    cur = await conn.execute("SELECT content FROM resource WHERE resource_type = %s AND id = %s"
                             " AND version_id > 0 AND NOT deleted", (rtype, rid))
    row = await cur.fetchone()
    return dict(row[0]) if row else None


def instant_range(value: Any, name: str) -> tuple[datetime, datetime] | None:
    """The range a FHIR dateTime stands for (a date is its whole day); None when absent or malformed
    (the structure validator reports malformed values before any rule runs)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_fhir_datetime_range(value, name)
    except FhirError:
        return None


def period_covers(period: Any, moment: datetime | None = None) -> bool:
    """Does a Period (open ends allowed) include ``moment`` (default now)?"""
    moment = moment or datetime.now(UTC)
    if not isinstance(period, Mapping):
        return True
    start = instant_range(period.get("start"), "Period.start")
    end = instant_range(period.get("end"), "Period.end")
    return (start is None or start[0] <= moment) and (end is None or moment < end[1])


def coded(concepts: Any) -> set[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return {(str(c.get("system") or ""), str(c.get("code")))
            for item in items if isinstance(item, Mapping)
            for c in item.get("coding") or [] if isinstance(c, Mapping) and c.get("code")}
