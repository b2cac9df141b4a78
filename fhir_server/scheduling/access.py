"""Who the scheduling administrator is (SMART App Launch 2.2 scopes,
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html).

An administrator manages every Schedule, Slot and Appointment and may record bookings in the
past (back-filling): a backend service holding a ``system/`` scope (client credentials), the
operator's own tools (``fhir-server load``, which writes with no request), or anyone while
authorization is off (``FHIR_AUTH=off``, development). Patients and practitioners, whose tokens
carry ``patient/`` or ``user/`` scopes, are never administrators.
"""

from __future__ import annotations

from ..smart_auth.policy import Policy

__all__ = ["is_administrator"]


def is_administrator(policy: Policy | None) -> bool:
    return policy is None or policy.open or policy.access.kind == "system"
