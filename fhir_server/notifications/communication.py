"""Every message sent (or tried) is recorded as a Communication (http://hl7.org/fhir/R4/communication.html):
status completed or not-done (statusReason: why), basedOn the Subscription, the message text as payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["communication"]


def communication(based_on: str, medium: str, text: str, failure: str | None, language: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Communication", "language": language, "status": "not-done" if failure else "completed",
        "basedOn": [{"reference": based_on}],
        "medium": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode",
                                "code": medium}]}],
        "payload": [{"contentString": text}]}
    if failure:
        resource["statusReason"] = {"text": failure}
    else:
        resource["sent"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return resource
