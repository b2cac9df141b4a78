"""The rows a patient-context token may touch, as SQL: per resource type, interaction and version.

SMART App Launch 2.2 patient-level scopes
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#patient-specific-scopes) over
the Patient CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html) and
the classes of ``type_classes``:

- reads (r, s) of a compartment type: any compartment parameter names the patient;
- writes (c, u, d): only the *subject* parameters count (``type_classes.subject_params``), so a
  patient cannot file an Observation under another patient by naming themself its performer;
- a history version (alias ``h`` on ``resource_history``) is judged by its own content: the
  same compartment parameters, evaluated as JSON paths over that version (the search index
  holds only the current version), so a version filed to another patient stays hidden.
Predicates on the current row use alias ``r`` on ``resource`` (the search index), as in ``policy``.
"""

from __future__ import annotations

import re
from functools import cache

from ..search.compartment import compartment_params, compartment_predicate, patient_compartment_types
from ..search.extract import split_union
from ..search.registry import registry
from ..search.sqlfrag import Q, fmt, join
from .type_classes import COMPARTMENT, NARROWED_PARAMS, PUBLIC, RESTRICTED, subject_params, type_class

__all__ = ["NOTHING", "patient_rows", "patient_versions"]

NOTHING = fmt("false")
_WHERE_RESOLVE = re.compile(r"\.where\(resolve\(\) is [A-Za-z]+\)")
_PLAIN_PATH = re.compile(r"[a-z][A-Za-z]*(\.[a-z][A-Za-z]*)*")
# A local reference to the patient: exactly Patient/id or a version of it (as search indexes it).
_IS_PATIENT = "@.reference == $ref || @.reference starts with $hist"


def patient_rows(owner: str, rtype: str, interaction: str, base: str = "") -> Q | None:
    """Rows of ``rtype`` (alias ``r``) patient ``owner``'s token may ``interaction``; None: every row."""
    kind, write = type_class(rtype), interaction in "cud"
    if kind == COMPARTMENT:
        if not write:
            return compartment_predicate("Patient", owner, rtype)
        return _members("r", rtype, subject_params(rtype, compartment_params("Patient", rtype)), owner)
    if kind == PUBLIC:
        return NOTHING if write else None
    if kind == RESTRICTED:
        return NOTHING
    if rtype == "Binary":
        return _binary(owner, write, base)
    members = _members("r", rtype, NARROWED_PARAMS[rtype], owner)
    if rtype == "Device" and not write:  # a device assigned to nobody is equipment, not patient data
        return fmt("({} OR NOT EXISTS (SELECT 1 FROM search_reference i WHERE i.resource_type = 'Device'"
                   " AND i.id = r.id AND i.param = 'patient'))", members)
    return members


def _members(alias: str, rtype: str, params: tuple[str, ...], owner: str) -> Q:
    """``alias`` is in the compartment of Patient/owner by one of ``params`` ({def}: it is the patient)."""
    parts = []
    refs = [p for p in params if p != "{def}"]
    if "{def}" in params or rtype == "Patient":
        parts.append(fmt(f"{alias}.id = {{}}", owner))
    if refs:
        parts.append(fmt(f"{alias}.id IN (SELECT i.id FROM search_reference i WHERE i.resource_type = {{}}"
                         " AND i.param = ANY({}) AND i.target_type = 'Patient' AND i.target_id = {})",
                         rtype, refs, owner))
    return fmt("({})", join(" OR ", parts)) if parts else NOTHING


@cache
def _membership_pairs(write: bool) -> tuple[str, ...]:
    """'Type.param' for every compartment (subject) parameter, to test any resource's membership."""
    pairs = []
    for rtype in sorted(patient_compartment_types()):
        params = compartment_params("Patient", rtype)
        pairs += [f"{rtype}.{p}" for p in (subject_params(rtype, params) if write else params) if p != "{def}"]
    return tuple(pairs)


def _binary(owner: str, write: bool, base: str) -> Q:
    """Binary.securityContext names the patient or a resource in their compartment; for reads
    also: a DocumentReference/Media of the compartment has the Binary as its attachment."""
    ref = "(r.content->'securityContext'->>'reference')"
    parts = [
        fmt(f"{ref} = {{}}", f"Patient/{owner}"),
        fmt(f"EXISTS (SELECT 1 FROM search_reference i WHERE i.resource_type = split_part({ref}, '/', 1)"
            f" AND i.id = split_part({ref}, '/', 2) AND i.target_type = 'Patient' AND i.target_id = {{}}"
            " AND (i.resource_type || '.' || i.param) = ANY({}))", owner, list(_membership_pairs(write))),
    ]
    if not write:
        for holder, path in (("DocumentReference", "$.content.attachment.url"), ("Media", "$.content.url")):
            parts.append(fmt(
                "EXISTS (SELECT 1 FROM resource d WHERE d.resource_type = {} AND {} AND jsonb_path_exists("
                "d.content, ({})::jsonpath, jsonb_build_object('local', 'Binary/' || r.id, 'absolute', {} || r.id)))",
                holder, _members("d", holder, compartment_params("Patient", holder), owner),
                f"{path} ? (@ == $local || @ == $absolute)", f"{base.rstrip('/')}/Binary/"))
    return fmt("({})", join(" OR ", parts))


def patient_versions(owner: str, rtype: str) -> Q | None:
    """History versions (alias ``h``) of ``rtype`` readable by patient ``owner``, judged by each
    version's own content; the caller also requires the current row to be readable."""
    kind = type_class(rtype)
    if kind == PUBLIC:
        return None
    if kind == RESTRICTED:
        return NOTHING
    if rtype == "Binary":  # the current securityContext was judged; older ones must be the same
        return fmt("(h.content->'securityContext' IS NOT DISTINCT FROM (SELECT c.content->'securityContext'"
                   " FROM resource c WHERE c.resource_type = 'Binary' AND c.id = h.id))")
    params = compartment_params("Patient", rtype) if kind == COMPARTMENT else NARROWED_PARAMS[rtype]
    parts = [fmt("h.id = {}", owner)] if rtype == "Patient" else []
    variables = fmt("jsonb_build_object('ref', {}::text, 'hist', {}::text)", f"Patient/{owner}",
                    f"Patient/{owner}/_history/")
    parts += [fmt("jsonb_path_exists(h.content, ({})::jsonpath, {})", f"{path} ? ({_IS_PATIENT})", variables)
              for path in _json_paths(rtype, params)]
    if rtype == "Device":
        parts.append(fmt("NOT jsonb_path_exists(h.content, '$.patient.reference')"))
    return fmt("({})", join(" OR ", parts)) if parts else NOTHING


@cache
def _json_paths(rtype: str, params: tuple[str, ...]) -> tuple[str, ...]:
    """SQL/JSON paths of the reference elements behind ``params`` (their FHIRPath branches for
    ``rtype``). A branch that is not a plain element path is left out: its versions stay hidden."""
    paths = []
    for code in params:
        param = registry().get(rtype, code) if code != "{def}" else None
        for branch in split_union(param.expression or "") if param else ():
            branch = _WHERE_RESOLVE.sub("", branch.strip())
            if not branch.startswith(rtype + "."):
                continue
            tail = branch[len(rtype) + 1:]
            if _PLAIN_PATH.fullmatch(tail):
                paths.append("lax $" + "".join(f'."{key}"' for key in tail.split(".")))
    return tuple(dict.fromkeys(paths))
