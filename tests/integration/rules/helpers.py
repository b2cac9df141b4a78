"""Reading the probe rules' side tables, and building probe Basics."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from .probe_rules import MARKER, SLOT_SYSTEM


def basic(code: str, *, rid: str | None = None, tag: str | None = None, slot: str | None = None,
          created: str | None = None) -> dict[str, Any]:
    """A probe Basic; ``tag`` (an identifier) lets a conditional request find it."""
    resource: dict[str, Any] = {"resourceType": "Basic", "code": {"coding": [{"system": MARKER, "code": code}]}}
    identifiers = [{"system": "urn:probe:tag", "value": tag}] if tag else []
    if slot:
        identifiers.append({"system": SLOT_SYSTEM, "value": slot})
    if identifiers:
        resource["identifier"] = identifiers
    if rid:
        resource["id"] = rid
    if created:
        resource["created"] = created
    return resource


def fresh() -> str:
    return uuid.uuid4().hex[:16]


def side_log(url: str, rid: str | None = None) -> list[tuple[Any, ...]]:
    """(rule, interaction, version_id, old_code, new_code) of each logged change, in logging order."""
    with psycopg.connect(url) as conn:
        query = "SELECT rule, interaction, version_id, old_code, new_code FROM rules_probe_side"
        if rid is None:
            return conn.execute(query + " ORDER BY seq").fetchall()
        return conn.execute(query + " WHERE resource_id = %s ORDER BY seq", (rid,)).fetchall()


def slots(url: str, slot: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT resource_id FROM rules_probe_slot WHERE slot = %s", (slot,))]


def stored_ids(url: str, tag: str) -> list[str]:
    """Ids of the live Basics carrying the probe identifier ``tag`` (straight from the resource table)."""
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT id FROM resource WHERE resource_type = 'Basic' AND NOT deleted AND version_id > 0"
            " AND content->'identifier' @> %s::jsonb ORDER BY id",
            (f'[{{"system": "urn:probe:tag", "value": "{tag}"}}]',))]


def accepted(*entries: tuple[str, int, str | None, str | None]) -> list[tuple[Any, ...]]:
    """The log of accepted writes: each (interaction, version, old code, new code) by both rules, in order."""
    return [(rule, *entry) for entry in entries for rule in ("first", "second")]
