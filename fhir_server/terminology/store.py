"""Code systems held in PostgreSQL (migration 085): the ``SystemView`` of one loaded system,
whose hierarchy and filters are SQL (recursive CTEs over ``parents``, a trigram index for the
text filter), so a system of a million codes is never read into memory
(http://hl7.org/fhir/R4/codesystem.html#hierarchy, valueset-filter-operator.html).

The engine is synchronous (validation calls it inline); an operation that needs a loaded
system runs the engine in a worker thread and this view sends each query back to the event
loop's connection (``asyncio.run_coroutine_threadsafe``), one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from psycopg import AsyncConnection, sql

from .codesystem import INACTIVE_STATUSES
from .errors import CannotExpand
from .model import Concept

__all__ = ["DbCodeSystem", "refresh_loaded", "is_loaded", "BELOW_SQL", "ABOVE_SQL"]

T = TypeVar("T")
_LOADED: set[str] = set()  # urls of loaded systems, refreshed at start-up and by each operation
COLUMNS = "code, display, inactive, properties, designations"
# Descendants / ancestors (not self) of a code; the three fields take (system, code, system).
# UNION (not UNION ALL) drops codes already seen, so a cyclic hierarchy still terminates.
BELOW_SQL = ("WITH RECURSIVE below(code) AS (SELECT c.code FROM terminology_concept c"
             " WHERE c.system = {} AND c.parents @> ARRAY[{}::text]"
             " UNION SELECT c.code FROM terminology_concept c JOIN below b ON c.parents @> ARRAY[b.code]"
             " WHERE c.system = {}) SELECT code FROM below")
ABOVE_SQL = ("WITH RECURSIVE above(code) AS (SELECT unnest(c.parents) FROM terminology_concept c"
             " WHERE c.system = {} AND c.code = {}"
             " UNION SELECT unnest(c.parents) FROM terminology_concept c JOIN above a ON c.code = a.code"
             " WHERE c.system = {}) SELECT code FROM above")


def is_loaded(url: str) -> bool:
    return url in _LOADED


async def refresh_loaded(conn: AsyncConnection[Any]) -> dict[str, dict[str, Any]]:
    """The loaded systems' headers by url (and the process-wide set search consults)."""
    cur = await conn.execute("SELECT url, header FROM terminology_system")
    headers = {url: header for url, header in await cur.fetchall()}
    _LOADED.clear()
    _LOADED.update(headers)
    return headers


def _concept(system: str, version: str | None, row: tuple[Any, ...]) -> Concept:
    code, display, inactive, properties, designations = row
    abstract = any(p.get("code") == "notSelectable" and p.get("valueBoolean") is True for p in properties)
    return Concept(system, code, display, version, inactive, abstract, tuple(designations), tuple(properties))


def _related(template: str, system: str, code: str) -> tuple[sql.Composed, list[Any]]:
    return sql.SQL(template).format(sql.Placeholder(), sql.Placeholder(), sql.Placeholder()), [system, code, system]


