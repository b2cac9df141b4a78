"""Who is billing staff, and who is a patient (SMART App Launch 2.2 scopes).

Billing staff: a backend service (``system/`` scopes), a Practitioner user (``user/`` scopes,
fhirUser a Practitioner or unnamed), the operator (``fhir-server load``: no request) or anyone
while authorization is off. A patient: a token with only ``patient/`` scopes, or a ``user/``
token whose fhirUser is a Patient or RelatedPerson. Patients never write amounts.
"""

from __future__ import annotations

from ..smart_auth.policy import Policy

__all__ = ["is_patient", "is_billing_staff"]


def is_patient(policy: Policy | None) -> bool:
    if policy is None or policy.open:
        return False
    user = policy.access.user or ""
    return policy.access.kind == "patient" or user.startswith(("Patient/", "RelatedPerson/"))


def is_billing_staff(policy: Policy | None) -> bool:
    return policy is None or policy.open or (policy.access.kind in ("system", "user", "dev")
                                             and not is_patient(policy))
