"""A one-line generated narrative for each demo resource (dom-6: "A resource should have
narrative", https://hl7.org/fhir/R4/narrative.html): the human-readable gist of the data."""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["with_narrative"]


def _quantity(q: dict[str, Any]) -> str:
    return f"{q['value']} {q['unit']}"


def _observation(r: dict[str, Any]) -> str:
    if "component" in r:
        systolic, diastolic = (c["valueQuantity"]["value"] for c in r["component"])
        value = f"{systolic}/{diastolic} mmHg"
    else:
        value = _quantity(r["valueQuantity"])
    return f"{r['code']['text']}: {value} ({r['subject']['display']}, {r['effectiveDateTime'][:10]})"


def _gist(r: dict[str, Any]) -> str:
    kind = r["resourceType"]
    if kind in ("Patient", "Practitioner"):
        name = r["name"][0]
        return " ".join([*name.get("prefix", []), *name["given"], name["family"]])
    if kind == "Organization":
        return str(r["name"])
    if kind == "PractitionerRole":
        return f"{r['practitioner']['display']}: {r['code'][0]['text']}, {r['organization']['display']}"
    if kind == "Observation":
        return _observation(r)
    if kind == "Encounter":
        return f"{r['type'][0]['text']}: {r['subject']['display']}, {r['period']['start'][:10]}"
    if kind == "MedicationRequest":
        return f"{r['medicationCodeableConcept']['text']} for {r['subject']['display']}"
    if kind == "Immunization":
        return f"{r['vaccineCode']['text']}: {r['patient']['display']}, {r['occurrenceDateTime'][:10]}"
    if kind == "Appointment":
        return f"Appointment {r['start'][:16].replace('T', ' ')}: {r['participant'][0]['actor']['display']}"
    subject = r.get("subject") or r.get("patient") or {}
    return f"{r['code']['text']} ({subject.get('display', '')})"


def with_narrative(resource: dict[str, Any]) -> dict[str, Any]:
    div = f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(_gist(resource), quote=False)}</div>'
    out = {"resourceType": resource["resourceType"], "id": resource["id"],
           "text": {"status": "generated", "div": div}}
    out.update((k, v) for k, v in resource.items() if k not in out)
    return out
