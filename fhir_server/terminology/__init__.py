"""The terminology engine: one expansion for validation's bindings, search's token modifiers
and the terminology operations (http://hl7.org/fhir/R4/terminology-service.html).

- ``expand(url)``: the (system, code) pairs of a process-wide value set, or None when it
  cannot be expanded here (validation then skips the check rather than guess);
- ``value_set_codes(url)``: the same, raising the terminology error (search reports it);
- ``hierarchy(system, code, below)``: the codes at or below/above one code of a code system
  held in memory (``:below``/``:above``), None for a system held only in PostgreSQL;
- ``Expander``/``Sources``: the engine with caller-supplied (inline, stored, PostgreSQL)
  resources, used by the operations in ``resources/operations``.
"""

from __future__ import annotations

from functools import cache

from ..errors import FhirError
from .codesystem import CodeSystemView, SystemView
from .errors import CannotExpand, TerminologyError, TooCostly, UnknownCodeSystem, UnknownValueSet
from .expansion import DEFAULT_LIMIT, Expander, Membership
from .model import Concept
from .sources import Sources, concept_maps

__all__ = [
    "expand", "codes_of", "value_set_codes", "hierarchy", "Concepts", "Concept", "Expander", "Membership", "Sources",
    "SystemView", "CodeSystemView", "TerminologyError", "CannotExpand", "TooCostly", "UnknownValueSet",
    "UnknownCodeSystem", "concept_maps", "DEFAULT_LIMIT",
]

Concepts = frozenset[tuple[str, str]]


@cache
def value_set_codes(url: str) -> Concepts:
    return frozenset(c.key for c in Expander(Sources()).expand_url(url))


@cache
def expand(url: str) -> Concepts | None:
    try:
        return value_set_codes(url)
    except FhirError:
        return None


def codes_of(system: str) -> frozenset[str] | None:
    """Every code of a complete code system held in memory, else None."""
    view = Sources().code_system(system)
    if not isinstance(view, CodeSystemView) or not view.complete:
        return None
    return frozenset(view.by_code)


def hierarchy(system: str, code: str, below: bool) -> list[str] | None:
    view = Sources().code_system(system)
    if not isinstance(view, CodeSystemView):
        return None
    related = view.descendants(code) if below else view.ancestors(code)
    return [code, *sorted(related)]
