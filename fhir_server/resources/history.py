"""The history interaction at instance, type and system level (http://hl7.org/fhir/R4/http.html#history).

Newest first, ordered by the global write sequence (txid), paged by keyset on txid so
pages stay stable while new versions arrive. ``_since``: versions written at or after
the instant. ``_at``: versions that were current at some moment in the period the date
value covers (its precision), i.e. written before the period ends and not superseded
before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from psycopg import AsyncConnection, sql

from ..fhir.datetimes import format_instant, parse_fhir_datetime_range, parse_instant
from ..fhir.numbers import parse_count, parse_cursor_number
from ..search.sqlfrag import Q

__all__ = ["HistoryQuery", "parse_history_query", "fetch_history", "history_bundle"]


@dataclass(frozen=True)
class HistoryQuery:
    resource_type: str | None
    resource_id: str | None
    since: datetime | None
    at: tuple[datetime, datetime] | None
    count: int
    cursor: int | None  # txid: entries strictly older than this one
    raw: dict[str, str]  # the accepted parameters, for the paging links


def parse_history_query(
    params: list[tuple[str, str]], rtype: str | None, rid: str | None, default_count: int, max_count: int
) -> HistoryQuery:
    values = dict(params)
    since = parse_instant(values["_since"], "_since") if "_since" in values else None
    at = parse_fhir_datetime_range(values["_at"], "_at") if "_at" in values else None
    count = default_count
    if "_count" in values:
        count = parse_count(values["_count"], max_count)
    cursor = parse_cursor_number(values["_cursor"]) if "_cursor" in values else None
    raw: dict[str, str] = {k: values[k] for k in ("_since", "_at") if k in values}
    raw["_count"] = str(count)
    return HistoryQuery(rtype, rid, since, at, count, cursor, raw)


def _filters(query: HistoryQuery, versions_of: Q | None = None) -> tuple[list[sql.Composable], list[Any]]:
    where: list[sql.Composable] = []
    args: list[Any] = []
    if versions_of is not None:
        where.append(versions_of.sql)
        args.extend(versions_of.params)
    if query.resource_type is not None:
        where.append(sql.SQL("h.resource_type = %s"))
        args.append(query.resource_type)
    if query.resource_id is not None:
        where.append(sql.SQL("h.id = %s"))
        args.append(query.resource_id)
    if query.since is not None:
        where.append(sql.SQL("h.last_updated >= %s"))
        args.append(query.since)
    if query.at is not None:
        start, end = query.at
        where.append(
            sql.SQL(
                "h.last_updated < %s AND NOT EXISTS (SELECT 1 FROM resource_history n"
                " WHERE n.resource_type = h.resource_type AND n.id = h.id"
                " AND n.version_id = h.version_id + 1 AND n.last_updated <= %s)"
            )
        )
        args.extend([end, start])
    if query.cursor is not None:
        where.append(sql.SQL("h.txid < %s"))
        args.append(query.cursor)
    return where, args


async def fetch_history(
    conn: AsyncConnection[Any], query: HistoryQuery, rows_of: Q | None = None, versions_of: Q | None = None
) -> tuple[list[tuple[Any, ...]], int | None]:
    """Rows (type, id, version, last_updated, method, deleted, content text, txid) of one page,
    plus the total for instance history (cheap there, costly at type and system level).

    ``rows_of``: the caller's access predicate for the type (on alias ``r``); history then
    covers only resources whose current version the caller may see. ``versions_of``: the
    caller's predicate on each version (alias ``h``), judged by that version's own content;
    it also narrows the total, so hidden versions are not even counted."""
    where, args = _filters(query, versions_of)
    if rows_of is not None:
        where.append(sql.SQL("h.id IN (SELECT r.id FROM resource r WHERE r.resource_type = %s AND ")
                     + rows_of.sql + sql.SQL(")"))
        args.extend([query.resource_type, *rows_of.params])
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    statement = sql.SQL(
        "SELECT h.resource_type, h.id, h.version_id, h.last_updated, h.method, h.deleted,"
        " coalesce(h.body, h.content::text), h.txid FROM resource_history h{} ORDER BY h.txid DESC LIMIT %s"
    ).format(clause)
    rows = await (await conn.execute(statement, [*args, query.count + 1])).fetchall()
    total = None
    if query.resource_id is not None and query.cursor is None:
        count_where, count_args = _filters(query, versions_of)
        count_sql = sql.SQL("SELECT count(*) FROM resource_history h WHERE ") + sql.SQL(" AND ").join(
            count_where
        )
        total = (await (await conn.execute(count_sql, count_args)).fetchone() or (0,))[0]
    return rows, total


def _status(method: str, version_id: int) -> str:
    if method == "DELETE":
        return "204 No Content"
    return "201 Created" if version_id == 1 else "200 OK"


def _entry(base: str, row: tuple[Any, ...]) -> bytes:
    rtype, rid, vid, last_updated, method, deleted, content, _ = row
    request_url = rtype if method == "POST" else f"{rtype}/{rid}"
    response = {
        "status": _status(method, vid),
        "etag": f'W/"{vid}"',
        "lastModified": format_instant(last_updated),
    }
    parts = [b'{"fullUrl":', orjson.dumps(f"{base}/{rtype}/{rid}")]
    if not deleted and content is not None:
        parts += [b',"resource":', content.encode()]
    parts += [
        b',"request":',
        orjson.dumps({"method": method, "url": request_url}),
        b',"response":',
        orjson.dumps(response),
        b"}",
    ]
    return b"".join(parts)


def history_bundle(
    base: str, path: str, query: HistoryQuery, rows: list[tuple[Any, ...]], total: int | None
) -> bytes:
    page, has_more = rows[: query.count], len(rows) > query.count
    self_params = dict(query.raw)
    if query.cursor is not None:
        self_params["_cursor"] = str(query.cursor)
    links = [
        {"relation": "self", "url": f"{base}/{path}?{urlencode(self_params)}"},
        {"relation": "first", "url": f"{base}/{path}?{urlencode(query.raw)}"},
    ]
    if has_more and page:
        links.append(
            {
                "relation": "next",
                "url": f"{base}/{path}?{urlencode({**query.raw, '_cursor': str(page[-1][7])})}",
            }
        )
    head: dict[str, Any] = {"resourceType": "Bundle", "type": "history"}
    if total is not None:
        head["total"] = total
    head["link"] = links
    entries = b",".join(_entry(base, row) for row in page)
    return orjson.dumps(head)[:-1] + b',"entry":[' + entries + b"]}"
