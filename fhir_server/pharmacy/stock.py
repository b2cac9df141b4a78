"""Units on hand per Medication, Location and lot (table ``pharmacy_stock``, migration 100).

Receipts (SupplyDelivery) add, dispenses (MedicationDispense) take; both run inside the write's
transaction. A taker locks the stock row FOR UPDATE before it compares, so two dispenses of the
last unit are ordered by PostgreSQL: the second sees 0 and is refused; the CHECK (quantity >= 0)
is the backstop should any writer forget to lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

from .refusals import stock_conflict

__all__ = ["Lot", "take", "give_back", "receive"]


@dataclass(frozen=True)
class Lot:
    medication_id: str
    location_id: str
    lot: str  # Medication.batch.lotNumber ('' when the Medication names no batch)

    def name(self) -> str:
        lot = f" lot {self.lot}" if self.lot else ""
        return f"Medication/{self.medication_id}{lot} at Location/{self.location_id}"


_KEY = "medication_id = %s AND location_id = %s AND lot = %s"


async def take(conn: AsyncConnection[Any], lot: Lot, quantity: Decimal) -> None:
    cur = await conn.execute(f"SELECT quantity FROM pharmacy_stock WHERE {_KEY} FOR UPDATE",
                             (lot.medication_id, lot.location_id, lot.lot))
    row = await cur.fetchone()
    on_hand = Decimal(row[0]) if row else Decimal(0)
    if on_hand < quantity:
        raise stock_conflict(f"Not enough stock of {lot.name()}: {on_hand} on hand, {quantity} asked")
    await conn.execute(f"UPDATE pharmacy_stock SET quantity = quantity - %s WHERE {_KEY}",
                       (quantity, lot.medication_id, lot.location_id, lot.lot))


async def give_back(conn: AsyncConnection[Any], lot: Lot, quantity: Decimal) -> None:
    """A cancelled, corrected or deleted dispense puts its units back."""
    await conn.execute(f"UPDATE pharmacy_stock SET quantity = quantity + %s WHERE {_KEY}",
                       (quantity, lot.medication_id, lot.location_id, lot.lot))


async def receive(conn: AsyncConnection[Any], lot: Lot, quantity: Decimal, expires: date | None) -> None:
    await conn.execute("INSERT INTO pharmacy_stock (medication_id, location_id, lot, quantity, expiration_date)"
                       " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (medication_id, location_id, lot) DO UPDATE"
                       " SET quantity = pharmacy_stock.quantity + EXCLUDED.quantity,"
                       " expiration_date = EXCLUDED.expiration_date",
                       (lot.medication_id, lot.location_id, lot.lot, quantity, expires))
