"""Self-registration over HTTP: GET /register (the page), POST /register (the form, or JSON),
GET /register/verify?token=... (the e-mail link).

The form is CSRF-protected like the sign-in pages: a random cookie (``fhir_register``,
HttpOnly, SameSite=Strict, Path=/register) and a hidden field holding its HMAC under the
server's CSRF key; a POST whose pair does not match is refused (403). The JSON variant needs
``Content-Type: application/json``, which no cross-site form can send (and /register answers
no CORS preflight). Each attempt counts against the address's registration limit (429 with
Retry-After). The verification link is logged (no PHI: it names a Patient id) until a mail
channel exists. Every outcome is audited (subtype ``register`` / ``register-verify``).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.trail import AuditEventDraft
from ..errors import BadRequest, FhirError, PayloadTooLarge
from ..request_id import current_request_id
from ..smart_auth.hashing import random_token
from ..smart_auth.pages import Look, render_page
from ..smart_auth.service import smart_of
from ..smart_auth.storage import server_secret
from . import register_limit, verification
from .password_policy import POLICY_TEXT
from .registration import Registration, register, verify_account

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter()
COOKIE = "fhir_register"
STYLE = "/auth/style.css"


def _look(request: Request) -> Look:
    """The authorization pages' frame and branding (the hospital's name and logo)."""
    smart = smart_of(request)
    return Look(STYLE, smart.hospital, "/auth/logo" if smart.logo else None)
MAX_BODY = 16 * 1024
FIELDS = ("given", "family", "birth_date", "email", "phone")


class TooManyRequests(FhirError):
    status, code = 429, "throttled"


@cache
def _template() -> Template:
    return Template((Path(__file__).parent / "pages" / "register.html").read_text(encoding="utf-8"))


def _csrf(request: Request, cookie: str) -> str:
    key = smart_of(request).csrf_key
    return hmac.new(key, f"register|{cookie}".encode(), hashlib.sha256).hexdigest()


def _page(request: Request, values: dict[str, str], error: str = "", status: int = 200) -> Response:
    cookie = random_token()  # a fresh pair on every rendering
    body = _template().substitute(
        csrf=_csrf(request, cookie), policy=html.escape(f"Password: {POLICY_TEXT}."),
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        **{name: html.escape(values.get(name, "")) for name in FIELDS})
    response = render_page("Register", body, _look(request), status)
    response.set_cookie(COOKIE, cookie, max_age=3600, path="/register", httponly=True, samesite="strict",
                        secure=smart_of(request).secure_cookies)
    return response


def _audit(request: Request, step: str, ok: bool, detail: str, patient: str | None = None) -> None:
    trail = getattr(request.app.state, "audit", None)
    if trail is not None:
        trail.record_later(AuditEventDraft(
            subtype=step, outcome="0" if ok else "4", outcome_desc=detail, user_ref=patient,
            patients={patient} if patient else set(), request_id=current_request_id(),
            address=request.client.host if request.client else None))


@router.get("/register")
async def register_page(request: Request) -> Response:
    return _page(request, {})


async def _fields(request: Request) -> tuple[dict[str, Any], bool]:
    """(fields, is_form); a form must carry the CSRF pair of this browser."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise PayloadTooLarge("The registration is too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise BadRequest("The body must be a JSON object") from exc
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object")
        return body, False
    if kind != "application/x-www-form-urlencoded":
        raise BadRequest("Send the registration as application/json or as the page's form")
    form = await request.form(max_fields=20)
    return {k: v for k, v in form.items() if isinstance(v, str)}, True


async def _limited(request: Request) -> int | None:
    settings = request.app.state.settings
    address = request.client.host if request.client else None
    return await register_limit.reserve(request.app.state.db, address, settings.register_max_per_address,
                                        settings.register_window_seconds)


@router.post("/register")
async def register_submit(request: Request) -> Response:
    fields, is_form = await _fields(request)
    cookie = request.cookies.get(COOKIE, "")
    if is_form and not (cookie and hmac.compare_digest(str(fields.get("csrf", "")), _csrf(request, cookie))):
        _audit(request, "register", False, "form without a valid CSRF token")
        return _page(request, fields, "This form has expired: please fill it in again.", 403)
    wait = await _limited(request)
    if wait is not None:
        _audit(request, "register", False, "too many registrations from this address")
        message = f"Too many registrations from your network address. Try again in {wait} seconds."
        if is_form:
            return _page(request, fields, message, 429)
        raise TooManyRequests(message, headers={"Retry-After": str(wait)})
    try:
        patient_id = await register(request.app.state.resources, Registration.from_fields(fields))
    except FhirError as exc:
        _audit(request, "register", False, exc.message)
        if is_form:
            return _page(request, fields, exc.message, exc.status)
        raise
    await _send_link(request, patient_id)
    _audit(request, "register", True, "account created, e-mail not verified", f"Patient/{patient_id}")
    message = "Check your e-mail: open the link we sent to verify your address, then sign in."
    if is_form:
        return render_page("Registered", f"<p>{html.escape(message)}</p>", _look(request), 201)
    return Response(orjson.dumps({"patient": f"Patient/{patient_id}", "verified": False, "message": message}),
                    status_code=201, media_type="application/json", headers={"Cache-Control": "no-store"})


async def _send_link(request: Request, patient_id: str) -> None:
    """No mail channel yet: the link is logged (it holds a Patient id and a signature, no PHI)."""
    key = await server_secret(request.app.state.db, "email-verify")
    token = verification.sign(key, patient_id, request.app.state.settings.register_verify_seconds)
    root = request.app.state.settings.public_base.rsplit("/fhir", 1)[0]
    log.warning("e-mail verification link (no mail channel configured): %s/register/verify?token=%s", root, token)


@router.get("/register/verify")
async def verify(request: Request, token: str = "") -> Response:
    key = await server_secret(request.app.state.db, "email-verify")
    patient_id = verification.check(key, token)
    ok = False
    if patient_id is not None:
        async with request.app.state.db.transaction() as conn:
            ok = await verify_account(conn, patient_id)
    _audit(request, "register-verify", ok, "e-mail verified" if ok else "invalid or expired link",
           f"Patient/{patient_id}" if ok else None)
    if not ok:
        return render_page("Link not valid", "<p>This verification link is invalid or has expired.</p>",
                           _look(request), 400)
    return render_page("E-mail verified", "<p>Your e-mail address is verified. You can now sign in.</p>",
                       _look(request))
