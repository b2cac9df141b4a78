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

from ..errors import BadRequest, FhirError
from ..terminology import Sources, hierarchy, value_set_codes
from ..terminology.sqlplan import Part, value_set_plan
from ..terminology.store import ABOVE_SQL, BELOW_SQL, is_loaded
from .parse import split_escaped, unescape
from .sqlfrag import Q, fmt, ident, join
from .types.token import codes_predicate

__all__ = ["token_codes_predicate"]


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


def _value_set_predicate(url: str, alias: str) -> Q:
    try:
        codes = value_set_codes(url)
    except FhirError as exc:
        plan = value_set_plan(Sources().value_set(url))
        if plan is None:
            raise BadRequest(f"ValueSet {url} cannot be used for :in/:not-in: {exc.message}") from exc
        return _planned(plan, alias)
    return codes_predicate(sorted(codes, key=str), alias)


def token_codes_predicate(raw: str, modifier: str, alias: str) -> Q:
    if modifier in ("in", "not-in"):
        return _value_set_predicate(raw, alias)
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
