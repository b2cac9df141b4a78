"""Terminology errors, each an OperationOutcome with its FHIR issue code
(http://hl7.org/fhir/R4/valueset-issue-type.html): an unknown value set or code system is
``not-found`` (404), a definition that cannot be evaluated here is ``not-supported`` or
``processing`` (422), an expansion over the configured size is ``too-costly`` (422).
"""

from __future__ import annotations

from ..errors import BadRequest, NotFound, Unprocessable

__all__ = ["TerminologyError", "UnknownValueSet", "UnknownCodeSystem", "CannotExpand", "TooCostly",
           "InvalidParameters"]


class TerminologyError(Unprocessable):
    """A definition the engine cannot evaluate (422)."""


class CannotExpand(TerminologyError):
    code = "not-supported"


class TooCostly(TerminologyError):
    code = "too-costly"


class UnknownValueSet(NotFound):
    pass


class UnknownCodeSystem(NotFound):
    pass


class InvalidParameters(BadRequest):
    pass
