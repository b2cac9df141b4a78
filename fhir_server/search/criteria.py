"""One search criterion -> the set of matching resource ids, as SQL.

http://hl7.org/fhir/R4/search.html#modifiers, #chaining, #has, #missing. Every criterion
becomes ``(ids, negated)``: ``ids`` is a ``SELECT id`` over one index table (or the
resource table for ``_id``/``_lastUpdated``, or ``search_text``), and the caller adds
``r.id IN (ids)`` or, when negated (``:not``, ``:missing=true``), ``r.id NOT IN (ids)``.
Chains and ``_has`` nest these sets, so any depth composes without special cases, and the
outer query (security predicates included) stays a plain conjunction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..definitions import definitions
from ..errors import BadRequest
from ..fhir.datetimes import parse_fhir_datetime_range
from .parse import Criterion, split_escaped, unescape
from .registry import SearchParam, registry
from .sqlfrag import Q, fmt, ident, join
from .types import BY_TYPE, date
from .types.common import ValueContext, split_prefix
from .types.date import range_condition

__all__ = ["Context", "UnknownParameter", "criterion_ids", "positive_ids", "resolve_param", "date_and_ids"]

MAX_CHAIN_DEPTH = 4


@dataclass(frozen=True)
class Context:
    base: str | None
    now: datetime
    # Access rows per type (smart_auth.policy): chains and _has only see rows the caller may read.
    visible: Callable[[str], Q | None] | None = None
    max_depth: int = MAX_CHAIN_DEPTH  # chain/_has steps (search.limits checks it first, naming the setting)
    # ValueSets stored in the server that :in/:not-in name, by url (fetched by the search service).
    value_sets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def restrict(self, rtype: str, ids: Q) -> Q:
        """``ids`` of ``rtype`` narrowed to the caller's rows (a chain or _has must not reveal others)."""
        predicate = self.visible(rtype) if self.visible is not None else None
        if predicate is None:
            return ids
        return fmt("SELECT r.id FROM resource r WHERE r.resource_type = {} AND r.id IN ({}) AND {}",
                   rtype, ids, predicate)


