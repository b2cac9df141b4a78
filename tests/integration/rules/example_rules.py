"""The docs/rules.md example, as hospital/rules.py would hold it (FHIR_RULE_MODULES=hospital.rules)."""
from fhir_server.errors import FhirError
from fhir_server.rules import Change, register


class Protected(FhirError):
    status, code = 409, "business-rule"


def _coded(resource, system, code):
    return any(c.get("system") == system and c.get("code") == code
               for c in ((resource or {}).get("code") or {}).get("coding") or [])


async def protect(conn, change: Change) -> None:
    if change.interaction == "delete" and _coded(change.old, "urn:example", "protected"):
        raise Protected(f"Basic/{change.id} is protected and may not be deleted")


async def claim_slot(conn, change: Change) -> None:
    if change.new is None or change.old is not None:
        return  # claimed once, when the resource comes into being
    for identifier in change.new.get("identifier") or []:
        if identifier.get("system") == "urn:example:slot":
            await conn.execute("INSERT INTO example_slot (slot, resource_id) VALUES (%s, %s)",
                               (identifier.get("value"), change.id))


register("Basic", protect, order=10)
register("Basic", claim_slot, order=20, conflicts={"example_slot_taken": "This slot is already taken"})
