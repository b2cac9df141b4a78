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

from ..jsonio import dumps
from .extract import text_leaves
from .registry import FULLTEXT, SearchParam, registry
from .types import BY_TYPE, COLUMN_TYPES, TABLES, token

__all__ = ["index_resource", "index_fresh_resources", "fresh_ctes", "fresh_values", "remove_index", "collect_rows",
           "load_custom_parameters"]

Rows = dict[str, list[tuple[Any, ...]]]
_TAG = re.compile(r"<[^>]+>")
# An absent end of a range is open: what is stored for it, per column, in these tables.
_OPEN = {"low": "-infinity", "high": "infinity"}
_RANGE_TABLES = ("search_date", "search_number", "search_quantity")
_NAMES = {t.TABLE: ("param", "grp", *t.COLUMNS) for t in TABLES}
MAX_CONTENT = 200_000


# Rows of one composite component at one focus, shared by the composites that repeat it
# (Observation's code-value-quantity, code-value-concept, ... all index the same "code").
ComponentCache = dict[tuple[str, str, int], list[tuple[Any, ...]]]


def _param_rows(param: SearchParam, resource: dict[str, Any], out: Rows, cache: ComponentCache) -> None:
    assert param.extract is not None
    nodes = param.extract(resource, resource)
    if not nodes:
        return
    if param.type == "composite":
        for grp, node in enumerate(nodes):
            if isinstance(node[0], dict):
                _composite_rows(param, grp, node[0], resource, out, cache)
        return
    kind = BY_TYPE.get(param.type)
    if kind is not None:
        out[kind.TABLE].extend((param.code, None, *row) for row in kind.index_rows(nodes, resource))


def _composite_rows(param: SearchParam, grp: int, focus: dict[str, Any], resource: dict[str, Any],
                    out: Rows, cache: ComponentCache) -> None:
    """Rows for one composite element, only when every component has a value (else it cannot match)."""
    pending = []
    for j, comp in enumerate(param.components):
        kind = BY_TYPE.get(comp.type)
        key = (comp.type, comp.expression, id(focus))  # focus objects live as long as the resource
        rows = cache.get(key)
        if rows is None:
            rows = cache[key] = kind.index_rows(comp.extract(focus, resource), resource) if kind is not None else []
        if kind is token:  # :text is not defined on composite components
            rows = [r for r in rows if r[1] is not None or r[0] is not None]
        if not rows:
            return
        pending.append((kind, j, rows))
    for kind, j, rows in pending:
        assert kind is not None
        out[kind.TABLE].extend((f"{param.code}${j}", grp, *row) for row in rows)


def collect_rows(resource_type: str, resource: dict[str, Any]) -> Rows:
    """Index rows per table: (param, grp, *type columns)."""
    out: Rows = {t.TABLE: [] for t in TABLES}
    cache: ComponentCache = {}
    keys = resource.keys()
    for param in registry().indexed_for(resource_type):
        if param.roots is None or not keys.isdisjoint(param.roots):
            _param_rows(param, resource, out, cache)
    return out


def _texts(resource: dict[str, Any]) -> tuple[str, str]:
    div = (resource.get("text") or {}).get("div") if isinstance(resource.get("text"), dict) else None
    narrative = _TAG.sub(" ", div) if isinstance(div, str) else ""
    content = " ".join(text_leaves(resource, []))
    return narrative[:MAX_CONTENT], (content + " " + narrative)[:MAX_CONTENT]


def _insert_cte(i: int, table: str, columns: tuple[str, ...], *, delete: bool) -> sql.Composable:
    """The INSERT (after a DELETE of the old rows when ``delete``) of the ``i``-th table's index rows.

    Each table's rows are a JSON array parameter of their own (PostgreSQL parses a ``json``
    value at every use: one shared document was parsed again by every table's CTE): the
    resource's type and id are ``$1``/``$2``, the table's rows ``$(3+i)``.
    """
    names = ("param", "grp", *columns)
    record = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
        for c, t in zip(names, ("text", "integer", *COLUMN_TYPES[table]), strict=True))
    select = sql.SQL(", ").join(
        sql.SQL("coalesce(u.{}, {})").format(sql.Identifier(c), sql.Literal(_OPEN[c]))
        if c in _OPEN and table in _RANGE_TABLES else sql.SQL("u.{}").format(sql.Identifier(c)) for c in names)
    prefix = "d{i} AS (DELETE FROM {t} WHERE resource_type = $1 AND id = $2), " if delete else ""
    return sql.SQL(
        prefix + "i{i} AS (INSERT INTO {t} (resource_type, id, {names}) SELECT $1, $2, {select}"
        " FROM json_to_recordset(${n}::json) AS u({record}))"
    ).format(i=sql.SQL(str(i)), t=sql.Identifier(table), names=sql.SQL(", ").join(map(sql.Identifier, names)),
             select=select, n=sql.SQL(str(3 + i)), record=record)


def _table_ctes(*, delete: bool) -> sql.Composable:
    return sql.SQL(", ").join(_insert_cte(i, t.TABLE, t.COLUMNS, delete=delete) for i, t in enumerate(TABLES))


# One resource's text row: its type and id, then narrative and content after the tables' rows.
_TEXT_ROW = ("INSERT INTO search_text (resource_type, id, narrative, content) VALUES ($1, $2,"
             f" to_tsvector('simple', ${3 + len(TABLES)}), to_tsvector('simple', ${4 + len(TABLES)}))")


