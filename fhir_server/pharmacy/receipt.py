"""Stock receipts: the SupplyDelivery write rule. http://hl7.org/fhir/R4/supplydelivery.html

A ``completed`` SupplyDelivery whose ``suppliedItem.itemReference`` is a Medication adds
``suppliedItem.quantity`` of that Medication's lot (its ``batch.lotNumber``) to the stock of its
``destination`` Location. Any later change (another quantity, status, item or place) or deletion
first takes the earlier receipt back, which is refused (409) once its units were dispensed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from ..rules import Change
from .batch import batch_of
from .records import live, reference_of
from .refusals import refused, stock_conflict
from .stock import Lot, receive
from .supply import quantity_of

__all__ = ["guard_delivery"]


async def _held(conn: AsyncConnection[Any], delivery_id: str) -> tuple[Lot, Decimal] | None:
    cur = await conn.execute("SELECT medication_id, location_id, lot, quantity FROM pharmacy_receipt"
                             " WHERE delivery_id = %s FOR UPDATE", (delivery_id,))
    row = await cur.fetchone()
    return (Lot(row[0], row[1], row[2]), Decimal(row[3])) if row else None


async def _take_back(conn: AsyncConnection[Any], delivery_id: str, lot: Lot, quantity: Decimal) -> None:
    """Take ``quantity`` of the receipt's units back out of stock (refused once they were dispensed)."""
    cur = await conn.execute("SELECT quantity FROM pharmacy_stock WHERE medication_id = %s AND location_id = %s"
                             " AND lot = %s FOR UPDATE", (lot.medication_id, lot.location_id, lot.lot))
    row = await cur.fetchone()
    on_hand = Decimal(row[0]) if row else Decimal(0)
    if on_hand < quantity:
        raise stock_conflict(f"SupplyDelivery/{delivery_id} received {quantity} of {lot.name()}, but only "
                             f"{on_hand} are still on hand: its units were dispensed, so it cannot be undone")
    await conn.execute("UPDATE pharmacy_stock SET quantity = quantity - %s WHERE medication_id = %s"
                       " AND location_id = %s AND lot = %s", (quantity, lot.medication_id, lot.location_id, lot.lot))


async def _receipt_of(conn: AsyncConnection[Any], delivery: Mapping[str, Any] | None) -> tuple[Lot, Decimal] | None:
    item = (delivery or {}).get("suppliedItem") or {}
    medication = reference_of(item.get("itemReference"), "Medication")
    if delivery is None or delivery.get("status") != "completed" or medication is None:
        return None
    destination = reference_of(delivery.get("destination"), "Location")
    quantity = quantity_of(item, "SupplyDelivery.suppliedItem")
    if destination is None or not quantity:
        raise refused("stock-receipt", "A completed SupplyDelivery of a Medication needs a destination Location and"
                      " a suppliedItem.quantity above zero")
    if await live(conn, "Location", destination[1]) is None:
        raise refused("stock-receipt", f"SupplyDelivery.destination Location/{destination[1]} is not known")
    lot, _ = await batch_of(conn, medication[1], "SupplyDelivery.suppliedItem.itemReference")
    return Lot(medication[1], destination[1], lot), quantity


async def guard_delivery(conn: AsyncConnection[Any], change: Change) -> None:
    held = await _held(conn, change.id)
    wanted = await _receipt_of(conn, change.new)
    if held == wanted:
        return
    # A corrected count of the same lot and place moves stock by the difference only.
    kept = min(held[1], wanted[1]) if held and wanted and held[0] == wanted[0] else Decimal(0)
    if held is not None:
        if held[1] > kept:
            await _take_back(conn, change.id, held[0], held[1] - kept)
        await conn.execute("DELETE FROM pharmacy_receipt WHERE delivery_id = %s", (change.id,))
    if wanted is not None:
        lot, quantity = wanted
        _, expires = await batch_of(conn, lot.medication_id, "SupplyDelivery.suppliedItem.itemReference")
        await receive(conn, lot, quantity - kept, expires)
        await conn.execute("INSERT INTO pharmacy_receipt (delivery_id, medication_id, location_id, lot, quantity)"
                           " VALUES (%s, %s, %s, %s, %s)", (change.id, lot.medication_id, lot.location_id, lot.lot,
                                                             quantity))
