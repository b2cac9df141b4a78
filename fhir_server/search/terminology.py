"""Token ``:in``, ``:not-in``, ``:below``, ``:above`` over the vendored R4 terminology.

http://hl7.org/fhir/R4/search.html#token (modifiers) and valueset.html#compose. ValueSets
are expanded from their ``compose`` (enumerated concepts, whole code systems, is-a
filters and imported value sets); code hierarchies come from CodeSystem.concept nesting.
A ValueSet or CodeSystem the server does not hold is a 400, not an empty match.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..definitions import definitions
from ..errors import BadRequest
from .parse import split_escaped, unescape
from .sqlfrag import Q, fmt, ident
from .types.token import codes_predicate

__all__ = ["token_codes_predicate", "expand", "descendants", "ancestors"]

MAX_DEPTH = 8


def _walk(concepts: list[dict[str, Any]], parents: tuple[str, ...], out: dict[str, tuple[str, ...]]) -> None:
    for concept in concepts:
        out[concept["code"]] = parents
        _walk(concept.get("concept") or [], (*parents, concept["code"]), out)


@cache
def _hierarchy(system: str) -> dict[str, tuple[str, ...]]:
    """code -> ancestor codes, for a CodeSystem the server holds."""
    cs = definitions().code_systems.get(system)
    if cs is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    _walk(cs.get("concept") or [], (), out)
    return out


def descendants(system: str, code: str) -> list[str]:
    return [c for c, parents in _hierarchy(system).items() if c == code or code in parents]


def ancestors(system: str, code: str) -> list[str]:
    return [code, *_hierarchy(system).get(code, ())]


def _include(item: dict[str, Any], depth: int) -> set[tuple[str | None, str]]:
    system = item.get("system")
    codes: set[tuple[str | None, str]] = set()
    if item.get("concept"):
        codes |= {(system, c["code"]) for c in item["concept"]}
    elif system and item.get("filter"):
        for flt in item["filter"]:
            if flt.get("op") in ("is-a", "descendent-of"):
                codes |= {(system, c) for c in descendants(system, flt.get("value", ""))
                          if flt["op"] == "is-a" or c != flt.get("value")}
    elif system:
        codes |= {(system, c) for c in _hierarchy(system)}
    for vs_url in item.get("valueSet") or ():
        codes |= expand(vs_url, depth + 1)
    return codes


@cache
def expand(url: str, depth: int = 0) -> frozenset[tuple[str | None, str]]:
    url = url.split("|")[0]
    vs = definitions().value_sets.get(url)
    if vs is None or depth > MAX_DEPTH:
        raise BadRequest(f"ValueSet {url} is not known to this server")
    compose = vs.get("compose") or {}
    included: set[tuple[str | None, str]] = set()
    for item in compose.get("include") or ():
        included |= _include(item, depth)
    for item in compose.get("exclude") or ():
        included -= _include(item, depth)
    contains = (vs.get("expansion") or {}).get("contains") or ()
    included |= {(c.get("system"), c["code"]) for c in contains if "code" in c}
    return frozenset(included)


def token_codes_predicate(raw: str, modifier: str, alias: str) -> Q:
    if modifier in ("in", "not-in"):
        return codes_predicate(sorted(expand(raw), key=str), alias)
    parts = [unescape(p) for p in split_escaped(raw, "|")]
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise BadRequest(f":{modifier}={raw!r}: expected system|code")
    system, code = parts
    if system not in definitions().code_systems:
        raise BadRequest(f"CodeSystem {system} is not known to this server, so :{modifier} cannot be evaluated")
    codes = descendants(system, code) if modifier == "below" else ancestors(system, code)
    return fmt("({} = {} AND {} = ANY({}))", ident(alias, "system"), system, ident(alias, "code"), codes or [code])


