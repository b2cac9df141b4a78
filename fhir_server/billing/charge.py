"""Encounter/[id]/$charge: the charge of a finished Encounter (billing staff).

The rule (issue 16: ChargeItems from clinical events): a ``finished`` Encounter is charged once,
with one ChargeItem (status billable, ``context`` = the Encounter, ``subject`` = its patient,
``occurrencePeriod`` = its period) coded and priced by the active ChargeItemDefinition matching
one of ``Encounter.type``'s codings (``definitionCanonical`` set, ``priceOverride`` = the base
price), on the Account given (Parameters ``account`` valueReference) or else the patient's one
active Account. The Encounter row is locked, so concurrent calls charge it once (a second: 409).
An explicit operation rather than a write rule on Encounter: the admissions package owns the
Encounter status rule, and a charge needs an Account the Encounter write does not name.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import Conflict, Unprocessable
from ..resources import repository
from ..scheduling.writes import Writes, content
from .money import money
from .pricing import definition_for_code, unit_price

__all__ = ["charge_encounter", "CAPABILITY_ENTRY"]

CAPABILITY_ENTRY = {"name": "charge", "definition": "http://fhir-server.example.org/OperationDefinition/Encounter-charge"}

_CHARGED = ("SELECT id FROM resource WHERE resource_type = 'ChargeItem' AND version_id > 0 AND NOT deleted"
            " AND content->'context'->>'reference' = %s LIMIT 1")
_ACCOUNTS = ("SELECT id FROM resource WHERE resource_type = 'Account' AND version_id > 0 AND NOT deleted"
             " AND content->>'status' = 'active' AND content->'subject' @> %s::jsonb ORDER BY id LIMIT 2")


async def _account(writes: Writes, patient: str, given: str | None) -> str:
    if given:
        kind, _, rid = given.partition("/")
        if kind != "Account" or not rid:
            raise Unprocessable(f"account {given!r} is not an Account/[id] reference")
        await writes.policy.check_visible(writes.conn, "Account", rid, "r")
        await repository.read(writes.conn, "Account", rid)
        return rid
    probe = orjson.dumps([{"reference": patient}]).decode()
    rows = await (await writes.conn.execute(_ACCOUNTS, (probe,))).fetchall()
    if len(rows) != 1:
        raise Unprocessable(f"{patient} has {'no' if not rows else 'more than one'} active Account: name one "
                            "with the parameter account")
    return str(rows[0][0])


async def charge_encounter(writes: Writes, encounter_id: str, account: str | None) -> dict[str, Any]:
    await writes.policy.check_visible(writes.conn, "Encounter", encounter_id, "r")
    encounter = content(await repository.read(writes.conn, "Encounter", encounter_id, for_update=True))
    if encounter.get("status") != "finished":
        raise Unprocessable(f"Encounter/{encounter_id} is {encounter.get('status')}: only a finished Encounter "
                            "is charged")
    if await (await writes.conn.execute(_CHARGED, (f"Encounter/{encounter_id}",))).fetchone() is not None:
        raise Conflict(f"Encounter/{encounter_id} is already charged")
    patient = str((encounter.get("subject") or {}).get("reference") or "")
    if not patient.startswith("Patient/"):
        raise Unprocessable(f"Encounter/{encounter_id} has no patient subject")
    definition = None
    for code in encounter.get("type") or []:
        definition = definition or await definition_for_code(writes.conn, code)
    if definition is None:
        raise Unprocessable(f"Encounter/{encounter_id}: no active ChargeItemDefinition matches its type")
    value, currency = unit_price(definition)
    charge: dict[str, Any] = {
        "resourceType": "ChargeItem", "status": "billable", "code": definition["code"],
        "subject": {"reference": patient}, "context": {"reference": f"Encounter/{encounter_id}"},
        "quantity": {"value": 1}, "priceOverride": money(value, currency),
        "account": [{"reference": f"Account/{await _account(writes, patient, account)}"}]}
    if definition.get("url"):
        charge["definitionCanonical"] = [definition["url"]]
    if encounter.get("period"):
        charge["occurrencePeriod"] = encounter["period"]
    return await writes.create("ChargeItem", charge)
