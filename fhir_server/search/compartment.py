"""Compartment search: http://hl7.org/fhir/R4/compartmentdefinition.html#search and search.html#compartments.

``Patient/123/Observation`` is the Observations that refer to Patient/123 through any of
the parameters the official Patient CompartmentDefinition lists for Observation; ``{def}``
(the compartment resource itself) matches by id. ``*`` searches every type in the compartment.
"""

from __future__ import annotations

from functools import cache

from ..definitions import definitions
from ..errors import NotFound
from .sqlfrag import Q, fmt, join

__all__ = ["compartment_types", "compartment_predicate"]


@cache
def _params(compartment: str) -> dict[str, tuple[str, ...]]:
    definition = definitions().compartments.get(compartment)
    if definition is None:
        raise NotFound(f"{compartment} is not a compartment type (Patient, Encounter, RelatedPerson, "
                       "Practitioner, Device)")
    return {r["code"]: tuple(r.get("param") or ()) for r in definition.get("resource", ()) if r.get("param")}


def compartment_types(compartment: str) -> list[str]:
    return sorted({*_params(compartment), compartment})


def compartment_predicate(compartment: str, compartment_id: str, rtype: str) -> Q | None:
    """Condition on ``r`` for membership of ``rtype`` resources in the compartment (None: never members)."""
    params = _params(compartment).get(rtype, ())
    if not params and rtype != compartment:
        return None
    parts = []
    refs = [p for p in params if p != "{def}"]
    if "{def}" in params or rtype == compartment:  # the compartment's own resource is a member
        parts.append(fmt("r.id = {}", compartment_id))
    if refs:
        parts.append(fmt("r.id IN (SELECT i.id FROM search_reference i WHERE i.resource_type = {}"
                         " AND i.param = ANY({}) AND i.target_type = {} AND i.target_id = {})",
                         rtype, refs, compartment, compartment_id))
    return fmt("({})", join(" OR ", parts))
