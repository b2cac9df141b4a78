"""Search-parameter types: each module owns both sides of one type (design habit 3).

``index_rows(nodes, root)`` turns extracted FHIRPath values into index-table rows at write
time; ``predicate(...)`` turns one search value into a condition over those rows. This
mapping is the one place that dispatches on SearchParameter.type.
"""

from __future__ import annotations

from types import ModuleType

from . import date, number, quantity, reference, string, token, uri

__all__ = ["BY_TYPE", "TABLES", "COLUMN_TYPES"]

BY_TYPE: dict[str, ModuleType] = {
    "string": string, "token": token, "reference": reference, "date": date,
    "number": number, "quantity": quantity, "uri": uri,
}
TABLES: tuple[ModuleType, ...] = (string, token, reference, date, number, quantity, uri)
# PostgreSQL array types for batched inserts (unnest), per table column.
COLUMN_TYPES: dict[str, tuple[str, ...]] = {
    string.TABLE: ("text", "text"),
    token.TABLE: ("text", "text", "text", "text", "text"),
    reference.TABLE: ("text", "text", "text", "text", "text", "text"),
    date.TABLE: ("timestamptz", "timestamptz"),
    number.TABLE: ("numeric", "numeric"),
    quantity.TABLE: ("text", "text", "text", "numeric", "numeric", "text", "numeric", "numeric"),
    uri.TABLE: ("text",),
}
