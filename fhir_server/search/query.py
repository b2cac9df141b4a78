"""Assembles criteria, sort and keyset paging into one statement: http://hl7.org/fhir/R4/search.html.

A search is ``SELECT ... FROM resource r WHERE <scope>`` where the scope is, per resource
type searched, ``r.resource_type = $type AND NOT r.deleted AND <one condition per AND-ed
parameter>`` (OR-ed across types for system and compartment ``*`` searches). Callers can
AND further predicates (compartments now; security filters later, design habit 9) through
``extra`` without knowing how the criteria were built, so totals and paging see them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .criteria import Context, UnknownParameter, criterion_ids, date_and_ids
from .parse import Criterion, Param
from .registry import registry
from .sort import SortColumn, keyset_condition, order_by
from .sqlfrag import Q, fmt, join

__all__ = ["Applied", "Scope", "Cursor", "conditions", "build_scope", "ids_statement", "page_statement",
           "count_statement", "estimate_statement"]


@dataclass
class Applied:
    """Which parameters were applied and which were unknown (self link and outcome entry)."""

    params: list[Param] = field(default_factory=list)
    unknown: list[tuple[Param, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Scope:
    types: tuple[str, ...]
    where: Q
    # When every condition is a positive set of index-table ids (which exist only for live
    # resources) and nothing else narrows the rows: the sets alone, so a total can be counted
    # from the indexes without visiting the resource table.
    live_sets: tuple[Q, ...] | None = None

    @property
    def single(self) -> bool:
        return len(self.types) == 1


@dataclass(frozen=True)
class Cursor:
    keys: list[Any]
    last: str  # tie-break value of the cursor row
    reverse: bool  # True: the page before the cursor row


def conditions(rtype: str, params: list[Param], ctx: Context, applied: Applied | None = None,
               strict: bool = True, alias: str = "r", live: list[Q | None] | None = None) -> list[Q]:
    """One condition on ``alias`` per parameter; unknown ones raise when ``strict``, else are recorded.

    ``live`` receives, per condition, its id set when that set holds only live resources of
    ``rtype`` and membership means a match (None otherwise: negations, ``_has`` targets).
    """
    out: list[Q] = []
    merged, rest = _merge_date_ranges(rtype, params, ctx)
    out.extend(fmt(f"{alias}.id IN ({{}})", q) for q in merged)
    if live is not None:
        live.extend(merged)
    if applied is not None:
        applied.params.extend(p for p in params if p not in rest and p not in applied.params)
    # Repetitions of one criterion (AND) are one id set: an INTERSECT of their sets (a UNION
    # for negations). A semi-join per repetition put every set into one equivalence class and
    # one join search, and planning time and memory grew with the square of the repetitions.
    groups: dict[tuple[Criterion, bool], list[Q]] = {}
    for param in rest:
        try:
            ids, negated = criterion_ids(rtype, param.criterion, param.values, ctx, name=param.name)
        except UnknownParameter as exc:
            if strict:
                raise
            if applied is not None and param not in [p for p, _ in applied.unknown]:
                applied.unknown.append((param, exc.message))
            continue
        groups.setdefault((param.criterion, negated), []).append(ids)
        if applied is not None and param not in applied.params:
            applied.params.append(param)
    for (criterion, negated), sets in groups.items():
        ids = _combined(sets, "UNION" if negated else "INTERSECT")
        out.append(fmt(f"{alias}.id {'NOT IN' if negated else 'IN'} ({{}})", ids))
        if live is not None:
            live.append(None if negated or criterion.has is not None else ids)
    return out


def _combined(sets: list[Q], operator: str) -> Q:
    return sets[0] if len(sets) == 1 else join(f" {operator} ", [fmt("({})", q) for q in sets])


def _merge_date_ranges(rtype: str, params: list[Param], ctx: Context) -> tuple[list[Q], list[Param]]:
    """Repeated single-valued date criteria on one parameter become one condition (criteria.date_and_ids)."""
    groups: dict[str, list[Param]] = {}
    for param in params:
        crit = param.criterion
        if crit.modifier is None and crit.chain is None and crit.has is None and len(param.values) == 1:
            found = registry().get(rtype, crit.code)
            if found is not None and found.type == "date":
                groups.setdefault(crit.code, []).append(param)
    merged: list[Q] = []
    used: set[int] = set()
    for code, group in groups.items():
        if len(group) > 1:
            values = [p.values[0] for p in group]
            merged.append(date_and_ids(rtype, registry().get(rtype, code), values, ctx, code))  # type: ignore[arg-type]
            used.update(id(p) for p in group)
    return merged, [p for p in params if id(p) not in used]


def _type_block(rtype: str, conds: list[Q], extra: Q | None) -> Q:
    parts = [fmt("r.resource_type = {}", rtype), fmt("NOT r.deleted"), *conds]
    if extra is not None:
        parts.append(extra)
    return join(" AND ", parts)


def build_scope(types: list[str], params: list[Param], ctx: Context, applied: Applied | None = None,
                strict: bool = True, extra: dict[str, Q] | Q | None = None) -> Scope:
    """The WHERE clause for ``params`` over ``types``; ``extra`` adds a predicate (per type if a dict)."""
    blocks = []
    live: list[Q | None] = []
    for rtype in types:
        more = extra.get(rtype) if isinstance(extra, dict) else extra
        blocks.append(_type_block(rtype, conditions(rtype, params, ctx, applied, strict, live=live), more))
        if more is not None:
            live.append(None)
    if len(blocks) == 1:
        sets = tuple(q for q in live if q is not None)
        return Scope(tuple(types), blocks[0], sets if live and len(sets) == len(live) else None)
    return Scope(tuple(types), fmt("({})", join(" OR ", [fmt("({})", b) for b in blocks])))


def ids_statement(rtype: str, params: list[Param], ctx: Context, limit: int, extra: Q | None = None) -> Q:
    scope = build_scope([rtype], params, ctx, extra=extra)
    return fmt("SELECT r.id FROM resource r WHERE {} ORDER BY r.id LIMIT {}", scope.where, limit)


def _tiebreak(scope: Scope) -> Q:
    return fmt("r.id") if scope.single else fmt("(r.resource_type || '/' || r.id)")


def page_statement(scope: Scope, columns: list[SortColumn], cursor: Cursor | None, limit: int) -> Q:
    """Rows (resource_type, id, content, tie-break, *keys) of one page; ``limit`` + 1 reveal a next page."""
    names = [f"k{i}" for i in range(len(columns))]
    keys = [fmt("{} AS {}", c.expr, fmt(n)) for c, n in zip(columns, names, strict=True)]
    selected = [fmt("r.resource_type"), fmt("r.id AS rid"), fmt("coalesce(r.body, r.content::text) AS content"),
                fmt("{} AS id", _tiebreak(scope)), *keys]
    inner = fmt("SELECT {} FROM resource r WHERE {}", join(", ", selected), scope.where)
    reverse = bool(cursor and cursor.reverse)
    where = fmt("true")
    if cursor is not None:
        where = keyset_condition(columns, names, cursor.keys, cursor.last, reverse)
    return fmt("SELECT s.resource_type, s.rid, s.content, s.id{} FROM ({}) s WHERE {} ORDER BY {} LIMIT {}",
               fmt("".join(f", s.{n}" for n in names)), inner, where, order_by(columns, names, reverse), limit + 1)


def count_statement(scope: Scope) -> Q:
    if scope.live_sets:  # INTERSECT (a set operation) also counts a resource with two matching rows once
        sets = scope.live_sets if len(scope.live_sets) > 1 else scope.live_sets * 2
        return fmt("SELECT count(*) FROM ({}) s", join(" INTERSECT ", [fmt("({})", q) for q in sets]))
    return fmt("SELECT count(*) FROM resource r WHERE {}", scope.where)


def estimate_statement(scope: Scope) -> Q:
    return fmt("EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE {}", scope.where)
