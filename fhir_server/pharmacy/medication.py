"""Is a dispense of the medication prescribed? http://hl7.org/fhir/R4/medicationdispense-definitions.html#MedicationDispense.substitution

The same Medication reference, or medications sharing a code (a Medication's ``code`` stands for
a ``medicationReference``, so a lot-specific Medication matches the RxNorm concept prescribed).
Another medication is refused unless ``substitution.wasSubstituted`` is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from .records import coded, live, reference_of
from .refusals import refused

__all__ = ["check_same_medication", "medication_id"]


def medication_id(resource: Mapping[str, Any]) -> str | None:
    ref = reference_of(resource.get("medicationReference"), "Medication")
    return ref[1] if ref else None


async def _codes(conn: AsyncConnection[Any], resource: Mapping[str, Any]) -> tuple[str | None, set[tuple[str, str]]]:
    mid = medication_id(resource)
    if mid is None:
        return None, coded(resource.get("medicationCodeableConcept"))
    medication = await live(conn, "Medication", mid)
    return mid, coded((medication or {}).get("code"))


async def check_same_medication(conn: AsyncConnection[Any], dispense: Mapping[str, Any],
                                request: Mapping[str, Any], request_id: str) -> None:
    if (dispense.get("substitution") or {}).get("wasSubstituted") is True:
        return
    given_id, given = await _codes(conn, dispense)
    prescribed_id, prescribed = await _codes(conn, request)
    if given_id is not None and given_id == prescribed_id:
        return
    if given & prescribed:
        return
    raise refused("same-medication", f"The dispensed medication is not the one MedicationRequest/{request_id} "
                  "prescribes; record substitution.wasSubstituted = true for a substitution")
