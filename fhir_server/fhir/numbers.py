"""Whole numbers sent by clients (``_count``, paging cursors, version ids, Content-Length).

http://hl7.org/fhir/R4/search.html#count. Only ASCII digits are digits here: ``str.isdigit``
also accepts ``²`` or ``٣``, which ``int`` then refuses (or reads as another script's number),
so a check with ``isdigit`` alone let such values through to a 500.
"""

from __future__ import annotations

import re

from ..errors import BadRequest

__all__ = ["is_ascii_digits", "parse_count", "parse_cursor_number"]

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
MAX_CURSOR_DIGITS = 18  # a cursor is a bigint (a transaction id or a row number)


def is_ascii_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


def parse_count(raw: str, max_count: int | None = None, name: str = "_count") -> int:
    """A non-negative ``_count`` (400 otherwise), capped at ``max_count`` when given."""
    if not is_ascii_digits(raw):
        raise BadRequest(f"{name} must be a non-negative integer, not {raw!r}")
    value = int(raw)
    return value if max_count is None else min(value, max_count)


def parse_cursor_number(raw: str) -> int:
    """A numeric paging cursor the server handed out (400 for anything else)."""
    if not is_ascii_digits(raw) or len(raw) > MAX_CURSOR_DIGITS:
        raise BadRequest("_cursor is not valid: use the paging links the server returned")
    return int(raw)
