"""E-mail verification tokens: ``<patient id>.<expiry epoch>.<HMAC-SHA256>`` (URL-safe).

Signed with a 256-bit key kept in ``smart_secret`` ('email-verify'), shared by every server
process. The token names the account's Patient id, never the e-mail address or a name, so
the link can be logged (until a mail channel exists) without PHI. Expiry:
``FHIR_REGISTER_VERIFY_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["sign", "check"]


def _mac(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign(key: bytes, patient_id: str, lifetime: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + lifetime)
    message = f"{patient_id}.{expires}"
    return f"{message}.{_mac(key, message)}"


def check(key: bytes, token: str, now: float | None = None) -> str | None:
    """The Patient id of a valid, unexpired token; None otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    patient_id, expires, mac = parts
    if not hmac.compare_digest(mac, _mac(key, f"{patient_id}.{expires}")):
        return None
    return patient_id if int(expires) > (now or time.time()) else None
