"""The engine's one value type: a concept of a code system
(http://hl7.org/fhir/R4/codesystem.html#CodeSystem.concept), as CodeSystem views and
expansions hand it around.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Concept", "contains_item", "objects"]


def objects(value: Any) -> tuple[dict[str, Any], ...]:
    """The objects of a list (designations, properties) from content that may be malformed."""
    return tuple(v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


@dataclass(frozen=True)
class Concept:
    system: str
    code: str
    display: str | None = None
    version: str | None = None
    inactive: bool = False
    abstract: bool = False
    designations: tuple[dict[str, Any], ...] = ()
    properties: tuple[dict[str, Any], ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.system, self.code

    def display_in(self, language: str | None) -> str | None:
        """The display in ``language`` when a designation carries it (displayLanguage)."""
        if language:
            for designation in self.designations:
                if str(designation.get("language", "")).lower().startswith(language.lower()):
                    return designation.get("value") or self.display
        return self.display


def contains_item(concept: Concept, designations: bool, language: str | None) -> dict[str, Any]:
    """One ValueSet.expansion.contains entry."""
    item: dict[str, Any] = {"system": concept.system}
    if concept.version:
        item["version"] = concept.version
    if concept.abstract:
        item["abstract"] = True
    if concept.inactive:
        item["inactive"] = True
    item["code"] = concept.code
    display = concept.display_in(language)
    if display is not None:
        item["display"] = display
    if designations and concept.designations:
        item["designation"] = [dict(d) for d in concept.designations]
    return item
