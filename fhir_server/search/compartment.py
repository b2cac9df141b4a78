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

__all__ = ["compartment_types", "compartment_params", "compartment_predicate", "patient_compartment_types",
           "membership"]


@cache
def _params(compartment: str) -> dict[str, tuple[str, ...]]:
    definition = definitions().compartments.get(compartment)
    if definition is None:
        raise NotFound(f"{compartment} is not a compartment type (Patient, Encounter, RelatedPerson, "
                       "Practitioner, Device)")
    return {r["code"]: tuple(r.get("param") or ()) for r in definition.get("resource", ()) if r.get("param")}


def compartment_types(compartment: str) -> list[str]:
    return sorted({*_params(compartment), compartment})


def compartment_params(compartment: str, rtype: str) -> tuple[str, ...]:
    """The parameters that make an ``rtype`` resource a member (``{def}``: the resource itself)."""
    return _params(compartment).get(rtype, ())


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


@cache
def patient_compartment_types() -> frozenset[str]:
    return frozenset(compartment_types("Patient"))


@cache
def _patient_params() -> dict[str, tuple[str, ...]]:
    definition = definitions().compartments["Patient"]
    return {r["code"]: tuple(p for p in r.get("param", ()) if p != "{def}")
            for r in definition.get("resource", ()) if r.get("param")}


def membership(rtype: str, patient_ids: list[str] | None) -> Q:
    """Resources of ``rtype`` in the compartment of any patient, or of the listed ones."""
    if rtype == "Patient":
        return fmt("TRUE") if patient_ids is None else fmt("r.id = ANY({})", patient_ids)
    params = list(_patient_params().get(rtype, ()))
    target = fmt("TRUE") if patient_ids is None else fmt("i.target_id = ANY({})", patient_ids)
    return fmt("r.id IN (SELECT i.id FROM search_reference i WHERE i.resource_type = {} AND i.param = ANY({})"
               " AND i.target_type = 'Patient' AND {})", rtype, params, target)