class UnknownParameter(BadRequest):
    """A parameter this server does not know for the type (ignorable unless strict)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


def resolve_param(rtype: str, code: str, full_name: str) -> SearchParam:
    param = registry().get(rtype, code)
    if param is None:
        raise UnknownParameter(f"Unknown search parameter {code!r} for {rtype}", full_name)
    return param


def _ids_from(table: str, rtype: str, param: str, where: Q | None) -> Q:
    base = fmt("SELECT i.id FROM {} i WHERE i.resource_type = {} AND i.param = {}", ident(table), rtype, param)
    return fmt("{} AND {}", base, where) if where is not None else base


def _missing(param: SearchParam, raw_values: tuple[str, ...], rtype: str) -> tuple[Q, bool]:
    if len(raw_values) != 1 or raw_values[0] not in ("true", "false"):
        raise BadRequest(f"{param.code}:missing takes true or false")
    missing = raw_values[0] == "true"
    if param.code == "_id" or param.code == "_lastUpdated":
        return fmt("SELECT id FROM resource WHERE resource_type = {} AND NOT deleted", rtype), missing
    if param.type == "composite":
        return _ids_from(BY_TYPE[param.components[0].type].TABLE, rtype, f"{param.code}$0", None), missing
    kind = BY_TYPE.get(param.type)
    if kind is None:
        raise BadRequest(f"{param.code}:missing is not supported")
    return _ids_from(kind.TABLE, rtype, param.code, None), missing


def _resource_column(param: SearchParam, modifier: str | None, values: tuple[str, ...], rtype: str) -> Q:
    if param.code == "_id":
        if modifier not in (None, "not"):
            raise BadRequest(f"Modifier :{modifier} is not supported on _id")
        ids = [unescape(v) for v in values]
        return fmt("SELECT id FROM resource WHERE resource_type = {} AND id = ANY({}) AND NOT deleted", rtype, ids)
    if modifier is not None:
        raise BadRequest(f"Modifier :{modifier} is not supported on _lastUpdated")
    conds = []
    for raw in values:
        prefix, text = split_prefix(unescape(raw))
        qlow, qhigh = parse_fhir_datetime_range(text, "_lastUpdated")
        column = ident("resource", "last_updated")
        conds.append(range_condition(prefix, qlow, qhigh, column, column))
    return fmt("SELECT id FROM resource WHERE resource_type = {} AND NOT deleted AND ({})", rtype,
               join(" OR ", conds))


def _fulltext(param: SearchParam, modifier: str | None, values: tuple[str, ...], rtype: str) -> Q:
    if modifier is not None:
        raise BadRequest(f"Modifier :{modifier} is not supported on {param.code}")
    column = ident("i", "narrative" if param.code == "_text" else "content")
    conds = [fmt("{} @@ websearch_to_tsquery('simple', {})", column, unescape(v)) for v in values]
    return fmt("SELECT i.id FROM search_text i WHERE i.resource_type = {} AND ({})", rtype, join(" OR ", conds))


def _composite(param: SearchParam, values: tuple[str, ...], rtype: str, ctx: Context) -> Q:
    selects = []
    for raw in values:
        parts = split_escaped(raw, "$")
        if len(parts) != len(param.components):
            raise BadRequest(f"{param.code}={raw!r}: expected {len(param.components)} values joined by '$'")
        tables, conds = [], []
        for j, (comp, part) in enumerate(zip(param.components, parts, strict=True)):
            kind = BY_TYPE[comp.type]
            alias = f"c{j}"
            vc = ValueContext(f"{param.code} (component {j + 1})", base=ctx.base, now=ctx.now)
            conds.append(fmt("{} = {} AND {}", ident(alias, "param"), f"{param.code}${j}",
                             kind.predicate(part, None, alias, vc)))
            if j == 0:
                tables.append(fmt("{} c0", ident(kind.TABLE)))
            else:
                tables.append(fmt("JOIN {} {} ON {} = c0.resource_type AND {} = c0.id AND {} = c0.grp",
                                  ident(kind.TABLE), ident(alias), ident(alias, "resource_type"), ident(alias, "id"),
                                  ident(alias, "grp")))
        selects.append(fmt("SELECT c0.id FROM {} WHERE c0.resource_type = {} AND {}", join(" ", tables), rtype,
                           join(" AND ", conds)))
    return join(" UNION ", selects)


def _chain(param: SearchParam, crit: Criterion, values: tuple[str, ...], rtype: str, ctx: Context,
           depth: int, name: str) -> Q:
    assert crit.chain is not None
    if param.type != "reference":
        raise BadRequest(f"{name}: {param.code} is not a reference parameter, so it cannot be chained")
    if depth >= ctx.max_depth:
        raise BadRequest(f"{name}: chains deeper than {ctx.max_depth} are not supported")
    targets = [crit.modifier] if crit.modifier else list(param.targets)
    if crit.modifier and crit.modifier not in definitions().resource_types:
        raise BadRequest(f"{name}: {crit.modifier} is not a resource type")
    branches = []
    for target in targets:
        if registry().get(target, crit.chain.code) is None and crit.chain.code != "_has":
            continue
        inner = ctx.restrict(target, positive_ids(target, crit.chain, values, ctx, depth + 1, name))
        branches.append(fmt("(i.target_type = {} AND i.target_id IN ({}))", target, inner))
    if not branches:
        raise UnknownParameter(f"{name}: no target type of {param.code} has a parameter {crit.chain.code!r}", name)
    return _ids_from("search_reference", rtype, param.code, fmt("({})", join(" OR ", branches)))


def _has(crit: Criterion, values: tuple[str, ...], rtype: str, ctx: Context, depth: int, name: str) -> Q:
    assert crit.has is not None
    has = crit.has
    if has.type not in definitions().resource_types:
        raise BadRequest(f"{name}: {has.type} is not a resource type")
    ref = resolve_param(has.type, has.ref, name)
    if ref.type != "reference":
        raise BadRequest(f"{name}: {has.type}.{has.ref} is not a reference parameter")
    if depth >= ctx.max_depth:
        raise BadRequest(f"{name}: _has nested deeper than {ctx.max_depth} is not supported")
    inner = ctx.restrict(has.type, positive_ids(has.type, has.inner, values, ctx, depth + 1, name))
    return fmt("SELECT i.target_id AS id FROM search_reference i WHERE i.resource_type = {} AND i.param = {}"
               " AND i.target_type = {} AND i.id IN ({})", has.type, has.ref, rtype, inner)


def criterion_ids(rtype: str, crit: Criterion, values: tuple[str, ...], ctx: Context, depth: int = 0,
                  name: str = "") -> tuple[Q, bool]:
    """(ids, negated): the ids a criterion selects, and whether matching means *not* in them."""
    name = name or crit.code
    if crit.has is not None:
        return _has(crit, values, rtype, ctx, depth, name), False
    param = resolve_param(rtype, crit.code, name)
    if not values or any(v == "" for v in values):
        raise BadRequest(f"{name}: empty value")
    if crit.modifier == "missing":
        return _missing(param, values, rtype)
    if crit.chain is not None:
        return _chain(param, crit, values, rtype, ctx, depth, name), False
    if param.code in ("_id", "_lastUpdated"):
        return _resource_column(param, crit.modifier, values, rtype), crit.modifier == "not"
    if param.code in ("_text", "_content"):
        return _fulltext(param, crit.modifier, values, rtype), False
    if param.type == "composite":
        if crit.modifier:
            raise BadRequest(f"Modifier :{crit.modifier} is not supported on composite parameter {param.code}")
        return _composite(param, values, rtype, ctx), False
    return _typed(param, crit, values, rtype, ctx, name)


def _typed(param: SearchParam, crit: Criterion, values: tuple[str, ...], rtype: str, ctx: Context,
           name: str) -> tuple[Q, bool]:
    kind = BY_TYPE.get(param.type)
    if kind is None:
        raise BadRequest(f"{name}: parameters of type {param.type} are not supported")
    modifier = crit.modifier
    if param.type == "reference" and modifier and modifier != "identifier":
        if modifier not in definitions().resource_types:
            raise BadRequest(f"Modifier :{modifier} is not supported on reference parameter {param.code}")
    elif modifier and modifier not in kind.MODIFIERS:
        raise BadRequest(f"Modifier :{modifier} is not supported on {param.type} parameter {param.code}")
    if modifier in ("in", "not-in", "below", "above") and param.type == "token":
        from .terminology import token_codes_predicate

        pred = join(" OR ", [token_codes_predicate(unescape(v), modifier, "i", ctx.value_sets) for v in values])
        return _ids_from(kind.TABLE, rtype, param.code, fmt("({})", pred)), modifier == "not-in"
    vc = ValueContext(name, param.targets, ctx.base, ctx.now)
    preds = [kind.predicate(v, modifier, "i", vc) for v in values]
    negated = modifier == "not"
    return _ids_from(kind.TABLE, rtype, param.code, fmt("({})", join(" OR ", preds))), negated


def date_and_ids(rtype: str, param: SearchParam, values: list[str], ctx: Context, name: str) -> Q:
    """Repetitions of one date parameter (``date=ge2020&date=lt2021``) applied to the same value.

    Policy: a range written as two prefixed repetitions constrains one value (as users mean it,
    and so one GiST probe over the window serves it); OR-lists keep the general semantics.
    """
    where = date.predicate_all(values, "i", ValueContext(name, base=ctx.base, now=ctx.now))
    return _ids_from(date.TABLE, rtype, param.code, where)


def positive_ids(rtype: str, crit: Criterion, values: tuple[str, ...], ctx: Context, depth: int = 0,
                 name: str = "") -> Q:
    """The matching ids as one set (a negated criterion is complemented over live resources)."""
    ids, negated = criterion_ids(rtype, crit, values, ctx, depth, name)
    if not negated:
        return ids
    return fmt("SELECT id FROM resource WHERE resource_type = {} AND NOT deleted AND id NOT IN ({})", rtype, ids)