class DbCodeSystem:
    def __init__(self, header: dict[str, Any], conn: AsyncConnection[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.url: str = header["url"]
        self.version: str | None = header.get("version")
        self.complete = True
        self.header = header
        self._conn = conn
        self._loop = loop

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _rows(self, query: sql.SQL | sql.Composed, params: list[Any]) -> list[tuple[Any, ...]]:
        cur = await self._conn.execute(query, params)
        return await cur.fetchall()

    def _select(self, where: list[sql.Composable], params: list[Any], limit: int | None = None) -> list[Concept]:
        query = sql.SQL("SELECT " + COLUMNS + " FROM terminology_concept WHERE system = %s AND {} ORDER BY code"
                        ).format(sql.SQL(" AND ").join(where or [sql.SQL("true")]))
        if limit is not None:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(limit + 1))
        return [_concept(self.url, self.version, r) for r in self._run(self._rows(query, [self.url, *params]))]

    def concept(self, code: str) -> Concept | None:
        found = self._select([sql.SQL("code = %s")], [code])
        return found[0] if found else None

    def concepts(self, text: str | None, limit: int) -> list[Concept]:
        where, params = _text_where(text)
        return self._select(where, params, limit)

    def filtered(self, filters: list[dict[str, Any]], text: str | None, limit: int) -> list[Concept]:
        where, params = _text_where(text)
        for item in filters:
            clause, values = self._filter_where(item)
            where.append(clause)
            params.extend(values)
        return self._select(where, params, limit)

    def _filter_where(self, item: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
        prop, op, value = item.get("property"), item.get("op"), item.get("value")
        if not isinstance(prop, str) or not isinstance(op, str) or not isinstance(value, str):
            raise CannotExpand(f"A compose filter on {self.url} lacks property, op or value")
        if prop in ("concept", "code") and op in ("is-a", "descendent-of", "is-not-a", "generalizes"):
            related, params = _related(ABOVE_SQL if op == "generalizes" else BELOW_SQL, self.url, value)
            self_too = sql.SQL("code = %s OR ") if op != "descendent-of" else sql.SQL("")
            clause = sql.SQL("({}code IN ({}))").format(self_too, related)
            params = [value, *params] if op != "descendent-of" else params
            return (sql.SQL("NOT {}").format(clause), params) if op == "is-not-a" else (clause, params)
        column = {"concept": "code", "code": "code", "display": "display"}.get(prop)
        target = sql.SQL(column) if column else sql.SQL(
            "ANY(SELECT kv.value FROM jsonb_array_elements(properties) e, jsonb_each_text(e) kv"
            " WHERE e->>'code' = %s AND kv.key LIKE 'value%%')")
        first = [] if column else [prop]  # the property name's placeholder comes first in the text
        if op == "=":
            return (sql.SQL("%s = {}").format(target), [value, *first]) if not column else (
                sql.SQL("{} = %s").format(target), [value])
        if op in ("in", "not-in"):
            values = [v.strip() for v in value.split(",")]
            test = sql.SQL("EXISTS (SELECT 1 FROM unnest(%s::text[]) v WHERE v = {})").format(target)
            return (test if op == "in" else sql.SQL("NOT {}").format(test)), [values, *first]
        if op == "regex" and column:
            return sql.SQL("{} ~ %s").format(target), [f"^(?:{value})$"]
        raise CannotExpand(f"The filter '{prop} {op} {value}' is not supported on {self.url}")

    def parents(self, code: str) -> list[str]:
        rows = self._run(self._rows(sql.SQL("SELECT parents FROM terminology_concept WHERE system = %s"
                                            " AND code = %s"), [self.url, code]))
        return list(rows[0][0]) if rows else []

    def children(self, code: str) -> list[str]:
        rows = self._run(self._rows(sql.SQL("SELECT code FROM terminology_concept WHERE system = %s"
                                            " AND parents @> ARRAY[%s::text] ORDER BY code"), [self.url, code]))
        return [r[0] for r in rows]

    def subsumes(self, ancestor: str, code: str) -> bool:
        if ancestor == code:
            return True
        above, params = _related(ABOVE_SQL, self.url, code)
        query = sql.SQL("SELECT EXISTS (SELECT 1 FROM ({}) a WHERE a.code = %s)").format(above)
        return bool(self._run(self._rows(query, [*params, ancestor]))[0][0])


def _text_where(text: str | None) -> tuple[list[sql.Composable], list[Any]]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    for word in (text or "").lower().split():
        where.append(sql.SQL("(lower(display) LIKE %s OR lower(code) LIKE %s)"))
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [pattern, pattern]
    return where, params


def inactive_of(properties: list[dict[str, Any]]) -> bool:
    return any((p.get("code") == "inactive" and p.get("valueBoolean") is True)
               or (p.get("code") == "status" and p.get("valueCode") in INACTIVE_STATUSES) for p in properties)
