"""Write-time index extraction: http://hl7.org/fhir/R4/search.html#ptypes.

``index_resource`` replaces every index row of one resource in a single statement (one
round trip: a DELETE and a batched ``unnest`` INSERT per table as data-modifying CTEs), in
the caller's transaction. Writing a SearchParameter resource registers it for later writes.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from psycopg import AsyncConnection, AsyncRawCursor, sql

from .extract import iter_leaves
from .registry import FULLTEXT, SearchParam, registry
from .types import BY_TYPE, COLUMN_TYPES, TABLES, token

__all__ = ["index_resource", "remove_index", "collect_rows", "load_custom_parameters"]

Rows = dict[str, list[tuple[Any, ...]]]
_TAG = re.compile(r"<[^>]+>")
_OPEN = {"low": "'-infinity'", "high": "'infinity'"}
MAX_CONTENT = 200_000


def _param_rows(param: SearchParam, resource: dict[str, Any], out: Rows) -> None:
    assert param.extract is not None
    nodes = param.extract(resource, resource)
    if not nodes:
        return
    if param.type == "composite":
        for grp, node in enumerate(nodes):
            if isinstance(node[0], dict):
                _composite_rows(param, grp, node[0], resource, out)
        return
    kind = BY_TYPE.get(param.type)
    if kind is not None:
        out[kind.TABLE].extend((param.code, None, *row) for row in kind.index_rows(nodes, resource))


def _composite_rows(param: SearchParam, grp: int, focus: dict[str, Any], resource: dict[str, Any],
                    out: Rows) -> None:
    """Rows for one composite element, only when every component has a value (else it cannot match)."""
    pending = []
    for j, comp in enumerate(param.components):
        kind = BY_TYPE.get(comp.type)
        rows = kind.index_rows(comp.extract(focus, resource), resource) if kind is not None else []
        if kind is token:  # :text is not defined on composite components
            rows = [r for r in rows if r[1] is not None or r[0] is not None]
        if not rows:
            return
        pending.append((kind, j, rows))
    for kind, j, rows in pending:
        out[kind.TABLE].extend((f"{param.code}${j}", grp, *row) for row in rows)


def collect_rows(resource_type: str, resource: dict[str, Any]) -> Rows:
    """Index rows per table: (param, grp, *type columns)."""
    out: Rows = {t.TABLE: [] for t in TABLES}
    for param in registry().for_type(resource_type).values():
        if param.indexed:
            _param_rows(param, resource, out)
    return out


def _texts(resource: dict[str, Any]) -> tuple[str, str]:
    div = (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    narrative = _TAG.sub(" ", div) if isinstance(div, str) else ""
    content = " ".join(v for v in iter_leaves(resource) if isinstance(v, str) and not v.startswith("<div"))
    return narrative[:MAX_CONTENT], (content + " " + narrative)[:MAX_CONTENT]


def _insert_cte(i: int, table: str, columns: tuple[str, ...]) -> sql.Composable:
    types = COLUMN_TYPES[table]
    arrays = sql.SQL(", ").join(
        sql.SQL("{}::{}[]").format(sql.Placeholder(f"{table}_{c}"), sql.SQL(t))
        for c, t in zip(("param", "grp", *columns), ("text", "integer", *types), strict=True))
    select = sql.SQL(", ").join(
        sql.SQL("coalesce(u.{}, {})").format(sql.Identifier(c), sql.SQL(_OPEN[c]))
        if c in _OPEN and table in ("search_date", "search_number", "search_quantity") else sql.SQL("u.{}").format(
            sql.Identifier(c)) for c in ("param", "grp", *columns))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in ("param", "grp", *columns))
    return sql.SQL(
        "d{i} AS (DELETE FROM {t} WHERE resource_type = %(rtype)s AND id = %(rid)s),"
        " i{i} AS (INSERT INTO {t} (resource_type, id, {names})"
        " SELECT %(rtype)s, %(rid)s, {select} FROM unnest({arrays}) AS u({names}))"
    ).format(i=sql.SQL(str(i)), t=sql.Identifier(table), names=names, select=select, arrays=arrays)


@cache
def _statement() -> sql.Composed:
    ctes = [_insert_cte(i, t.TABLE, t.COLUMNS) for i, t in enumerate(TABLES)]
    return sql.SQL(
        "WITH {ctes} INSERT INTO search_text (resource_type, id, narrative, content)"
        " VALUES (%(rtype)s, %(rid)s, to_tsvector('simple', %(narrative)s), to_tsvector('simple', %(content)s))"
        " ON CONFLICT (resource_type, id) DO UPDATE SET narrative = EXCLUDED.narrative, content = EXCLUDED.content"
    ).format(ctes=sql.SQL(", ").join(ctes))


_NAMED = re.compile(r"%\((\w+)\)s")


@cache
def _raw_statement() -> tuple[str, tuple[str, ...]]:
    """The statement with PostgreSQL's own ``$n`` placeholders, and the parameter name of each n.

    It is far longer than psycopg's statement cache accepts, so with named placeholders it
    would be re-rendered and re-parsed on every write; a raw cursor sends it as is.
    """
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return _NAMED.sub(number, _statement().as_string()), tuple(names)


def _params(resource_type: str, resource_id: str, rows: Rows, resource: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"rtype": resource_type, "rid": resource_id}
    for table in TABLES:
        columns = ("param", "grp", *table.COLUMNS)
        table_rows = rows[table.TABLE]
        for index, column in enumerate(columns):
            params[f"{table.TABLE}_{column}"] = [row[index] for row in table_rows]
    params["narrative"], params["content"] = _texts(resource)
    return params


async def load_custom_parameters(conn: AsyncConnection[Any]) -> None:
    """Register the SearchParameter resources stored in the database (once per process)."""
    reg = registry()
    if reg.custom_loaded:
        return
    reg.custom_loaded = True
    cur = await conn.execute("SELECT content FROM resource WHERE resource_type = 'SearchParameter'"
                             " AND NOT deleted AND version_id > 0")
    for (content,) in await cur.fetchall():
        reg.add_custom(content)


async def index_resource(conn: AsyncConnection[Any], resource_type: str, resource_id: str,
                         resource: dict[str, Any]) -> None:
    """Replace all index rows of one resource (inside the caller's transaction)."""
    await load_custom_parameters(conn)
    if resource_type == "SearchParameter":
        registry().add_custom(resource)
    rows = collect_rows(resource_type, resource)
    query, names = _raw_statement()
    params = _params(resource_type, resource_id, rows, resource)
    async with AsyncRawCursor(conn) as cur:
        await cur.execute(query, [params[name] for name in names])


@cache
def _remove_statement() -> sql.Composed:
    deletes = [sql.SQL("d{} AS (DELETE FROM {} WHERE resource_type = %(rtype)s AND id = %(rid)s)").format(
        sql.SQL(str(i)), sql.Identifier(t.TABLE)) for i, t in enumerate(TABLES)]
    return sql.SQL("WITH {} DELETE FROM search_text WHERE resource_type = %(rtype)s AND id = %(rid)s").format(
        sql.SQL(", ").join(deletes))


async def remove_index(conn: AsyncConnection[Any], resource_type: str, resource_id: str) -> None:
    await conn.execute(_remove_statement(), {"rtype": resource_type, "rid": resource_id})


assert FULLTEXT  # _text/_content rows are the search_text row written above
