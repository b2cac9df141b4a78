"""Secrets at rest: argon2id for passwords, SHA-256 for high-entropy random secrets.

Passwords are low-entropy, so they get a memory-hard KDF (argon2id, RFC 9106,
https://www.rfc-editor.org/rfc/rfc9106). Client secrets, codes, refresh tokens, launch
and pending ids are 256-bit random values we generate: guessing is infeasible, so a fast
SHA-256 digest is enough and keeps the token endpoint fast (the OWASP guidance for
random API keys).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "verify_password", "digest", "digest_matches", "random_token", "dummy_hash"]

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" defaults


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths cost one argon2 run (no
    user enumeration by timing). Made on first use: an argon2 run at import cost every
    command-line start ~150 ms."""
    return _hasher.hash(secrets.token_urlsafe(16))


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def digest_matches(stored: str, value: str) -> bool:
    return hmac.compare_digest(stored, digest(value))


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def argv_safe(identifier: str) -> str:
    """``identifier`` made safe to pass as a command-line argument.

    One base64url value in 64 starts with '-', which argparse (and most shells' tools) read as an
    option: ``fhir-server keys retire -Xy..`` would fail with "argument required". Such a value gets
    a leading '_' instead; every other value is returned unchanged.
    """
    return "_" + identifier if identifier.startswith("-") else identifier
