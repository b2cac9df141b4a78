"""Errors that carry their FHIR meaning: HTTP status, OperationOutcome issue code, message.

One handler in ``app.py`` renders every ``FhirError`` as an OperationOutcome
(http://hl7.org/fhir/R4/operationoutcome.html, issue codes from
http://hl7.org/fhir/R4/valueset-issue-type.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "Issue", "FhirError", "BadRequest", "NotFound", "Gone", "MethodNotAllowed", "Conflict",
    "PreconditionFailed", "Unprocessable", "UnsupportedMediaType", "PayloadTooLarge",
    "NotAcceptable", "NotSupported", "ServerError", "Unavailable", "OutcomeUnknown", "Forbidden", "Unauthorized",
    "operation_outcome",
]


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue."""

    severity: str  # fatal | error | warning | information
    code: str  # IssueType code, e.g. invalid, structure, required, value, invariant
    diagnostics: str
    expression: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity, "code": self.code, "diagnostics": self.diagnostics}
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: list[Issue] | tuple[Issue, ...]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_json() for i in issues]}


class FhirError(Exception):
    """Base error: subclasses fix ``status`` and the default issue ``code``."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "exception"

    def __init__(self, message: str, issues: list[Issue] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues or [Issue("error", self.code, message)]
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)


class BadRequest(FhirError):
    status, code = 400, "invalid"


class Unauthorized(FhirError):
    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotFound(FhirError):
    status, code = 404, "not-found"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Conflict(FhirError):
    status, code = 409, "conflict"


class Gone(FhirError):
    status, code = 410, "deleted"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class PayloadTooLarge(FhirError):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class Unprocessable(FhirError):
    status, code = 422, "processing"


class ServerError(FhirError):
    status, code = 500, "exception"


class NotSupported(FhirError):
    status, code = 501, "not-supported"


class Unavailable(FhirError):
    """The request could not be carried out now (contention, a lost database connection):
    a client may try again after ``Retry-After`` seconds."""

    status, code = 503, "transient"


class OutcomeUnknown(Unavailable):
    """The database connection was lost while a write was being committed: it may or may not
    have been stored, so it must not be repeated blindly (nor by the server itself)."""
