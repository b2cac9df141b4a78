"""Roles as data: which SMART scopes a user's roles let them be granted (migration 090).

A role's policy is rows of ``account_role_scope``: the scopes (SMART v2 syntax, granular
filters allowed) a user holding that role may be granted. At sign-in the scopes on offer
(already requested ∩ client's) are intersected with the union of the user's roles' caps
(``cap_scopes``), so the token carries only what the role allows and the existing scope
predicates (``policy.py``) enforce it: no per-request cost. A user without any role is
not capped (accounts created before roles existed). Identity and launch scopes are not
resource access and pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from psycopg import AsyncConnection

from ..db import Database
from .scopes import INTERACTIONS, ResourceScope, parse_scope, scope_covers

__all__ = ["cap_scopes", "user_caps", "user_roles", "known_roles", "set_roles", "role_scopes", "revoke_user_grants"]


def _query_text(scope: ResourceScope) -> str:
    return scope.text.split("?", 1)[1] if "?" in scope.text else ""


def _meet(requested: ResourceScope, cap: ResourceScope) -> str | None:
    """The scope text allowing what both allow, or None when they share nothing."""
    if requested.context != cap.context:
        return None
    if scope_covers(cap, requested):
        return requested.text  # nothing to take away: keep the client's own wording
    if "*" not in (requested.resource_type, cap.resource_type) and requested.resource_type != cap.resource_type:
        return None
    letters = "".join(c for c in INTERACTIONS if c in requested.interactions & cap.interactions)
    if not letters:
        return None
    rtype = cap.resource_type if requested.resource_type == "*" else requested.resource_type
    # Both filters must hold: their parameters are ANDed (one granular scope's query is an AND-list).
    query = "&".join(dict.fromkeys(q for q in (_query_text(requested), _query_text(cap)) if q))
    return f"{requested.context}/{rtype}.{letters}" + (f"?{query}" if query else "")


def cap_scopes(offered: Iterable[str], caps: Iterable[str]) -> list[str]:
    """``offered`` ∩ ``caps``: identity scopes unchanged, each resource scope cut to what a cap allows."""
    cap_list = [p for p in (parse_scope(c) for c in caps) if p is not None]
    out: list[str] = []
    for item in dict.fromkeys(offered):
        parsed = parse_scope(item)
        if parsed is None:
            out.append(item)
            continue
        out.extend(m for cap in cap_list if (m := _meet(parsed, cap)) is not None)
    return _without_redundant(list(dict.fromkeys(out)))


def _without_redundant(scopes: list[str]) -> list[str]:
    """Drop a resource scope another one in the list already covers (``user/*.rs`` covers ``user/Patient.rs``)."""
    parsed = {s: parse_scope(s) for s in scopes}
    kept = []
    for text, scope in parsed.items():
        others = (p for t, p in parsed.items() if t != text and p is not None)
        if scope is not None and any(scope_covers(o, scope) and not scope_covers(scope, o) for o in others):
            continue
        kept.append(text)
    return kept


async def user_caps(db: Database, username: str) -> list[str] | None:
    """The scopes ``username``'s roles allow; None when the user has no role (not capped)."""
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT r.role, s.scope FROM smart_user_role r LEFT JOIN account_role_scope s ON s.role = r.role"
            " WHERE r.username = %s ORDER BY r.role, s.scope", (username,))
        rows = await cur.fetchall()
    if not rows:
        return None
    return [row[1] for row in rows if row[1] is not None]


async def user_roles(db: Database, username: str) -> list[str]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT role FROM smart_user_role WHERE username = %s ORDER BY role", (username,))
        return [row[0] for row in await cur.fetchall()]


async def known_roles(db: Database) -> list[str]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT name FROM account_role ORDER BY name")
        return [row[0] for row in await cur.fetchall()]


async def role_scopes(db: Database) -> dict[str, list[str]]:
    async with db.connection() as conn:
        cur = await conn.execute("SELECT role, scope FROM account_role_scope ORDER BY role, scope")
        out: dict[str, list[str]] = {}
        for role, scope in await cur.fetchall():
            out.setdefault(role, []).append(scope)
    return out


async def set_roles(db: Database, username: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """Add and remove roles of a user in one transaction; returns the roles now held.

    Removing a role revokes the user's grants: tokens issued under the wider cap stop working.
    """
    add, remove = list(add), list(remove)
    async with db.transaction() as conn:
        if add:
            await conn.execute(
                "INSERT INTO smart_user_role (username, role) SELECT %s, r FROM unnest(%s::text[]) AS r"
                " ON CONFLICT DO NOTHING", (username, add))
        if remove:
            cur = await conn.execute("DELETE FROM smart_user_role WHERE username = %s AND role = ANY(%s)",
                                     (username, remove))
            if cur.rowcount:
                await revoke_user_grants(conn, username)
        cur = await conn.execute("SELECT role FROM smart_user_role WHERE username = %s ORDER BY role", (username,))
        return [row[0] for row in await cur.fetchall()]


async def revoke_user_grants(conn: AsyncConnection[Any], username: str) -> None:
    """Revoke every grant of ``username`` and its tokens (in the caller's transaction)."""
    await conn.execute(
        "WITH g AS (UPDATE smart_grant SET revoked_at = now() WHERE username = %s AND revoked_at IS NULL"
        " RETURNING id), a AS (UPDATE smart_access_token SET revoked_at = now()"
        " WHERE grant_id IN (SELECT id FROM g) AND revoked_at IS NULL)"
        " UPDATE smart_refresh_token SET revoked_at = now() WHERE grant_id IN (SELECT id FROM g)"
        " AND revoked_at IS NULL", (username,))
