"""The summary as a FHIR document: a Bundle of type ``document`` whose first entry is the
Composition (http://hl7.org/fhir/R4/documents.html, bdl-9..bdl-11; Composition cmp-1, cmp-2).

Pure: given the patient's row and each section's rows, it writes the Bundle's bytes, serving each
resource's stored text unchanged. The Composition is made for this answer (not stored): its
fullUrl is a ``urn:uuid:``; every other entry's fullUrl is its RESTful URL on this server, and the
Composition references them by exactly those URLs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ..search.service import Row
from .sections import LOINC, Section

__all__ = ["Filled", "document_bytes", "composition"]

EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
XHTML = '<div xmlns="http://www.w3.org/1999/xhtml">{}</div>'


@dataclass
class Filled:
    """A section's rows as the caller may see them, and why it may be incomplete."""

    section: Section
    rows: list[Row] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)  # types the caller's scopes do not cover
    truncated: bool = False


def _text(filled: Filled, limit: int, patient_id: str) -> str:
    if not filled.rows:
        said = "Withheld: not covered by the access granted" if filled.withheld else "No information recorded"
    else:
        said = f"{len(filled.rows)} entr{'y' if len(filled.rows) == 1 else 'ies'}"
        if filled.truncated:
            said += f" (the {limit} most recent of each kind; all of them through Patient/{patient_id}/$everything)"
        if filled.withheld:
            said += f"; {', '.join(filled.withheld)} withheld"
    return XHTML.format(said)


def _section(filled: Filled, base: str, limit: int, patient_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"title": filled.section.title,
                           "code": {"coding": [{"system": LOINC, "code": filled.section.code,
                                                "display": filled.section.title}]},
                           "text": {"status": "generated", "div": _text(filled, limit, patient_id)}}
    if filled.rows:
        out["entry"] = [{"reference": f"{base}/{r[0]}/{r[1]}"} for r in filled.rows]
    else:
        code = "withheld" if filled.withheld else "unavailable"
        out["emptyReason"] = {"coding": [{"system": EMPTY_REASON, "code": code}]}
    return out


def composition(patient: Row, sections: list[Filled], base: str, limit: int, now: str) -> dict[str, Any]:
    return {"resourceType": "Composition", "id": str(uuid.uuid4()), "status": "final",
            "type": {"coding": [{"system": LOINC, "code": "60591-5", "display": "Patient summary Document"}]},
            "subject": {"reference": f"{base}/Patient/{patient[1]}"}, "date": now,
            "author": [{"display": "fhir_server"}], "title": "Patient summary",
            "section": [_section(f, base, limit, patient[1]) for f in sections]}


def _entry(base: str, row: Row) -> bytes:
    return b'{"fullUrl":' + orjson.dumps(f"{base}/{row[0]}/{row[1]}") + b',"resource":' + row[2].encode() + b"}"


def document_bytes(patient: Row, sections: list[Filled], base: str, limit: int) -> bytes:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    comp = composition(patient, sections, base, limit, now)
    head = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"lastUpdated": now},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
            "type": "document", "timestamp": now}
    entries = [b'{"fullUrl":' + orjson.dumps(f"urn:uuid:{comp['id']}") + b',"resource":' + orjson.dumps(comp) + b"}",
               _entry(base, patient)]
    seen = {(patient[0], patient[1])}
    for filled in sections:
        for row in filled.rows:
            if (row[0], row[1]) not in seen:
                seen.add((row[0], row[1]))
                entries.append(_entry(base, row))
    return orjson.dumps(head)[:-1] + b',"entry":[' + b",".join(entries) + b"]}"
