"""CodeSystem/$subsumes (http://hl7.org/fhir/R4/codesystem-operation-subsumes.html): the
relation of code A to code B in one code system's hierarchy: ``equivalent``, ``subsumes``
(A is an ancestor of B), ``subsumed-by`` or ``not-subsumed``.
"""

from __future__ import annotations

from typing import Any

from ..errors import Issue
from .codesystem import SystemView
from .errors import TerminologyError
from .outputs import parameters, part

__all__ = ["subsumes"]


def subsumes(view: SystemView, code_a: str, code_b: str) -> dict[str, Any]:
    unknown = [c for c in (code_a, code_b) if view.concept(c) is None]
    if unknown:
        message = f"Code '{unknown[0]}' is not in CodeSystem {view.url}"
        raise TerminologyError(message, [Issue("error", "code-invalid", message)])
    if code_a == code_b:
        outcome = "equivalent"
    elif view.subsumes(code_a, code_b):
        outcome = "subsumes"
    elif view.subsumes(code_b, code_a):
        outcome = "subsumed-by"
    else:
        outcome = "not-subsumed"
    return parameters([part("outcome", "valueCode", outcome)])
