"""Search entry points used by the routes and by other rooms of the server.

http://hl7.org/fhir/R4/search.html. ``search`` runs a type, compartment or system search
and returns one page; ``find_ids`` serves conditional create/update/patch/delete
(http.html#ccreate), where an unknown parameter is an error, never ignored, because an
ignored criterion would match too much.

Totals (search.html#total): ``_total=accurate`` counts, ``estimate`` asks the planner,
``none`` omits; without ``_total`` the total is given when it is known for free (the whole
result fits on the first page) and omitted otherwise, so large searches stay fast. ``_count=0``
means the count only (``_summary=count``: a total and no entries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from psycopg import AsyncConnection

from ..definitions import definitions
from ..errors import BadRequest, Forbidden, NotFound
from .compartment import compartment_predicate, compartment_types
from .criteria import Context
from .includes import check_includes, fetch_includes
from .limits import DEFAULT_LIMITS, SearchLimits, check_request, check_terms, check_types
from .paging import decode_cursor, encode_cursor
from .parse import SearchRequest, parse_request
from .query import Applied, Scope, build_scope, count_statement, estimate_statement, ids_statement, page_statement
from .sort import SortColumn, sort_columns
from .sqlfrag import Q, fmt
from .terminology import stored_value_sets

__all__ = ["find_ids", "check_type", "search", "SearchOptions", "SearchResult", "Row", "AccessRows"]


class AccessRows(Protocol):
    """What search needs of the caller's access policy (smart_auth.policy.Policy)."""

    @property
    def open(self) -> bool: ...

    def allows(self, rtype: str, interaction: str) -> bool: ...

    def predicate(self, rtype: str, interaction: str) -> Q | None: ...

    def readable(self, rtype: str, interaction: str = "r") -> Q | None: ...

Row = tuple[str, str, str]  # resource type, id, content (JSON text)


@dataclass(frozen=True)
class SearchOptions:
    base: str
    default_count: int = 20
    max_count: int = 1000
    strict: bool = False
    limits: SearchLimits = DEFAULT_LIMITS


@dataclass
class SearchResult:
    request: SearchRequest
    applied: Applied
    count: int
    matches: list[Row] = field(default_factory=list)
    included: list[Row] = field(default_factory=list)
    total: int | None = None
    next_cursor: str | None = None
    prev_cursor: str | None = None


def check_type(resource_type: str) -> None:
    if resource_type not in definitions().resource_types:
        raise NotFound(f"Unknown resource type {resource_type!r}")


async def find_ids(conn: AsyncConnection[Any], resource_type: str, params: list[tuple[str, str]],
                   limit: int, base: str | None = None, extra: Q | None = None,
                   limits: SearchLimits = DEFAULT_LIMITS) -> list[str]:
    """Ids of current resources matching every criterion (BadRequest on unknown or malformed ones)."""
    check_type(resource_type)
    request = check_request(parse_request(params), limits)
    if request.control and any(name not in ("_count",) for name, _ in request.control):
        names = ", ".join(name for name, _ in request.control)
        raise BadRequest(f"Result parameters ({names}) have no meaning in a conditional request")
    if not request.params:
        raise BadRequest("Conditional request without search criteria")
    ctx = Context(base=base, now=datetime.now(UTC), max_depth=limits.max_chain_depth)
    statement = ids_statement(resource_type, request.params, ctx, limit, extra)
    check_terms(len(statement.params), limits)
    cur = await conn.execute(statement.sql, statement.params)
    return [row[0] for row in await cur.fetchall()]


async def _present_types(conn: AsyncConnection[Any]) -> list[str]:
    """Resource types with stored rows (a skip scan: one index probe per type)."""
    cur = await conn.execute(
        "WITH RECURSIVE t(rt) AS (SELECT min(resource_type) FROM resource UNION ALL"
        " SELECT (SELECT min(resource_type) FROM resource WHERE resource_type > t.rt) FROM t WHERE t.rt IS NOT NULL)"
        " SELECT rt FROM t WHERE rt IS NOT NULL")
    return [row[0] for row in await cur.fetchall()]


async def _types(conn: AsyncConnection[Any], types: list[str] | None, request: SearchRequest,
                 compartment: tuple[str, str] | None) -> list[str]:
    if types == ["*"] and compartment is not None:
        return compartment_types(compartment[0])
    if types is None:
        types = request.types or await _present_types(conn) or ["Patient"]
    for rtype in types:
        check_type(rtype)
    return types


