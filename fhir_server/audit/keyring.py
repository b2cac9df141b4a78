"""The audit key: a secret kept outside the database that makes the audit trail's seals keyed.

Two HMAC-SHA256 seals (RFC 2104) use it:

- the *writer MAC* of each row (``row_mac``), computed by the server when it writes the row, over
  every audited column. A row put in with plain SQL cannot carry a valid one, so ``audit verify``
  flags it instead of sealing it as genuine;
- the *chain links* (``link``): ``HMAC(key, prev || row text || writer MAC)``. Whoever can write
  the database but does not hold the key cannot recompute the chain after altering or removing
  rows.

The key comes from ``FHIR_AUDIT_KEY`` (a string of 32 or more characters) or from a key file
(``FHIR_AUDIT_KEY_FILE``, default ``audit.key`` beside the data directory), which the server
creates on first start with mode 0600. It must be backed up apart from the database: without
it the trail can no longer be verified, and with it anybody can forge seals.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

__all__ = ["load_key", "row_mac", "link", "sign", "AuditKeyMissing", "MIN_KEY_CHARS"]

MIN_KEY_CHARS = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NUMBER = "\u0000n"  # PostgreSQL text cannot hold NUL: no stored string can pose as a number tag


class AuditKeyMissing(Exception):
    """There is no audit key where the settings say, and this caller may not create one."""


def load_key(secret: str | None, path: Path, create: bool) -> bytes:
    """The key from the setting, else from ``path`` (created with 32 random bytes when ``create``)."""
    if secret:
        if len(secret) < MIN_KEY_CHARS:
            raise ValueError(f"FHIR_AUDIT_KEY must have at least {MIN_KEY_CHARS} characters")
        return secret.encode()
    try:
        return _read(path)
    except FileNotFoundError:
        if not create:
            raise AuditKeyMissing(f"no audit key at {path} (set FHIR_AUDIT_KEY or FHIR_AUDIT_KEY_FILE)") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked into place: link() fails if the key exists, so
    # two processes starting at once agree on one key and neither reads a half-written file.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(32))
    try:
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) < 16:
        raise ValueError(f"the audit key file {path} holds fewer than 16 bytes")
    return key


def _plain(value: Any) -> Any:
    """``value`` with every number as a tagged normalised decimal: jsonb keeps ``1.50`` as written
    but gives ``1e2`` back as ``100``, so the MAC must not depend on how a number was spelled."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return [_NUMBER, str(Decimal(str(value)).normalize())]
    return value


def row_mac(key: bytes, row: tuple[Any, ...], numbers: bool = True) -> bytes:
    """The writer MAC of an audit row: (id, recorded, action, subtype, outcome, client_id, user_ref,
    patient_refs, entity_refs, request_id, content) as written or as read back. ``numbers`` False
    skips the number walk for content known to hold none (the server's own records: same MAC)."""
    rid, recorded, action, subtype, outcome, client, user, patients, entities, request_id, content = row
    text = orjson.dumps([rid, (recorded - _EPOCH) // _MICROSECOND, action, subtype, outcome, client, user,
                         list(patients), list(entities), request_id, _plain(content) if numbers else content],
                        option=orjson.OPT_SORT_KEYS)
    return hmac.digest(key, text, "sha256")


def link(key: bytes | None, prev: bytes, row_text: str, mac: bytes | None) -> bytes:
    """One chain link; ``key`` None is the unkeyed SHA-256 link of rows sealed before migration 065."""
    if key is None:
        return hashlib.sha256(prev + row_text.encode()).digest()
    return hmac.digest(key, prev + row_text.encode() + (mac or b""), "sha256")


def sign(key: bytes, text: str) -> str:
    return hmac.digest(key, text.encode(), "sha256").hex()
