"""Sign-in throttling and account lockout, kept in PostgreSQL so every server process shares it.

OWASP Authentication Cheat Sheet, "Protect against automated attacks"
(https://cheatsheetseries.owasp.org/cheatsheets/Authentication_Cheat_Sheet.html), and NIST SP
800-63B section 5.2.2 (rate limiting). Two keys are counted per attempt: the account
(``user:<name>``, known or not, so unknown names are no cheaper to try) and the client address
(``addr:<ip>``, as the server sees it: behind a proxy, the proxy's).

- An attempt is *reserved* before the password is checked, by one atomic upsert of both keys:
  concurrent guesses cannot all slip past the limit (no check-then-insert in Python). A key
  with more than its limit of attempts in the current window (``login_max_failures`` per
  account, ``login_address_max_failures`` per address, ``login_window_seconds``) is refused
  with 429 and ``Retry-After`` until the window ends; the password is then not checked at all.
- A wrong password adds one to the account's consecutive failures; at
  ``login_lockout_failures`` the account is locked (423) until ``fhir-server user unlock NAME``.
  Only checked passwords count, so an attacker cannot lock an account faster than the
  window lets them guess. A success clears the account's counters and gives the address its
  reservation back.
- Each failed sign-in waits ``login_failure_delay`` seconds before it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..db import Database

__all__ = ["LoginLimits", "Refusal", "reserve_attempt", "record_failure", "record_success", "unlock"]

_MAX_KEY = 256
_RESERVE = (
    "INSERT INTO smart_login_throttle AS t (key, window_start, window_failures)"
    " SELECT k, now(), 1 FROM unnest(%(keys)s::text[]) AS k ORDER BY k"
    " ON CONFLICT (key) DO UPDATE SET"
    " window_start = CASE WHEN t.window_start <= now() - %(window)s THEN now() ELSE t.window_start END,"
    " window_failures = CASE WHEN t.window_start <= now() - %(window)s THEN 1 ELSE t.window_failures + 1 END"
    " RETURNING key, window_failures, locked_at IS NOT NULL,"
    " ceil(extract(epoch FROM window_start + %(window)s - now()))::int")


@dataclass(frozen=True)
class LoginLimits:
    max_failures: int = 5
    address_max_failures: int = 50
    window_seconds: int = 900
    lockout_failures: int = 20
    failure_delay: float = 1.0

    @classmethod
    def from_settings(cls, settings: Any) -> LoginLimits:
        return cls(settings.login_max_failures, settings.login_address_max_failures, settings.login_window_seconds,
                   settings.login_lockout_failures, settings.login_failure_delay)


@dataclass(frozen=True)
class Refusal:
    status: int  # 429 throttled, 423 locked
    message: str
    retry_after: int | None = None


def _account(username: str) -> str:
    return f"user:{username[:_MAX_KEY]}"


def _address(address: str | None) -> str:
    return f"addr:{(address or 'unknown')[:_MAX_KEY]}"


async def reserve_attempt(db: Database, limits: LoginLimits, username: str, address: str | None) -> Refusal | None:
    """Count this attempt for the account and the address; a Refusal when either is over its limit."""
    account = _account(username)
    window = timedelta(seconds=limits.window_seconds)
    async with db.transaction() as conn:
        cur = await conn.execute(_RESERVE, {"keys": [account, _address(address)], "window": window})
        rows = {row[0]: row[1:] for row in await cur.fetchall()}
    if rows[account][1]:
        return Refusal(423, "This account is locked after repeated failed sign-ins. An administrator can unlock it.")
    for key, limit in ((account, limits.max_failures), (_address(address), limits.address_max_failures)):
        count, _, left = rows[key]
        if count > limit:
            what = "for this account" if key == account else "from your network address"
            wait = max(int(left), 1)
            return Refusal(429, f"Too many failed sign-ins {what}. Try again in {wait} seconds.", wait)
    return None


async def record_failure(db: Database, limits: LoginLimits, username: str) -> bool:
    """A checked, wrong password; True when it locked the account."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            "UPDATE smart_login_throttle SET consecutive = consecutive + 1, locked_at = CASE"
            " WHEN %s > 0 AND consecutive + 1 >= %s THEN coalesce(locked_at, now()) ELSE locked_at END"
            " WHERE key = %s RETURNING locked_at IS NOT NULL",
            (limits.lockout_failures, limits.lockout_failures, _account(username)))
        row = await cur.fetchone()
    return bool(row and row[0])


async def record_success(db: Database, username: str, address: str | None) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM smart_login_throttle WHERE key = %s AND locked_at IS NULL",
                           (_account(username),))
        await conn.execute("UPDATE smart_login_throttle SET window_failures = greatest(window_failures - 1, 0)"
                           " WHERE key = %s", (_address(address),))


async def unlock(db: Database, username: str) -> bool:
    """Clear an account's lockout and counters (``fhir-server user unlock``); False if it was not locked."""
    async with db.transaction() as conn:
        cur = await conn.execute("DELETE FROM smart_login_throttle WHERE key = %s RETURNING locked_at IS NOT NULL",
                                 (_account(username),))
        row = await cur.fetchone()
    return bool(row and row[0])
