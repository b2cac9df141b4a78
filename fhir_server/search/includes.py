"""``_include`` and ``_revinclude`` (with ``:iterate`` and ``*``): http://hl7.org/fhir/R4/search.html#include.

Works on the ids of one page: each round follows references out of (``_include``) or into
(``_revinclude``) the resources found so far; later rounds use only ``:iterate`` directives
and only the resources the previous round added. Rounds and included resources are capped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest
from .criteria import resolve_param
from .parse import Include
from .registry import registry
from .sqlfrag import Q, fmt, join

__all__ = ["fetch_includes", "check_includes", "visible_rows", "MAX_INCLUDED", "MAX_ROUNDS"]

MAX_INCLUDED = 1000
MAX_ROUNDS = 4
Key = tuple[str, str]


def check_includes(includes: list[Include]) -> None:
    """Unknown types or non-reference parameters are malformed requests (400)."""
    for inc in includes:
        if inc.param == "*":
            continue
        if inc.source == "*":
            raise BadRequest(f"{inc.source}:{inc.param}: a parameter needs a source type")
        param = resolve_param(inc.source, inc.param, f"_include={inc.source}:{inc.param}")
        if param.type != "reference":
            raise BadRequest(f"{inc.source}:{inc.param} is not a reference parameter, so it cannot be included")


def _reference_params(rtype: str) -> list[str]:
    return [code for code, p in registry().for_type(rtype).items() if p.type == "reference"]


def _forward(inc: Include, rtype: str, ids: list[str]) -> Q | None:
    if inc.source not in ("*", rtype):
        return None
    params = _reference_params(rtype) if inc.param == "*" else [inc.param]
    return fmt("SELECT i.target_type, i.target_id FROM search_reference i WHERE i.resource_type = {}"
               " AND i.id = ANY({}) AND i.param = ANY({}) AND i.target_id IS NOT NULL"
               " AND ({}::text IS NULL OR i.target_type = {})", rtype, ids, params, inc.target, inc.target)


def _reverse(inc: Include, rtype: str, ids: list[str]) -> Q | None:
    if inc.target not in (None, rtype):
        return None
    if inc.param == "*":
        return fmt("SELECT i.resource_type, i.id FROM search_reference i WHERE i.target_type = {}"
                   " AND i.target_id = ANY({})", rtype, ids)
    return fmt("SELECT i.resource_type, i.id FROM search_reference i WHERE i.target_type = {}"
               " AND i.target_id = ANY({}) AND i.resource_type = {} AND i.param = {}",
               rtype, ids, inc.source, inc.param)


async def _round(conn: AsyncConnection[Any], includes: list[Include], sources: set[Key]) -> set[Key]:
    by_type: dict[str, list[str]] = {}
    for rtype, rid in sources:
        by_type.setdefault(rtype, []).append(rid)
    found: set[Key] = set()
    for inc in includes:
        for rtype, ids in by_type.items():
            statement = _reverse(inc, rtype, ids) if inc.reverse else _forward(inc, rtype, ids)
            if statement is None:
                continue
            cur = await conn.execute(statement.sql, statement.params)
            found.update((t, i) for t, i in await cur.fetchall())
    return found


async def fetch_includes(conn: AsyncConnection[Any], includes: list[Include], matches: list[Key],
                         visible: Callable[[str], Q | None] | None = None,
                         rounds: int = MAX_ROUNDS) -> list[tuple[str, str, str]]:
    """(type, id, content text) of included resources not already among the matches.

    ``visible`` (the caller's rows per type) filters what is returned, so an include never
    carries a resource the token may not read. ``rounds`` caps the ``:iterate`` rounds (how deep
    iteration goes depends on the data, so it is a cap, not a refusal).
    """
    seen: set[Key] = set(matches)
    added: list[Key] = []
    sources: set[Key] = set(matches)
    for round_no in range(rounds):
        active = includes if round_no == 0 else [i for i in includes if i.iterate]
        if not active or not sources:
            break
        new = await _round(conn, active, sources) - seen
        new_list = sorted(new)[:MAX_INCLUDED - len(added)]
        seen.update(new_list)
        added.extend(new_list)
        sources = set(new_list)
        if len(added) >= MAX_INCLUDED:
            break
    if not added:
        return []
    statement = fmt("SELECT r.resource_type, r.id, coalesce(r.body, r.content::text) FROM resource r"
                    " JOIN unnest({}::text[], {}::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i"
                    " WHERE NOT r.deleted AND {} ORDER BY r.resource_type, r.id",
                    [t for t, _ in added], [i for _, i in added], visible_rows({t for t, _ in added}, visible))
    cur = await conn.execute(statement.sql, statement.params)
    return [(t, i, c) for t, i, c in await cur.fetchall()]


def visible_rows(types: set[str], visible: Callable[[str], Q | None] | None) -> Q:
    if visible is None:
        return fmt("true")
    parts = []
    for rtype in sorted(types):
        predicate = visible(rtype)
        parts.append(fmt("(r.resource_type = {} AND {})", rtype, predicate if predicate is not None else fmt("true")))
    return fmt("({})", join(" OR ", parts))
