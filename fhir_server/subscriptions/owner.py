"""The creating token's access, stored with the subscription so notifications are filtered by it.

A notification carries only what the owner could read: the matcher runs the criteria with the
owner's Policy predicate (the same SQL a search by that token gets), so a version the owner's scopes
or patient context cannot read is never an event for that subscription. The scopes are those of the
token that last wrote the Subscription; a later narrowing of the client's registration is not seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..smart_auth.context import DEV_CONTEXT, AccessContext
from ..smart_auth.policy import Policy
from ..smart_auth.scopes import parse_scopes

__all__ = ["owner_json", "owner_policy"]


def owner_json(policy: Policy | None) -> dict[str, Any]:
    if policy is None or policy.access.scopes.unrestricted:
        return {"unrestricted": True}  # auth off, or the operator (`fhir-server load`)
    access = policy.access
    return {"scopes": access.scopes.to_list(), "client_id": access.client_id, "user": access.user,
            "patient": access.patient, "encounter": access.encounter, "kind": access.kind}


def owner_policy(data: Mapping[str, Any], base: str = "") -> Policy:
    if data.get("unrestricted"):
        return Policy(DEV_CONTEXT, base)
    access = AccessContext(data.get("client_id"), data.get("user"), data.get("patient"), data.get("encounter"),
                           parse_scopes(list(data.get("scopes") or [])), str(data.get("kind") or "user"))
    return Policy(access, base)
