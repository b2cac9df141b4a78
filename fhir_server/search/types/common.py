"""Helpers shared by the search-parameter types (http://hl7.org/fhir/R4/search.html#ptypes)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from psycopg import sql

from ...errors import BadRequest

__all__ = ["normalize", "col", "to_decimal", "parse_decimal", "MAX_INDEXED_CHARS", "PREFIXES", "split_prefix",
           "like_escape", "ValueContext"]

MAX_INDEXED_CHARS = 500  # keeps every index tuple far below PostgreSQL's btree row limit
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def normalize(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded."""
    if text.isascii():  # NFKD leaves ASCII as it is and casefold is lower(): the common case, cheaply
        return " ".join(text.lower().split())[:MAX_INDEXED_CHARS]
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())[:MAX_INDEXED_CHARS]


def col(alias: str, name: str) -> sql.Composable:
    return sql.Identifier(alias, name)


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return None


def parse_decimal(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise BadRequest(f"{name}={raw!r} is not a number") from exc
    if not value.is_finite():
        raise BadRequest(f"{name}={raw!r} is not a finite number")
    return value


def split_prefix(raw: str) -> tuple[str, str]:
    """``ge2020`` -> ("ge", "2020"); no prefix means eq."""
    if len(raw) > 2 and raw[:2] in PREFIXES and not raw[2:3].isalpha():
        return raw[:2], raw[2:]
    return "eq", raw


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class ValueContext:
    """What a type's ``predicate`` may need besides the value: for messages, targets, links, ``ap``."""

    name: str
    targets: tuple[str, ...] = ()
    base: str | None = None
    now: datetime | None = None
