"""Opaque keyset cursors for paging links: http://hl7.org/fhir/R4/http.html#paging.

A cursor is base64url JSON of the boundary row's sort keys and tie-break plus a direction;
it is never trusted: key values are re-parsed against the sort column types and bound as
parameters, so a forged cursor can at worst page differently, and a malformed one is a 400.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ..errors import BadRequest
from .query import Cursor
from .sort import SortColumn, decode_key

__all__ = ["encode_cursor", "decode_cursor"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(keys: list[Any], last: str, reverse: bool) -> str:
    payload = orjson.dumps({"k": [_plain(k) for k in keys], "t": last, "r": reverse})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(token: str, columns: list[SortColumn]) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        keys, last, reverse = data["k"], data["t"], data["r"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadRequest("The paging cursor (_cursor) is not valid") from exc
    if not isinstance(keys, list) or len(keys) != len(columns) or not isinstance(last, str):
        raise BadRequest("The paging cursor (_cursor) does not belong to this search")
    return Cursor([decode_key(k, c.sql_type) for k, c in zip(keys, columns, strict=True)], last, bool(reverse))
