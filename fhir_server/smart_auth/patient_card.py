"""How the authorization pages name a patient: name, birth date and one identifier, never a raw id.

A clinician choosing a patient must be able to tell two "John Smith"s apart (the Joint Commission's
two-identifier rule: name plus birth date, and the record number), so every picker row and the
consent page show all three. The identifier preferred is the medical record number (type MR,
http://terminology.hl7.org/CodeSystem/v2-0203), else the first one with a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PatientCard", "card_of", "display_name"]


@dataclass(frozen=True)
class PatientCard:
    id: str
    name: str
    birth_date: str
    identifier: str  # e.g. "MRN 12345", "" when the record has none

    def summary(self) -> str:
        """One line: "Jane Doe · born 1980-01-02 · MRN 12345" (missing parts left out)."""
        parts = [self.name or "Unnamed patient"]
        if self.birth_date:
            parts.append(f"born {self.birth_date}")
        if self.identifier:
            parts.append(self.identifier)
        return " · ".join(parts)


def display_name(content: dict[str, Any] | None) -> str:
    """The first HumanName as text: its ``text``, else given names and family."""
    for name in (content or {}).get("name") or []:
        if name.get("text"):
            return str(name["text"])
        text = " ".join(p for p in [*name.get("given", []), name.get("family", "")] if p)
        if text:
            return text
    return ""


def _is_mrn(identifier: dict[str, Any]) -> bool:
    codings = (identifier.get("type") or {}).get("coding") or []
    return any(c.get("code") == "MR" for c in codings)


def _identifier(content: dict[str, Any]) -> str:
    identifiers = [i for i in content.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if not identifiers:
        return ""
    chosen = next((i for i in identifiers if _is_mrn(i)), identifiers[0])
    kind = (chosen.get("type") or {}).get("text") or ("MRN" if _is_mrn(chosen) else "ID")
    return f"{kind} {chosen['value']}"


def card_of(patient_id: str, content: dict[str, Any] | None) -> PatientCard:
    content = content or {}
    return PatientCard(patient_id, display_name(content), str(content.get("birthDate", "")), _identifier(content))