@cache
def _statement(fresh: bool) -> str:
    """One statement replacing every index row of a resource, in PostgreSQL's own ``$n`` form
    (``_values``).

    The rows travel as one JSON array per table, unpacked by ``json_to_recordset``: serializing
    them is a C call each, where binding a few dozen typed arrays cost more than the rest of the
    write. A ``fresh`` resource (a new id, or one whose last version was a deletion) has no index
    rows to delete: its statement skips the per-table DELETEs.
    """
    return sql.SQL(
        "WITH {ctes} " + _TEXT_ROW
        + " ON CONFLICT (resource_type, id) DO UPDATE SET narrative = EXCLUDED.narrative, content = EXCLUDED.content"
    ).format(ctes=_table_ctes(delete=not fresh)).as_string()


@cache
def fresh_ctes() -> str:
    """The index rows of one new resource as CTEs of a larger statement (the create's own), its
    values (``fresh_values``) first: the type and id in ``$1``/``$2``, then rows and texts."""
    return _table_ctes(delete=False).as_string() + f", itext AS ({_TEXT_ROW})"


async def fresh_values(conn: AsyncConnection[Any], resource_type: str, resource_id: str,
                       resource: dict[str, Any]) -> list[str]:
    """The values of ``fresh_ctes``, in order."""
    await _register_parameters(conn, [(resource_type, resource)])
    return _values(resource_type, resource_id, resource)


def _values(resource_type: str, resource_id: str, resource: dict[str, Any]) -> list[str]:
    narrative, content = _texts(resource)
    rows = collect_rows(resource_type, resource)
    arrays = [dumps([dict(zip(_NAMES[t.TABLE], row, strict=True)) for row in rows[t.TABLE]]).decode()
              for t in TABLES]
    return [resource_type, resource_id, *arrays, narrative, content]


@cache
def _copy_statement(table: str, columns: tuple[str, ...]) -> str:
    return sql.SQL("COPY {} (resource_type, id, param, grp, {}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))).as_string()


_TEXTS_STATEMENT = ("INSERT INTO search_text (resource_type, id, narrative, content)"
                    " SELECT u.t, u.i, to_tsvector('simple', u.n), to_tsvector('simple', u.c)"
                    " FROM json_to_recordset(%s::json) AS u(t text, i text, n text, c text)")


# Where each range table's open ends sit in its COPY rows (type, id, param, grp, *columns).
_OPEN_ENDS = {t.TABLE: (4 + t.COLUMNS.index("low"), 4 + t.COLUMNS.index("high")) for t in TABLES
              if t.TABLE in _RANGE_TABLES}


def _copy_rows(resources: list[tuple[str, str, dict[str, Any]]]) -> tuple[Rows, list[dict[str, str]]]:
    """The COPY rows (type, id, param, grp, *columns) of many resources per table, and their texts."""
    tables: Rows = {t.TABLE: [] for t in TABLES}
    texts = []
    for rtype, rid, resource in resources:
        for table, rows in collect_rows(rtype, resource).items():
            if rows:
                tables[table] += [(rtype, rid, *row) for row in rows]
        narrative, content = _texts(resource)
        texts.append({"t": rtype, "i": rid, "n": narrative, "c": content})
    for table, (low, high) in _OPEN_ENDS.items():
        tables[table] = [_closed(row, low, high) for row in tables[table]]
    return tables, texts


def _closed(row: tuple[Any, ...], low: int, high: int) -> tuple[Any, ...]:
    if row[low] is not None and row[high] is not None:
        return row
    out = list(row)
    out[low] = _OPEN["low"] if out[low] is None else out[low]
    out[high] = _OPEN["high"] if out[high] is None else out[high]
    return tuple(out)


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


async def _register_parameters(conn: AsyncConnection[Any], resources: list[tuple[str, dict[str, Any]]]) -> None:
    """Custom SearchParameters: the stored ones once per process, and any being written now."""
    await load_custom_parameters(conn)
    for rtype, resource in resources:
        if rtype == "SearchParameter":
            registry().add_custom(resource)


async def index_resource(conn: AsyncConnection[Any], resource_type: str, resource_id: str,
                         resource: dict[str, Any], fresh: bool = False) -> None:
    """Replace all index rows of one resource (inside the caller's transaction); ``fresh``: it has none yet."""
    await _register_parameters(conn, [(resource_type, resource)])
    async with AsyncRawCursor(conn) as cur:
        await cur.execute(_statement(fresh), _values(resource_type, resource_id, resource))


async def index_fresh_resources(conn: AsyncConnection[Any], resources: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Index rows of many resources that have none yet (new ids): one COPY per table that has
    rows (no JSON to build in Python nor to parse in PostgreSQL, and the rows are inserted in
    batches) and one statement for the text rows (their vectors are computed by PostgreSQL)."""
    await _register_parameters(conn, [(rtype, resource) for rtype, _, resource in resources])
    tables, texts = _copy_rows(resources)
    async with conn.cursor() as cur:
        for t in TABLES:
            if tables[t.TABLE]:
                async with cur.copy(_copy_statement(t.TABLE, t.COLUMNS)) as copy:
                    for row in tables[t.TABLE]:
                        await copy.write_row(row)
        await cur.execute(_TEXTS_STATEMENT, (dumps(texts).decode(),))


@cache
def _remove_statement() -> sql.Composed:
    deletes = [sql.SQL("d{} AS (DELETE FROM {} WHERE resource_type = %(rtype)s AND id = %(rid)s)").format(
        sql.SQL(str(i)), sql.Identifier(t.TABLE)) for i, t in enumerate(TABLES)]
    return sql.SQL("WITH {} DELETE FROM search_text WHERE resource_type = %(rtype)s AND id = %(rid)s").format(
        sql.SQL(", ").join(deletes))


async def remove_index(conn: AsyncConnection[Any], resource_type: str, resource_id: str) -> None:
    await conn.execute(_remove_statement(), {"rtype": resource_type, "rid": resource_id})


assert FULLTEXT  # _text/_content rows are the search_text row written above
