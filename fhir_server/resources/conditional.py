"""Conditional create, update, patch and delete, written once for every caller.

http://hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete. Each decision runs inside
the caller's transaction after taking a transaction-scoped advisory lock on the normalized
condition, so two requests with the same condition are serialized: the second one searches
only after the first has committed, and a conditional create racing with itself creates
one resource, not two. The lock's key is the condition normalized (``condition_key``), so
``identifier=s|k``, ``identifier=s|k&identifier=s|k`` and ``identifier=s|k&_format=json``
contend for one lock.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from psycopg import AsyncConnection

from ..errors import BadRequest, NotFound, PreconditionFailed
from ..search.parse import IGNORED, split_escaped
from ..search.sqlfrag import Q
from .locks import CONDITION_SPACE
from .repository import new_id

__all__ = ["parse_condition", "condition_key", "lock_condition", "match_for_create", "target_for_update",
           "single_match", "matches_for_delete"]


def parse_condition(raw: str) -> list[tuple[str, str]]:
    """``identifier=a|b`` (or ``Patient?identifier=a|b``) -> [("identifier", "a|b")]."""
    query = raw.split("?", 1)[1] if "?" in raw else raw
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k]
    if not params:
        raise BadRequest(f"Conditional request without search criteria: {raw!r}")
    return params


# Parameters that never change which resources the criteria select: rendering ones, and the
# one result parameter a conditional request accepts (``find_ids`` refuses the others, 400).
_NOT_CRITERIA = IGNORED | {"_count"}
# Every stored resource has an id, so this criterion is true of all of them.
_ALWAYS_TRUE = ("_id:missing", "false")


def condition_key(rtype: str, params: list[tuple[str, str]]) -> str:
    """One spelling for criteria that select the same resources, the advisory lock's key.

    Only rewrites that cannot change the result are made: parameters that are not criteria
    and ``_id:missing=false`` are dropped, each parameter's OR values (``a,b``) are
    de-duplicated and sorted, repeated parameters (AND) are de-duplicated, and the parameters
    are sorted. Criteria that merely overlap (``identifier=x`` and ``identifier=x&active=true``)
    keep different keys: the spec asks for one lock per condition, not per matching resource.
    """
    clauses = set()
    for name, value in params:
        if name in _NOT_CRITERIA or (name, value) == _ALWAYS_TRUE:
            continue
        values = ",".join(sorted(set(split_escaped(value, ","))))
        clauses.add(f"{name}={values}")
    return rtype + "?" + "&".join(sorted(clauses))


async def lock_condition(conn: AsyncConnection[Any], rtype: str, params: list[tuple[str, str]]) -> None:
    """Serialize, until the transaction ends, every request on the same (normalized) condition."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
                       (condition_key(rtype, params), CONDITION_SPACE))


async def _locked_matches(conn: AsyncConnection[Any], rtype: str, params: list[tuple[str, str]],
                          limit: int, rows: Q | None) -> list[str]:
    """Matches among ``rows`` (the caller's access predicate; None: all rows)."""
    from ..search.service import find_ids

    if not params:
        raise BadRequest("Conditional request without search criteria")
    await lock_condition(conn, rtype, params)
    return await find_ids(conn, rtype, params, limit, extra=rows)


def _too_many(rtype: str, params: list[tuple[str, str]], what: str) -> PreconditionFailed:
    criteria = "&".join(f"{k}={v}" for k, v in params)
    return PreconditionFailed(f"{what}: criteria {rtype}?{criteria} match more than one resource")


async def match_for_create(conn: AsyncConnection[Any], rtype: str, if_none_exist: str,
                           rows: Q | None = None) -> str | None:
    params = parse_condition(if_none_exist)
    ids = await _locked_matches(conn, rtype, params, 2, rows)
    if len(ids) > 1:
        raise _too_many(rtype, params, "Conditional create refused")
    return ids[0] if ids else None


async def target_for_update(conn: AsyncConnection[Any], rtype: str, params: list[tuple[str, str]],
                            body_id: str | None, rows: Q | None = None) -> str:
    ids = await _locked_matches(conn, rtype, params, 2, rows)
    if len(ids) > 1:
        raise _too_many(rtype, params, "Conditional update refused")
    if not ids:
        return body_id or new_id()
    if body_id is not None and body_id != ids[0]:
        raise BadRequest(f"Body id '{body_id}' differs from the id '{ids[0]}' of the matching resource")
    return ids[0]


async def single_match(conn: AsyncConnection[Any], rtype: str, params: list[tuple[str, str]],
                       rows: Q | None = None) -> str:
    ids = await _locked_matches(conn, rtype, params, 2, rows)
    if len(ids) > 1:
        raise _too_many(rtype, params, "Conditional patch refused")
    if not ids:
        raise NotFound(f"No {rtype} matches the conditional criteria")
    return ids[0]


async def matches_for_delete(conn: AsyncConnection[Any], rtype: str, params: list[tuple[str, str]],
                             max_matches: int, rows: Q | None = None) -> list[str]:
    ids = await _locked_matches(conn, rtype, params, max_matches + 1, rows)
    if len(ids) > max_matches:
        raise PreconditionFailed(
            f"Conditional delete refused: more than {max_matches} {rtype} resources match")
    return ids
