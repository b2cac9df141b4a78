"""A write-rule module for the tests (named by FHIR_RULE_MODULES / Settings.rule_modules).

It acts only on Basic resources coded in ``MARKER`` (other Basics pass untouched):
- rule ``second`` (order 20, registered first) and rule ``first`` (order 10) each log the
  change in ``rules_probe_side``, so the log shows the order they ran in;
- ``first`` then refuses (422 business-rule) a version coded ``refuse`` and the deletion of
  one coded ``keep`` -- after writing its log row, so a refusal proves that rule writes roll back;
- ``second`` claims, when the resource comes into being, its ``urn:probe:slot`` identifier in
  a table with a unique key and its ``created`` day in a table with an exclusion constraint:
  a second claim is 409 with the message declared for the constraint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from psycopg import AsyncConnection

from fhir_server.errors import FhirError
from fhir_server.rules import Change, register

MARKER = "urn:fhir-server:test:rules"
SLOT_SYSTEM = "urn:probe:slot"
SLOT_TAKEN = "probe slot is already taken"
DAY_TAKEN = "probe day is already booked"

SIDE_TABLES = """
CREATE TABLE IF NOT EXISTS rules_probe_side (
  seq bigserial PRIMARY KEY, rule text NOT NULL, interaction text NOT NULL, resource_id text NOT NULL,
  version_id integer NOT NULL, old_code text, new_code text, new_id text);
CREATE TABLE IF NOT EXISTS rules_probe_slot (
  slot text CONSTRAINT rules_probe_slot_taken PRIMARY KEY, resource_id text NOT NULL);
CREATE TABLE IF NOT EXISTS rules_probe_busy (
  resource_id text NOT NULL, during daterange NOT NULL,
  CONSTRAINT rules_probe_busy_overlap EXCLUDE USING gist (during WITH &&));
"""


class ProbeRefusal(FhirError):
    status, code = 422, "business-rule"


def probe_code(resource: Mapping[str, Any] | None) -> str | None:
    """The MARKER code of a Basic, or None when it is not one of ours."""
    if resource is None:
        return None
    for coding in (resource.get("code") or {}).get("coding") or []:
        if coding.get("system") == MARKER:
            return str(coding.get("code"))
    return None


def _ours(change: Change) -> bool:
    return probe_code(change.old) is not None or probe_code(change.new) is not None


async def _log(conn: AsyncConnection[Any], rule: str, change: Change) -> None:
    await conn.execute(
        "INSERT INTO rules_probe_side (rule, interaction, resource_id, version_id, old_code, new_code, new_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (rule, change.interaction, change.id, change.version_id, probe_code(change.old), probe_code(change.new),
         change.new.get("id") if change.new else None))


async def second(conn: AsyncConnection[Any], change: Change) -> None:
    if not _ours(change):
        return
    await _log(conn, "second", change)
    if change.new is None or change.old is not None:
        return  # claims are made once, when the resource comes into being
    for identifier in change.new.get("identifier") or []:
        if identifier.get("system") == SLOT_SYSTEM:
            await conn.execute("INSERT INTO rules_probe_slot (slot, resource_id) VALUES (%s, %s)",
                               (identifier.get("value"), change.id))
    if "created" in change.new:
        await conn.execute("INSERT INTO rules_probe_busy (resource_id, during)"
                           " VALUES (%s, daterange(%s::date, %s::date, '[]'))",
                           (change.id, change.new["created"], change.new["created"]))


async def first(conn: AsyncConnection[Any], change: Change) -> None:
    if not _ours(change):
        return
    await _log(conn, "first", change)
    if probe_code(change.new) == "refuse":
        raise ProbeRefusal(f"Probe rule refuses Basic/{change.id}: code 'refuse' ({change.interaction})")
    if change.interaction == "delete" and probe_code(change.old) == "keep":
        raise ProbeRefusal(f"Probe rule: Basic/{change.id} is kept and may not be deleted")


# Registered out of order on purpose: the order, not the registration sequence, decides.
register("Basic", second, order=20, conflicts={"rules_probe_slot_taken": SLOT_TAKEN,
                                               "rules_probe_busy_overlap": DAY_TAKEN})
register("Basic", first, order=10)
