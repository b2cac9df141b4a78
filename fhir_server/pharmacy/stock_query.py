"""``GET|POST [base]/Medication/$stock``: current stock and low-stock items (pharmacy_stock), as
Parameters (operation_definitions/Medication-stock.json). The caller's Medication search
predicate is part of the statement, so scopes decide which Medications are listed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest
from ..search.sqlfrag import Q, fmt, join
from ..smart_auth.policy import Policy
from .records import reference_of

__all__ = ["CAPABILITY_ENTRY", "stock", "parse_params"]

CAPABILITY_ENTRY = {"name": "stock", "definition": "http://fhir-server.example.org/OperationDefinition/Medication-stock"}
NAMES = ("location", "medication", "below")


def _id_of(value: str, rtype: str) -> str:
    ref = reference_of({"reference": value}, rtype)
    if ref is None:
        raise BadRequest(f"$stock {rtype.lower()} must be a reference {rtype}/[id], not {value!r}")
    return ref[1]


def parse_params(params: dict[str, str]) -> list[Q]:
    where: list[Q] = []
    for name in params:
        if name not in NAMES:
            raise BadRequest(f"$stock has no parameter {name} (it takes {', '.join(NAMES)})")
    if "location" in params:
        where.append(fmt("s.location_id = {}", _id_of(params["location"], "Location")))
    if "medication" in params:
        where.append(fmt("s.medication_id = {}", _id_of(params["medication"], "Medication")))
    if "below" in params:
        try:
            below = Decimal(params["below"])
        except InvalidOperation:
            raise BadRequest(f"$stock below must be a number, not {params['below']!r}") from None
        where.append(fmt("s.quantity < {}", below))
    return where


def _item(row: tuple[Any, ...]) -> dict[str, Any]:
    mid, lid, lot, quantity, expires = row
    parts: list[dict[str, Any]] = [{"name": "medication", "valueReference": {"reference": f"Medication/{mid}"}},
                                   {"name": "location", "valueReference": {"reference": f"Location/{lid}"}}]
    if lot:
        parts.append({"name": "lot", "valueString": lot})
    if expires is not None:
        parts.append({"name": "expirationDate", "valueDate": expires.isoformat()})
    parts.append({"name": "expired", "valueBoolean": expires is not None and expires < datetime.now(UTC).date()})
    parts.append({"name": "quantity", "valueDecimal": quantity})
    return {"name": "item", "part": parts}


async def stock(conn: AsyncConnection[Any], params: dict[str, str], policy: Policy) -> dict[str, Any]:
    where = parse_params(params)
    access = policy.predicate("Medication", "s")
    if access is not None:
        where.append(access)
    statement = fmt("SELECT s.medication_id, s.location_id, s.lot, s.quantity, s.expiration_date FROM pharmacy_stock s"
                    " JOIN resource r ON r.resource_type = 'Medication' AND r.id = s.medication_id AND NOT r.deleted"
                    " AND r.version_id > 0 WHERE {} ORDER BY s.medication_id, s.location_id, s.lot",
                    join(" AND ", where or [fmt("TRUE")]))
    cur = await conn.execute(statement.sql, statement.params)
    return {"resourceType": "Parameters", "parameter": [_item(row) for row in await cur.fetchall()]}
