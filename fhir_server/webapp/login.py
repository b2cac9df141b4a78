"""Sign-in, sign-out and the session guard of the app.

Sign-in is the server's own SMART standalone launch (authorization code + PKCE S256, a
confidential client): /app/login parks a state and verifier in a new session and sends the
browser to /auth/authorize; /app/callback exchanges the code (in-process, client_secret_basic)
and keeps the tokens server-side. Sign-out revokes the access and refresh tokens (RFC 7009)
before the session is dropped. An expired session sends the user to sign in and then back to
the page they asked for (an /app/ path, never another site's).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..smart_auth.hashing import random_token
from ..smart_auth.patient_card import display_name
from . import sessions
from .fhir_api import api, oauth
from .registration import SCOPE
from .security import cookie_secure

__all__ = ["SESSION_COOKIE", "begin", "callback", "logout", "signed_in", "to_login", "safe_return"]

SESSION_COOKIE = "fhir_app_session"


def safe_return(path: str | None) -> str:
    """An app path to come back to; anything else (another site, ``//host``) is the start page."""
    if path and path.startswith("/app/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/app/"


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


def _set_session(request: Request, response: Response, session_id: str, max_age: int) -> Response:
    response.set_cookie(SESSION_COOKIE, session_id, max_age=max_age, path="/app", httponly=True, samesite="lax",
                        secure=cookie_secure(request))
    return response


def to_login(request: Request) -> RedirectResponse:
    """Back to sign-in, then to this page (a GET) or the start page."""
    here = request.url.path if request.method == "GET" else "/app/"
    return _see_other(f"/app/login?{urlencode({'next': here})}")


async def begin(request: Request) -> Response:
    client = request.app.state.webapp
    state, verifier = random_token(16), random_token(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    session_id = await sessions.start_login(request.app.state.db, state, verifier,
                                            safe_return(request.query_params.get("next")))
    query = urlencode({"response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
                       "scope": SCOPE, "state": state, "aud": request.app.state.settings.public_base,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    return _set_session(request, _see_other(f"{client.root}/auth/authorize?{query}"), session_id,
                        sessions.LOGIN_MINUTES * 60)


def _claims(id_token: str | None) -> dict[str, Any]:
    """The id_token's claims. It came straight from our token endpoint in-process, so (OpenID
    Connect Core 3.1.3.7) its signature needs no check here; it only names the user."""
    if not id_token or id_token.count(".") != 2:
        return {}
    payload = id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


async def _display(request: Request, token: str, fhir_user: str | None) -> str:
    if not fhir_user:
        return ""
    path = fhir_user.split("/fhir/", 1)[-1]
    answer = await api(request, token, "GET", path)
    return display_name(answer.json()) if answer.status_code == 200 else ""


async def callback(request: Request) -> tuple[Response | None, str | None]:
    """(response, None) when signed in, (None, reason) when the sign-in failed or was refused."""
    params, db = request.query_params, request.app.state.db
    if params.get("error"):
        return None, str(params.get("error"))
    old = request.cookies.get(SESSION_COOKIE, "")
    pending = await sessions.pending_login(db, old, str(params.get("state") or "")) if old else None
    if pending is None or not params.get("code"):
        return None, "expired"
    verifier, return_to = pending
    answer = await oauth(request, "token", {"grant_type": "authorization_code", "code": str(params["code"]),
                                            "redirect_uri": request.app.state.webapp.redirect_uri,
                                            "code_verifier": verifier})
    if answer.status_code != 200:
        return None, str(answer.json().get("error", "refused"))
    token = answer.json()
    fhir_user = _claims(token.get("id_token")).get("fhirUser")
    display = await _display(request, token["access_token"], fhir_user)
    expires_in = int(token.get("expires_in", 3600))
    fresh = await sessions.sign_in(db, old, access_token=token["access_token"],
                                   refresh_token=token.get("refresh_token"), expires_in=expires_in,
                                   fhir_user=fhir_user, patient=token.get("patient"), display=display)
    if fresh is None:
        return None, "expired"
    return _set_session(request, _see_other(return_to), fresh, expires_in), None


async def signed_in(request: Request) -> sessions.Session | None:
    return await sessions.current(request.app.state.db, request.cookies.get(SESSION_COOKIE, ""))


async def logout(request: Request) -> Response:
    """Revoke the tokens at the authorization server, then forget the session."""
    session = await signed_in(request)
    if session is not None:
        await oauth(request, "revoke", {"token": session.access_token, "token_type_hint": "access_token"})
        if session.refresh_token:
            await oauth(request, "revoke", {"token": session.refresh_token, "token_type_hint": "refresh_token"})
        await sessions.end(request.app.state.db, session.id)
    response = _see_other("/app/?signed_out=1")
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response