async def _total(conn: AsyncConnection[Any], mode: str | None, scope: Scope, known: int | None) -> int | None:
    if mode == "none":
        return None
    if known is not None:  # the first page holds every match: exact, and free
        return known
    if mode == "estimate":
        q = estimate_statement(scope)
        plan = (await (await conn.execute(q.sql, q.params)).fetchone())[0]  # type: ignore[index]
        return int(plan[0]["Plan"]["Plan Rows"])
    if mode is None:
        return None
    q = count_statement(scope)
    return int((await (await conn.execute(q.sql, q.params)).fetchone())[0])  # type: ignore[index]


async def _page(conn: AsyncConnection[Any], scope: Scope, columns: list[SortColumn], request: SearchRequest,
                count: int, result: SearchResult) -> bool:
    """Fill matches and cursors; True when the page is the whole result (its size is the total)."""
    cursor = decode_cursor(request.cursor, columns) if request.cursor else None
    statement = page_statement(scope, columns, cursor, count)
    rows = await (await conn.execute(statement.sql, statement.params)).fetchall()
    more = len(rows) > count
    rows = rows[:count]
    if cursor is not None and cursor.reverse:
        rows.reverse()
    has_next, has_prev = (True, more) if cursor is not None and cursor.reverse else (more, cursor is not None)
    result.matches = [(r[0], r[1], r[2]) for r in rows]
    if rows and has_next:
        result.next_cursor = encode_cursor(list(rows[-1][4:]), rows[-1][3], False)
    if rows and has_prev:
        result.prev_cursor = encode_cursor(list(rows[0][4:]), rows[0][3], True)
    return cursor is None and not more


def _both(first: Q | None, second: Q | None) -> Q | None:
    if first is None or second is None:
        return first if second is None else second
    return fmt("({}) AND ({})", first, second)


def _access_types(types: list[str], explicit: bool, access: AccessRows) -> list[str]:
    """Types the caller may search: an explicitly requested type without scope is a 403."""
    if explicit:
        return types
    kept = [t for t in types if access.allows(t, "s")]
    if not kept:
        raise Forbidden("The access token grants no scope to search any of these resource types")
    return kept


async def search(conn: AsyncConnection[Any], types: list[str] | None, items: list[tuple[str, str]],
                 options: SearchOptions, compartment: tuple[str, str] | None = None,
                 extra: dict[str, Q] | Q | None = None, access: AccessRows | None = None) -> SearchResult:
    """One page of a type (``[T]``), compartment (``compartment`` + ``[T]`` or ``["*"]``) or system search."""
    request = check_request(parse_request(items), options.limits)
    if request.contained != "false":
        raise BadRequest(f"_contained={request.contained} is not supported: contained resources are not searched")
    check_includes(request.includes)
    explicit = (types is not None and types != ["*"]) or (types is None and bool(request.types))
    types = await _types(conn, types, request, compartment)
    restricted = access is not None and not access.open
    if access is not None and restricted:
        types = _access_types(types, explicit, access)
    per_type: dict[str, Q | None] = {t: extra.get(t) if isinstance(extra, dict) else extra for t in types}
    if compartment is not None:
        preds = {t: compartment_predicate(compartment[0], compartment[1], t) for t in types}
        types = [t for t, p in preds.items() if p is not None]
        if not types:
            raise NotFound(f"No resource of the requested type is in the {compartment[0]} compartment")
        # Membership AND any caller predicate (security filters must never be dropped).
        per_type = {t: _both(preds[t], per_type[t]) for t in types}
    visible = access.readable if access is not None and restricted else None
    if access is not None and restricted:
        per_type = {t: _both(per_type[t], access.predicate(t, "s")) for t in types}
    readable = access is None or not restricted or access.allows("ValueSet", "r")
    ctx = Context(base=options.base, now=datetime.now(UTC), visible=visible, max_depth=options.limits.max_chain_depth,
                  value_sets=await stored_value_sets(conn, items, readable))
    applied = Applied()
    check_types(len(request.params), len(types), options.limits)
    scope = build_scope(types, request.params, ctx, applied, options.strict,
                        {t: q for t, q in per_type.items() if q is not None})
    check_terms(len(scope.where.params), options.limits)
    count = min(request.count if request.count is not None else options.default_count, options.max_count)
    result = SearchResult(request, applied, count)
    columns = sort_columns(types[0], request.sort)
    known = None
    # _count=0 asks for the count only, as _summary=count does (search.html#count; fhirpy's count()).
    count_only = request.summary == "count" or count == 0
    if not count_only and await _page(conn, scope, columns, request, count, result):
        known = len(result.matches)
    mode = "accurate" if count_only and request.total is None else request.total
    result.total = await _total(conn, mode, scope, known)
    if request.includes and result.matches:
        result.included = await fetch_includes(conn, request.includes, [(t, i) for t, i, _ in result.matches],
                                               visible, options.limits.max_include_rounds)
    return result
