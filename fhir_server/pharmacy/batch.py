"""A Medication's batch: http://hl7.org/fhir/R4/medication-definitions.html#Medication.batch

R4 gives a Medication one batch (lot number, expiry), so each lot the pharmacy stocks is its own
Medication resource (sharing the product ``code``); stock is kept per Medication, Location and lot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection

from .records import instant_range, live
from .refusals import refused

__all__ = ["Batch", "batch_of", "check_not_expired"]

Batch = tuple[str, date | None]  # (lot number or '', expiry date)


async def batch_of(conn: AsyncConnection[Any], medication_id: str, what: str) -> Batch:
    medication = await live(conn, "Medication", medication_id)
    if medication is None:
        raise refused("stock", f"{what} Medication/{medication_id} is not known on this server")
    found = medication.get("batch")
    batch: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    expires = instant_range(batch.get("expirationDate"), "Medication.batch.expirationDate")
    return str(batch.get("lotNumber") or ""), expires[0].date() if expires else None


def check_not_expired(medication_id: str, batch: Batch) -> None:
    lot, expires = batch
    if expires is not None and expires < datetime.now(UTC).date():
        raise refused("expired-lot", f"Medication/{medication_id} lot {lot or '(none)'} expired on "
                      f"{expires.isoformat()}: it may not be dispensed")
