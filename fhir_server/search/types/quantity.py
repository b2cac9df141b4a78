"""quantity search parameters: http://hl7.org/fhir/R4/search.html#quantity.

Value syntax ``[prefix][number]|[system]|[code]`` (system and code optional; ``number||code``
matches code or unit). Indexed rows keep the unit as written plus, when the unit is UCUM
and understood by ``ucum``, the value in canonical units, so ``5.4|http://unitsofmeasure.org|mg``
finds ``0.0054 g``. Number semantics (implicit range, prefixes, ``ap``) as for numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import split_escaped, unescape
from ..sqlfrag import Q, fmt, ident
from .common import ValueContext, parse_decimal, split_prefix, to_decimal
from .number import compare
from .ucum import UCUM_SYSTEM, canonical

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate"]

TABLE = "search_quantity"
COLUMNS = ("system", "code", "unit", "low", "high", "c_code", "c_low", "c_high")
MODIFIERS = frozenset({"missing"})


def _canon(system: Any, code: Any, value: Decimal | None) -> tuple[str | None, Decimal | None]:
    if system != UCUM_SYSTEM or not isinstance(code, str) or value is None:
        return None, None
    found = canonical(code)
    return (found[1], value * found[0]) if found else (None, None)


def _row(q: dict[str, Any], low: Decimal | None, high: Decimal | None) -> tuple[Any, ...]:
    system, code = q.get("system"), q.get("code") or q.get("currency")
    if "currency" in q and system is None:
        system = "urn:iso:std:iso:4217"
    c_code, c_low = _canon(system, code, low)
    _, c_high = _canon(system, code, high)
    return (system, code, q.get("unit"), low, high, c_code, c_low, c_high)


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for value, _ in nodes:
        if not isinstance(value, dict):
            continue
        if "low" in value or "high" in value:  # Range
            low_q, high_q = value.get("low") or {}, value.get("high") or {}
            unit_q = low_q if low_q.get("value") is not None else high_q
            rows.append(_row(unit_q, to_decimal(low_q.get("value")), to_decimal(high_q.get("value"))))
            continue
        number = to_decimal(value.get("value"))
        if number is not None:
            rows.append(_row(value, number, number))
    return list(dict.fromkeys(rows))


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name = vc.name
    if modifier is not None:
        raise BadRequest(f"Modifier :{modifier} is not supported on quantity parameter {name}")
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) not in (1, 3):
        raise BadRequest(f"{name}={raw!r}: expected [prefix][number]|[system]|[code]")
    prefix, text = split_prefix(parts[0])
    number = parse_decimal(text, name)
    system, code = (parts[1] or None, parts[2] or None) if len(parts) == 3 else (None, None)
    if code and system == UCUM_SYSTEM and (found := canonical(code)):
        c_code = fmt("{} = {}", ident(alias, "c_code"), found[1])
        scaled = number * found[0]
        return fmt("({} AND {})", c_code, compare(prefix, scaled, alias, "c_low", "c_high"))
    unit = Q(fmt("true").sql)
    if code and system:
        unit = fmt("({} = {} AND {} = {})", ident(alias, "code"), code, ident(alias, "system"), system)
    elif code:
        unit = fmt("({} = {} OR {} = {})", ident(alias, "code"), code, ident(alias, "unit"), code)
    elif system:
        unit = fmt("{} = {}", ident(alias, "system"), system)
    return fmt("({} AND {})", unit, compare(prefix, number, alias))
