"""Browser security of the app's pages: a strict Content-Security-Policy (no inline script or
style: every script is a same-origin file), no framing, no caching of pages, and CSRF tokens.

CSRF: the double-submit pattern signed with a server secret (OWASP CSRF Prevention Cheat Sheet,
"Signed Double-Submit Cookie"): a random HttpOnly cookie, and in every form the HMAC of it; a
POST whose token does not match the cookie's HMAC is refused (403) before anything changes.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from ..smart_auth.hashing import random_token

__all__ = ["PAGE_HEADERS", "CSP", "CSRF_COOKIE", "csrf_token", "csrf_ok", "ensure_csrf_cookie", "cookie_secure"]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none';"
       " base-uri 'none'; object-src 'none'; form-action 'self'")
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}
CSRF_COOKIE = "fhir_app_csrf"


def cookie_secure(request: Request) -> bool:
    return bool(request.app.state.settings.public_base.startswith("https://"))


def _key(request: Request) -> bytes:
    return bytes(request.app.state.webapp.secret.encode())


def browser_value(request: Request) -> str:
    """This browser's CSRF cookie value, or a fresh one (set on the response by ``ensure_csrf_cookie``)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not value:
        value = random_token()
        request.state.new_csrf = value
    return str(value)


def csrf_token(request: Request) -> str:
    return hmac.new(_key(request), browser_value(request).encode(), hashlib.sha256).hexdigest()


def csrf_ok(request: Request, token: str) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not token:
        return False
    expected = hmac.new(_key(request), cookie.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, token)


def ensure_csrf_cookie(request: Request, response: Response) -> None:
    fresh = getattr(request.state, "new_csrf", None)
    if fresh:
        response.set_cookie(CSRF_COOKIE, fresh, path="/app", httponly=True, samesite="lax",
                            secure=cookie_secure(request))
