"""Token ``:in``, ``:not-in``, ``:below``, ``:above`` (http://hl7.org/fhir/R4/search.html#token),
a thin adapter over the terminology engine (``fhir_server.terminology``).

``:in``/``:not-in`` match the (system, code) pairs of the expanded value set (a value set over a
code system held in PostgreSQL becomes SQL instead: ``terminology.sqlplan``); ``:below``/
``:above`` match the code and its descendants/ancestors. For a code system held in memory the
hierarchy is expanded here; for one loaded into PostgreSQL (``fhir-server terminology load``)
it is a recursive subquery over ``terminology_concept`` (no expansion in Python). A value set
or code system the server does not hold is a 400, not an empty match.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from ..errors import BadRequest, FhirError
from ..terminology import Expander, Sources, hierarchy, value_set_codes
from ..terminology.sqlplan import Part, value_set_plan
from ..terminology.store import ABOVE_SQL, BELOW_SQL, is_loaded
from .parse import split_escaped, unescape
from .sqlfrag import Q, fmt, ident, join
from .types.token import codes_predicate

__all__ = ["token_codes_predicate", "stored_value_sets"]


def _part_predicate(part: Part, alias: str) -> Q:
    system = fmt("{} = {}", ident(alias, "system"), part.system)
    if part.codes is not None:
        return fmt("({} AND {} = ANY({}))", system, ident(alias, "code"), list(part.codes))
    if part.root is None:
        return fmt("({})", system)
    below = fmt(BELOW_SQL, part.system, part.root, part.system)
    if part.include_root:
        return fmt("({} AND ({} = {} OR {} IN ({})))", system, ident(alias, "code"), part.root,
                   ident(alias, "code"), below)
    return fmt("({} AND {} IN ({}))", system, ident(alias, "code"), below)


def _planned(plan: tuple[list[Part], list[Part]], alias: str) -> Q:
    """A value set over a PostgreSQL-held code system, as SQL (terminology.sqlplan)."""
    included = join(" OR ", [_part_predicate(p, alias) for p in plan[0]]) if plan[0] else fmt("false")
    if not plan[1]:
        return fmt("({})", included)
    return fmt("(({}) AND NOT ({}))", included, join(" OR ", [_part_predicate(p, alias) for p in plan[1]]))


def _stored_codes(value_set: dict[str, Any], stored: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    try:  # its imports (compose.include.valueSet) may be stored ValueSets too
        return sorted(c.key for c in Expander(Sources(value_sets=stored)).expand(value_set))
    except FhirError as exc:
        raise BadRequest(f"ValueSet {value_set.get('url')} cannot be used for :in/:not-in: {exc.message}") from exc


def _value_set_predicate(url: str, alias: str, stored: dict[str, dict[str, Any]]) -> Q:
    if url in stored:  # a ValueSet stored in the server comes before the process-wide ones
        return codes_predicate(list(_stored_codes(stored[url], stored)), alias)
    try:
        codes = value_set_codes(url)
    except FhirError as exc:
        plan = value_set_plan(Sources().value_set(url))
        if plan is None:
            raise BadRequest(f"ValueSet {url} cannot be used for :in/:not-in: {exc.message}") from exc
        return _planned(plan, alias)
    return codes_predicate(sorted(codes, key=str), alias)


def token_codes_predicate(raw: str, modifier: str, alias: str, stored: dict[str, dict[str, Any]] | None = None) -> Q:
    if modifier in ("in", "not-in"):
        return _value_set_predicate(raw, alias, stored or {})
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise BadRequest(f":{modifier}={raw!r}: expected system|code")
    system, code = parts
    codes = hierarchy(system, code, modifier == "below")
    if codes is not None:
        return fmt("({} = {} AND {} = ANY({}))", ident(alias, "system"), system, ident(alias, "code"), codes)
    if is_loaded(system):
        related = fmt(BELOW_SQL if modifier == "below" else ABOVE_SQL, system, code, system)
        return fmt("({} = {} AND ({} = {} OR {} IN ({})))", ident(alias, "system"), system, ident(alias, "code"),
                   code, ident(alias, "code"), related)
    raise BadRequest(f"CodeSystem {system} is not known to this server, so :{modifier} cannot be evaluated")


def _in_urls(items: list[tuple[str, str]]) -> set[str]:
    urls: set[str] = set()
    for name, value in items:
        if name.endswith((":in", ":not-in")):
            urls.update(unescape(v) for v in split_escaped(value, ","))
    return urls


async def stored_value_sets(conn: AsyncConnection[Any], items: list[tuple[str, str]], readable: bool
                            ) -> dict[str, dict[str, Any]]:
    """The stored ValueSets (by url) that the query's :in/:not-in name, and the stored ones they
    import (``compose.include/exclude.valueSet``, followed to MAX_IMPORT_ROUNDS levels); none if
    the caller may not read ValueSets."""
    wanted = _in_urls(items)
    if not wanted or not readable:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(MAX_IMPORT_ROUNDS):
        cur = await conn.execute(
            "SELECT content FROM resource WHERE resource_type = 'ValueSet' AND NOT deleted"
            " AND content->>'url' = ANY(%s) ORDER BY last_updated DESC", [sorted(wanted)])
        for (content,) in await cur.fetchall():
            found.setdefault(content["url"], content)
        wanted = {url for vs in found.values() for url in _imports(vs)} - found.keys()
        if not wanted:
            break
    return found


MAX_IMPORT_ROUNDS = 8  # a deeper import chain of stored ValueSets is resolved from the process-wide ones


def _imports(value_set: dict[str, Any]) -> list[str]:
    compose = value_set.get("compose") or {}
    return [url.partition("|")[0] for part in (*(compose.get("include") or []), *(compose.get("exclude") or []))
            for url in part.get("valueSet") or [] if isinstance(url, str)]
