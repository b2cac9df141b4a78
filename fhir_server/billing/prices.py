"""The price list file: one ChargeItemDefinition per billable code.

Columns (CSV with a header row, or a JSON array of objects with the same keys):
``system`` (code system URI), ``code``, ``display``, ``amount`` (decimal, >= 0), ``currency``
(ISO 4217, e.g. EUR). Each row becomes an active ChargeItemDefinition with a deterministic id
(``price-`` + 16 hex of sha256(system|code)), so loading a file again updates the same prices.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import Unprocessable
from .money import money

__all__ = ["COLUMNS", "definition_id", "definition", "read_rows", "definitions_from_file", "PRICE_URL"]

COLUMNS = ("system", "code", "display", "amount", "currency")
PRICE_URL = "http://fhir-server.example.org/ChargeItemDefinition/"


def definition_id(system: str, code: str) -> str:
    return "price-" + hashlib.sha256(f"{system}|{code}".encode()).hexdigest()[:16]


def definition(row: dict[str, Any], line: int) -> dict[str, Any]:
    """A ChargeItemDefinition for one row (422 naming the row when a column is missing or wrong)."""
    values = {k: str(row.get(k) or "").strip() for k in COLUMNS}
    missing = [k for k in ("system", "code", "amount", "currency") if not values[k]]
    if missing:
        raise Unprocessable(f"price row {line}: missing {', '.join(missing)}")
    try:
        amount = Decimal(values["amount"])
    except InvalidOperation:
        raise Unprocessable(f"price row {line}: amount {values['amount']!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise Unprocessable(f"price row {line}: amount must be a number >= 0")
    if len(values["currency"]) != 3 or not values["currency"].isalpha():
        raise Unprocessable(f"price row {line}: currency must be an ISO 4217 code such as EUR")
    rid = definition_id(values["system"], values["code"])
    coding = {"system": values["system"], "code": values["code"]}
    if values["display"]:
        coding["display"] = values["display"]
    return {"resourceType": "ChargeItemDefinition", "id": rid, "url": PRICE_URL + rid, "status": "active",
            "title": values["display"] or values["code"], "code": {"coding": [coding]},
            "propertyGroup": [{"priceComponent": [{"type": "base",
                                                   "amount": money(amount, values["currency"].upper())}]}]}


def read_rows(text: str, suffix: str) -> list[dict[str, Any]]:
    if suffix == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise Unprocessable("a JSON price list is an array of objects")
        return rows
    if suffix == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    raise Unprocessable(f"a price list is a .csv or .json file, not {suffix or 'no suffix'}")


def definitions_from_file(path: Path) -> list[dict[str, Any]]:
    rows = read_rows(path.read_text(encoding="utf-8"), path.suffix.lower())
    return [definition(row, line) for line, row in enumerate(rows, start=1)]
