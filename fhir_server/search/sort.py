"""``_sort`` keys and keyset paging conditions: http://hl7.org/fhir/R4/search.html#sort.

A sort key per parameter is one value per resource: ascending uses the lowest indexed
value, descending the highest (a Period sorts by its start ascending and its end
descending). Resources without a value sort last in either direction; ``r.id`` is the final,
stable tie-break. Paging is keyset (a cursor carries the last row's keys), never OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..errors import BadRequest
from .criteria import resolve_param
from .parse import SortKey
from .sqlfrag import Q, fmt, ident, join

__all__ = ["SortColumn", "sort_columns", "keyset_condition", "order_by", "decode_key"]

# param type -> (table, ascending expression, descending expression, SQL type of the key)
_KEYS: dict[str, tuple[str, str, str, str]] = {
    "string": ("search_string", "min(k.value)", "max(k.value)", "text"),
    "token": ("search_token", "min(k.code)", "max(k.code)", "text"),
    # Open ends are stored as -infinity/infinity, which no Python datetime holds (the key is read back for
    # paging): they sort as the first and last instants FHIR can write, so an ongoing Period still sorts last.
    "date": ("search_date", "min(greatest(k.low, '0001-01-01T00:00:00Z'))",
             "max(least(k.high, '9999-12-31T23:59:59.999Z'))", "timestamptz"),
    "number": ("search_number", "min(k.low)", "max(k.high)", "numeric"),
    "quantity": ("search_quantity", "min(k.low)", "max(k.high)", "numeric"),
    "uri": ("search_uri", "min(k.uri)", "max(k.uri)", "text"),
    "reference": ("search_reference", "min(coalesce(k.target_type || '/' || k.target_id, k.url))",
                  "max(coalesce(k.target_type || '/' || k.target_id, k.url))", "text"),
}


@dataclass(frozen=True)
class SortColumn:
    expr: Q
    descending: bool
    sql_type: str


def _column(rtype: str, key: SortKey, alias: str) -> SortColumn:
    if key.code == "_id":
        return SortColumn(fmt("{}", ident(alias, "id")), key.descending, "text")
    if key.code == "_lastUpdated":
        return SortColumn(fmt("{}", ident(alias, "last_updated")), key.descending, "timestamptz")
    param = resolve_param(rtype, key.code, f"_sort={key.code}")
    spec = _KEYS.get(param.type)
    if spec is None:
        raise BadRequest(f"_sort by {key.code} ({param.type}) is not supported")
    table, asc, desc, sql_type = spec
    expr = fmt("(SELECT " + (desc if key.descending else asc) + " FROM {} k WHERE k.resource_type = {}"
               " AND k.id = {} AND k.param = {})", ident(table), ident(alias, "resource_type"), ident(alias, "id"),
               key.code)
    return SortColumn(expr, key.descending, sql_type)


def sort_columns(rtype: str, keys: list[SortKey], alias: str = "r") -> list[SortColumn]:
    return [_column(rtype, key, alias) for key in keys]


def order_by(columns: list[SortColumn], names: list[str], reverse: bool) -> Q:
    parts = []
    for column, name in zip(columns, names, strict=True):
        descending = column.descending != reverse
        nulls = "FIRST" if reverse else "LAST"
        parts.append(fmt(f"{{}} {'DESC' if descending else 'ASC'} NULLS {nulls}", ident(name)))
    parts.append(fmt(f"{{}} {'DESC' if reverse else 'ASC'}", ident("id")))
    return join(", ", parts)


def _after(column: SortColumn, name: str, value: Any, reverse: bool) -> Q:
    nulls_last = not reverse
    key = ident(name)
    if value is None:
        return fmt("false") if nulls_last else fmt("{} IS NOT NULL", key)
    op = ">" if column.descending == reverse else "<"
    cmp = fmt(f"{{}} {op} {{}}::{column.sql_type}", key, value)
    return fmt("({} OR {} IS NULL)", cmp, key) if nulls_last else cmp


def keyset_condition(columns: list[SortColumn], names: list[str], values: list[Any], last_id: str,
                     reverse: bool) -> Q:
    """Rows strictly after (or, reversed, before) the cursor row in the sort order."""
    branches = []
    for i, column in enumerate(columns):
        equal = [fmt(f"{{}} IS NOT DISTINCT FROM {{}}::{c.sql_type}", ident(n), v)
                 for c, n, v in zip(columns[:i], names[:i], values[:i], strict=True)]
        branches.append(join(" AND ", [*equal, _after(column, names[i], values[i], reverse)]))
    equal_all = [fmt(f"{{}} IS NOT DISTINCT FROM {{}}::{c.sql_type}", ident(n), v)
                 for c, n, v in zip(columns, names, values, strict=True)]
    branches.append(join(" AND ", [*equal_all, fmt(f"{{}} {'<' if reverse else '>'} {{}}", ident("id"), last_id)]))
    return fmt("({})", join(" OR ", [fmt("({})", b) for b in branches]))


def decode_key(value: Any, sql_type: str) -> Any:
    """A key value from a cursor, checked against its column type (a bad cursor is a 400)."""
    if value is None:
        return None
    try:
        if sql_type == "timestamptz":
            return datetime.fromisoformat(value)
        if sql_type == "numeric":
            return Decimal(value)
        return str(value)
    except (ValueError, ArithmeticError, TypeError) as exc:
        raise BadRequest("The paging cursor is not valid") from exc
