"""Bounds on the work one search may ask of the database: http://hl7.org/fhir/R4/search.html.

Each repetition of a parameter, each OR value, chain step, resource type and ``_include``
adds SQL; without bounds a 35 KB form body of ``name=x`` repeated 5,000 times drove one
PostgreSQL backend to 22 GB (issue 11). A request over a limit is refused before any SQL
runs, as 400 with issue code ``too-costly`` (valueset-issue-type: "the request cannot be
satisfied because it is too costly") and a text naming the limit, its value and its setting.

Identical criteria are one criterion (``name=x&name=x`` is ``name=x``; ``name=a,a`` is
``name=a``): de-duplication happens before the repetition and value limits are counted,
while the parameter limit counts what was sent, so a flood of copies is refused cheaply.
The limits bound the statement's size; its shape is linear in repetitions because
``query.conditions`` makes the repetitions of one criterion one INTERSECT set. Measured at
the defaults, the costliest search allowed (30 criteria of 100 values with 4-step chains, or
3 criteria on all 146 types) plans in ~250 ms with ~100 MB of backend memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadRequest
from .parse import Criterion, Param, SearchRequest

__all__ = ["SearchLimits", "DEFAULT_LIMITS", "SearchTooCostly", "check_request", "distinct_params", "check_query_size",
           "criterion_depth", "check_types", "check_terms"]


class SearchTooCostly(BadRequest):
    """A search over one of the limits: 400, issue code too-costly."""

    code = "too-costly"


@dataclass(frozen=True)
class SearchLimits:
    """Defaults sit far above what real clients send (US Core/Inferno use <= 5 parameters)."""

    max_params: int = 30  # FHIR_SEARCH_MAX_PARAMS: search criteria in one request, as sent
    max_values: int = 100  # FHIR_SEARCH_MAX_VALUES: values in one OR list (a,b,c)
    max_repeats: int = 10  # FHIR_SEARCH_MAX_REPEATS: distinct AND repetitions of one parameter
    max_chain_depth: int = 4  # FHIR_SEARCH_MAX_CHAIN_DEPTH: chain / _has steps in one parameter
    max_includes: int = 10  # FHIR_SEARCH_MAX_INCLUDES: _include + _revinclude directives
    max_include_rounds: int = 4  # FHIR_SEARCH_MAX_INCLUDE_ROUNDS: :iterate rounds followed (a cap)
    max_sort_keys: int = 8  # FHIR_SEARCH_MAX_SORT_KEYS: _sort keys (each is a subquery per row)
    max_query_bytes: int = 8192  # FHIR_SEARCH_MAX_QUERY_BYTES: the URL's query string
    max_form_bytes: int = 65536  # FHIR_SEARCH_MAX_FORM_BYTES: the POST _search form body
    # A system or compartment-* search repeats every criterion per resource type (a subquery
    # each, ~80 KB of planner memory): 30 criteria on 146 types planned in 400 MB.
    max_typed_criteria: int = 500  # FHIR_SEARCH_MAX_TYPED_CRITERIA: criteria x types searched
    # Bound values in the statement: PostgreSQL's protocol takes at most 65,535 (a 500 beyond).
    max_terms: int = 10000  # FHIR_SEARCH_MAX_TERMS

    @classmethod
    def from_settings(cls, settings: Any) -> SearchLimits:
        """The limits of ``config.Settings`` (its ``search_max_*`` fields)."""
        return cls(**{name: getattr(settings, f"search_{name}") for name in cls.__dataclass_fields__})


DEFAULT_LIMITS = SearchLimits()


def _refuse(what: str, found: int, limit: int, setting: str) -> SearchTooCostly:
    return SearchTooCostly(f"{what}: {found} exceeds the limit of {limit} ({setting})")


def check_query_size(size: int, limits: SearchLimits, form: bool = False) -> None:
    """The query string (or POST _search form body) length in bytes."""
    if form and size > limits.max_form_bytes:
        raise _refuse("The _search form body is too large", size, limits.max_form_bytes,
                      "FHIR_SEARCH_MAX_FORM_BYTES")
    if not form and size > limits.max_query_bytes:
        raise _refuse("The query string is too long", size, limits.max_query_bytes, "FHIR_SEARCH_MAX_QUERY_BYTES")


def criterion_depth(crit: Criterion) -> int:
    """Chain and ``_has`` steps: ``subject:Patient.organization.name`` has 2."""
    if crit.has is not None:
        return 1 + criterion_depth(crit.has.inner)
    if crit.chain is not None:
        return 1 + criterion_depth(crit.chain)
    return 0


def distinct_params(params: list[Param]) -> list[Param]:
    """Identical criteria once, each OR list without repeated values; first spelling kept."""
    seen: set[tuple[Criterion, frozenset[str]]] = set()
    out: list[Param] = []
    for param in params:
        values = tuple(dict.fromkeys(param.values))
        key = (param.criterion, frozenset(values))
        if key in seen:
            continue
        seen.add(key)
        out.append(param if values == param.values else replace(param, values=values, raw=",".join(values)))
    return out


def check_request(request: SearchRequest, limits: SearchLimits) -> SearchRequest:
    """``request`` with its criteria de-duplicated, or SearchTooCostly when it asks too much."""
    if len(request.params) > limits.max_params:
        raise _refuse("Too many search parameters", len(request.params), limits.max_params, "FHIR_SEARCH_MAX_PARAMS")
    if len(request.includes) > limits.max_includes:
        raise _refuse("Too many _include/_revinclude parameters", len(request.includes), limits.max_includes,
                      "FHIR_SEARCH_MAX_INCLUDES")
    if len(request.sort) > limits.max_sort_keys:
        raise _refuse("Too many _sort keys", len(request.sort), limits.max_sort_keys, "FHIR_SEARCH_MAX_SORT_KEYS")
    params = distinct_params(request.params)
    repeats = Counter(param.name for param in params)
    for name, found in repeats.items():
        if found > limits.max_repeats:
            raise _refuse(f"{name} is repeated (AND) too often", found, limits.max_repeats, "FHIR_SEARCH_MAX_REPEATS")
    for param in params:
        if len(param.values) > limits.max_values:
            raise _refuse(f"Too many values in the OR list of {param.name}", len(param.values), limits.max_values,
                          "FHIR_SEARCH_MAX_VALUES")
        depth = criterion_depth(param.criterion)
        if depth > limits.max_chain_depth:
            raise _refuse(f"{param.name}: the chain is too deep", depth, limits.max_chain_depth,
                          "FHIR_SEARCH_MAX_CHAIN_DEPTH")
    request.params = params
    return request


def check_types(criteria: int, types: int, limits: SearchLimits) -> None:
    """Criteria x resource types of a multi-type search (unknown ones counted: an upper bound)."""
    if types > 1 and criteria * types > limits.max_typed_criteria:
        raise _refuse(f"Too many criteria across the searched resource types ({criteria} criteria on {types} types;"
                      " name fewer types with _type)", criteria * types, limits.max_typed_criteria,
                      "FHIR_SEARCH_MAX_TYPED_CRITERIA")


def check_terms(terms: int, limits: SearchLimits) -> None:
    """The values bound into the statement the criteria became."""
    if terms > limits.max_terms:
        raise _refuse("The search has too many terms (values bound into its query)", terms, limits.max_terms,
                      "FHIR_SEARCH_MAX_TERMS")
