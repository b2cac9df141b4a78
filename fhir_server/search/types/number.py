"""number search parameters: http://hl7.org/fhir/R4/search.html#number and #prefix.

Indexed values are [low, high] (a point has low = high; a Range keeps both ends). A search
value stands for the interval its significant figures imply (``100`` is [99.5, 100.5),
``1e2`` likewise, ``100.00`` is [99.995, 100.005)); ``eq`` requires the value inside that
interval, the other prefixes compare with the exact value, and ``ap`` allows 10%.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import unescape
from ..sqlfrag import Q, fmt, ident
from .common import ValueContext, parse_decimal, split_prefix, to_decimal

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate", "implicit_range", "compare"]

TABLE = "search_number"
COLUMNS = ("low", "high")
MODIFIERS = frozenset({"missing"})


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for value, _ in nodes:
        if isinstance(value, dict):  # Range
            low = to_decimal((value.get("low") or {}).get("value"))
            high = to_decimal((value.get("high") or {}).get("value"))
            if low is not None or high is not None:
                rows.append((low, high))
            continue
        number = to_decimal(value)
        if number is not None:
            rows.append((number, number))
    return list(dict.fromkeys(rows))


def implicit_range(value: Decimal) -> tuple[Decimal, Decimal]:
    """Half a unit of the last significant digit either side (search.html#number)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return value - half, value + half


def compare(prefix: str, value: Decimal, alias: str, low_col: str = "low", high_col: str = "high") -> Q:
    low, high = ident(alias, low_col), ident(alias, high_col)
    qlow, qhigh = implicit_range(value)
    if prefix == "eq":
        return fmt("({} >= {} AND {} < {})", low, qlow, high, qhigh)
    if prefix == "ne":
        return fmt("NOT ({} >= {} AND {} < {})", low, qlow, high, qhigh)
    if prefix in ("gt", "sa"):
        return fmt("{} > {}", high if prefix == "gt" else low, value)
    if prefix in ("lt", "eb"):
        return fmt("{} < {}", low if prefix == "lt" else high, value)
    if prefix == "ge":
        return fmt("{} >= {}", high, value)
    if prefix == "le":
        return fmt("{} <= {}", low, value)
    if prefix == "ap":
        margin = abs(value) / 10
        return fmt("({} <= {} AND {} >= {})", low, value + margin, high, value - margin)
    raise BadRequest(f"Prefix {prefix!r} is not valid")


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name = vc.name
    if modifier is not None:
        raise BadRequest(f"Modifier :{modifier} is not supported on number parameter {name}")
    prefix, text = split_prefix(unescape(raw))
    return compare(prefix, parse_decimal(text, name), alias)
