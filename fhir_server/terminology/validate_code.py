"""ValueSet/$validate-code and CodeSystem/$validate-code
(http://hl7.org/fhir/R4/valueset-operation-validate-code.html,
codesystem-operation-validate-code.html) for a code, a Coding or a CodeableConcept.

``result`` is true when a coding is in the value set (or code system); a display that is not
the concept's display (nor one of its designations) keeps ``result`` true and says so in
``message`` (a warning, as the display is not part of the concept's identity); ``display``
returns the concept's own display.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model import Concept
from .outputs import parameters, part

__all__ = ["Coded", "validate_codings"]


@dataclass(frozen=True)
class Coded:
    system: str | None
    code: str
    display: str | None = None

    @property
    def label(self) -> str:
        return f"{self.system}|{self.code}" if self.system else self.code


def _display_known(concept: Concept, display: str) -> bool:
    return display == concept.display or any(d.get("value") == display for d in concept.designations)


def validate_codings(codings: list[Coded], find: Callable[[Coded], Concept | None], where: str) -> dict[str, Any]:
    """The first coding found decides; when none is, every coding is named in the message."""
    misses = []
    for coded in codings:
        concept = find(coded)
        if concept is None:
            misses.append(f"The code '{coded.label}' is not in {where}")
            continue
        out = [part("result", "valueBoolean", True)]
        if coded.display is not None and not _display_known(concept, coded.display):
            out.append(part("message", "valueString",
                            f"Warning: the display '{coded.display}' is not a display of '{coded.label}'"
                            f" (expected '{concept.display}')"))
        if concept.display is not None:
            out.append(part("display", "valueString", concept.display))
        return parameters(out)
    return parameters([part("result", "valueBoolean", False), part("message", "valueString", "; ".join(misses))])
