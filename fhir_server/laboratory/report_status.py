"""DiagnosticReport.status moves and what a released report must carry, as pure functions
(http://hl7.org/fhir/R4/diagnosticreport.html, http://hl7.org/fhir/R4/valueset-diagnostic-report-status.html).

registered -> partial -> preliminary -> final -> amended | corrected | appended (an amended,
corrected or appended report may be amended, corrected or appended again); cancelled before
release; entered-in-error from any state; once released (final or later) a report never goes
back to registered, partial or preliminary. ``unknown`` is allowed only before release.

A released *laboratory* report (a ``category`` of v2-0074 LAB or one of its lab sections) needs at
least one ``result`` (an Observation): imaging and pathology reports whose findings are a
``conclusion`` or ``presentedForm`` (four of the official R4 examples) are valid FHIR without one.
Every released report needs a ``performer``. The
performer is not demanded of an *importer* (the operator: ``fhir-server load``, auth off; or a
``system/`` backend) that creates a report already released elsewhere or rewrites it unchanged:
Synthea's final reports carry results but no performer. Every release or amendment made on this
server needs the performer, from every writer. Results are checked by reference shape, not by
existence: a bundle or an NDJSON load may write the report before its Observations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .refusal import RuleRefused

__all__ = ["RELEASED", "REPORT_TRANSITIONS", "check_report"]

RULE = "lab.report-status"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
# LAB and the laboratory sections of v2-0074 (not RAD, PAT, SP, CP and the other non-lab services).
LAB_SECTIONS = frozenset({"LAB", "BG", "BLB", "CG", "CH", "CUS", "HLA", "HM", "IMM", "MB", "MCB", "MYC", "OSL",
                          "SR", "TX", "URN", "VR"})
RELEASED = frozenset({"final", "amended", "corrected", "appended"})
_OPEN = frozenset({"registered", "partial", "preliminary", "unknown"})
REPORT_TRANSITIONS: dict[str, frozenset[str]] = {
    "registered": frozenset({"partial", "preliminary", "final", "cancelled", "unknown"}),
    "partial": frozenset({"preliminary", "final", "cancelled", "unknown"}),
    "preliminary": frozenset({"final", "cancelled", "unknown"}),
    "unknown": frozenset({"registered", "partial", "preliminary", "final", "cancelled"}),
    "final": frozenset({"amended", "corrected", "appended"}),
    "amended": frozenset({"amended", "corrected", "appended"}),
    "corrected": frozenset({"amended", "corrected", "appended"}),
    "appended": frozenset({"amended", "corrected", "appended"}),
}


def _check_transition(report_id: str, old: str, new: str) -> None:
    if old == new or new == "entered-in-error" or new in REPORT_TRANSITIONS.get(old, frozenset()):
        return
    if old in RELEASED and new in _OPEN | {"cancelled"}:
        why = f"a {old} report cannot go back to {new}; amend or correct it instead"
    elif old in ("cancelled", "entered-in-error"):
        why = f"{old} is a final status"
    else:
        allowed = REPORT_TRANSITIONS.get(old, frozenset()) | {"entered-in-error"}
        why = f"allowed from {old}: {', '.join(sorted(allowed))}"
    raise RuleRefused(f"Rule {RULE}: DiagnosticReport/{report_id} cannot move from {old} to {new} ({why})")


def _observation_results(report: Mapping[str, Any]) -> list[str]:
    refs = [r.get("reference") for r in report.get("result") or [] if isinstance(r, Mapping)]
    return [r for r in refs if isinstance(r, str) and (r.startswith("Observation/") or "/Observation/" in r)]


def _a(status: str) -> str:
    return f"an {status}" if status[0] in "aeiou" else f"a {status}"


def is_laboratory(report: Mapping[str, Any]) -> bool:
    codings = (c for cat in report.get("category") or [] if isinstance(cat, Mapping)
               for c in cat.get("coding") or [] if isinstance(c, Mapping))
    return any(c.get("system") == V2_0074 and c.get("code") in LAB_SECTIONS for c in codings)


def check_report(report_id: str, old: Mapping[str, Any] | None, new: Mapping[str, Any], importer: bool) -> None:
    """Refuse (422, naming the rule) an impossible status move or a released report missing its parts."""
    status = str(new.get("status"))
    old_status = str(old.get("status")) if old is not None else None
    if old_status is not None:
        _check_transition(report_id, old_status, status)
    if status not in RELEASED:
        return
    if is_laboratory(new) and not _observation_results(new):
        raise RuleRefused(f"Rule {RULE}: {_a(status)} laboratory DiagnosticReport needs at least one result"
                          " (an Observation)")
    imported = importer and (old_status is None or old_status == status)
    if not new.get("performer") and not imported:
        raise RuleRefused(f"Rule {RULE}: {_a(status)} DiagnosticReport needs a performer")
