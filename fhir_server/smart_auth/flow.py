"""The browser side of the authorization code flow: authorize -> login -> patient -> consent.

SMART App Launch 2.2 (https://hl7.org/fhir/smart-app-launch/app-launch.html): EHR launch
(``launch`` bound to a stored context) and standalone launch (``launch/patient``: a
practitioner picks a patient, a patient gets their own record). The request is validated
by authlib up front, kept server-side as a *pending authorization* bound to the browser
(cookie) and to each form (HMAC CSRF token), and validated again before the code is issued.
Errors before the client and redirect_uri are trusted render an HTML page; later errors
go back to the redirect_uri (RFC 6749 section 4.1.2.1).

Session fixation (OWASP Session Management Cheat Sheet, "Renew the Session ID After Any
Privilege Level Change"): the browser's session id (the ``fhir_smart_browser`` cookie,
``HttpOnly; SameSite=Lax; Path=/auth``, ``Secure`` on https) is reused at ``/auth/authorize``
only while a live pending authorization is bound to it, otherwise a fresh random one is set;
and it is replaced by a fresh one at login, at the patient choice and at the consent decision,
so an id planted in a victim's browser is worthless once the victim signs in. Logins are
throttled (``throttle.py``) and every step is audited (``flow_audit.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from . import grant_store, roles, storage, throttle
from .flow_audit import record_step
from .grant_store import Pending
from .hashing import random_token
from .models import Subject, User
from .pages import Look, consent_body, error_page, login_body, patient_body, render_page, throttled_page
from .requests import MAX_FORM_BYTES, from_params, from_starlette, to_response
from .scopes import parse_scopes
from .service import SmartAuth

__all__ = ["begin", "show_login", "submit_login", "show_patient", "submit_patient", "show_consent",
           "submit_consent", "BROWSER_COOKIE"]

BROWSER_COOKIE = "fhir_smart_browser"
AUTHORIZE_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "aud", "launch",
                    "code_challenge", "code_challenge_method", "nonce")
EXPIRED = "This sign-in request has expired or was opened in another browser."


def _style(smart: SmartAuth, who: str | None = None, switch_url: str | None = None) -> Look:
    """The page frame: stylesheet and branding, and once signed in who it is and "switch user"."""
    auth = smart.urls.authorize.rsplit("/", 1)[0]
    return Look(f"{auth}/style.css", smart.hospital, f"{auth}/logo" if smart.logo else None, who, switch_url)


async def _signed_in(smart: SmartAuth, pending: Pending) -> Look:
    if pending.username is None:
        return _style(smart)
    user = await storage.get_user(smart.db, pending.username)
    name = await storage.person_name(smart.db, user.fhir_user) if user else ""
    who = f"{name} ({pending.username})" if name else pending.username
    return _style(smart, who, f"{smart.urls.login}?req={pending.id}")


def _oauth_error(smart: SmartAuth, error: OAuth2Error) -> Response:
    if error.redirect_uri:
        return to_response(error())
    return error_page(f"{error.error}: {error.description or 'invalid authorization request'}", _style(smart))


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store",
                                                           "Referrer-Policy": "no-referrer"})


async def begin(smart: SmartAuth, request: Request) -> Response:
    """GET/POST /auth/authorize: validate with authlib, then park the request and ask to log in."""
    server = smart.server
    try:
        oauth_request = await from_starlette(request, smart.urls.authorize)
        grant = await server.bridge.run_sync(server.get_consent_grant, oauth_request, None)
    except OAuth2Error as error:
        client_id = getattr(getattr(error, "request", None), "client_id", None)
        record_step(request, "authorize", False, client_id=client_id if isinstance(client_id, str) else None,
                    detail=f"{error.error}: {error.description or 'invalid authorization request'}")
        return _oauth_error(smart, error)
    data = oauth_request.payload.data
    params = {key: data[key] for key in AUTHORIZE_PARAMS if data.get(key)}
    given = request.cookies.get(BROWSER_COOKIE)
    # A session id is reused only while it is ours and live: an unknown (planted, stale) one is replaced.
    binding = given if given and await grant_store.binding_in_use(smart.db, given) else random_token()
    pending_id = await grant_store.create_pending(smart.db, binding, {
        "params": params, "allowed": grant.request.scope, "client_name": grant.request.client.name})
    record_step(request, "authorize", True, client_id=params.get("client_id"))
    return _with_session(smart, _see_other(f"{smart.urls.login}?req={pending_id}"), binding)


def _with_session(smart: SmartAuth, response: Response, binding: str) -> Response:
    response.set_cookie(BROWSER_COOKIE, binding, max_age=86400, path="/auth", httponly=True,
                        samesite="lax", secure=smart.secure_cookies)
    return response


async def _rotate(smart: SmartAuth, request: Request, pending: Pending, *, username: str | None = None,
                  patient: str | None = None) -> str | None:
    """A fresh session id for this pending authorization (a privilege change); None if it was lost."""
    fresh = random_token()
    old = request.cookies.get(BROWSER_COOKIE, "")
    moved = await grant_store.rebind_pending(smart.db, pending.id, old, fresh, username=username, patient=patient)
    return fresh if moved else None


def _client_of(pending: Pending) -> str | None:
    client = pending.params["params"].get("client_id")
    return client if isinstance(client, str) else None


async def _pending(smart: SmartAuth, request: Request, form: FormData | None) -> Pending | None:
    """The pending authorization this browser may act on; for POSTs, only with a valid CSRF token."""
    source: Any = form if form is not None else request.query_params
    pending_id, binding = str(source.get("req") or ""), request.cookies.get(BROWSER_COOKIE) or ""
    if not pending_id or not binding:
        return None
    if form is not None and not smart.csrf_ok(str(form.get("csrf") or ""), pending_id, binding):
        return None
    return await grant_store.get_pending(smart.db, pending_id, binding)


async def _form(request: Request) -> FormData | None:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    return await request.form(max_fields=200)


async def _page(smart: SmartAuth, request: Request, pending: Pending, title: str, kind: str,
                **extra: Any) -> Response:
    binding = request.cookies.get(BROWSER_COOKIE, "")
    csrf = smart.csrf_token(pending.id, binding)
    name = str(pending.params.get("client_name", "An application"))
    action = {"login": smart.urls.login, "patient": smart.urls.patient, "consent": smart.urls.consent}[kind]
    status = extra.pop("status", 200)
    renderers: dict[str, Callable[..., str]] = {"login": login_body, "patient": patient_body,
                                                "consent": consent_body}
    body = renderers[kind](action, pending.id, csrf, name, **extra)
    look = _style(smart) if kind == "login" else await _signed_in(smart, pending)
    return render_page(title, body, look, status)


def _ehr_launch(pending: Pending) -> bool:
    return bool(pending.params["params"].get("launch"))


async def show_login(smart: SmartAuth, request: Request) -> Response:
    pending = await _pending(smart, request, None)
    if pending is None:
        return error_page(EXPIRED, _style(smart))
    return await _page(smart, request, pending, "Sign in", "login", hospital=smart.hospital,
                       ehr_launch=_ehr_launch(pending))


async def _context_patient(smart: SmartAuth, pending: Pending, user: User) -> tuple[str | None, str | None]:
    """(patient, error) implied by the launch or by who the user is."""
    launch = pending.params["params"].get("launch")
    if launch:
        context = await storage.get_launch(smart.db, launch)
        if context is None:
            return None, "The EHR launch has expired."
        if context.fhir_user and context.fhir_user != user.fhir_user:
            return None, "This launch was created for another user."
        if user.resource_type == "Patient" and context.patient != user.resource_id:
            return None, "This launch is for another patient's record."
        return context.patient, None
    if user.resource_type == "Patient":
        return user.resource_id, None
    if user.resource_type == "RelatedPerson":
        return await storage.related_person_patient(smart.db, user.resource_id), None
    return None, None


async def submit_login(smart: SmartAuth, request: Request) -> Response:
    form = await _form(request)
    pending = await _pending(smart, request, form) if form is not None else None
    if form is None or pending is None:
        return error_page(EXPIRED, _style(smart))
    username, address = str(form.get("username") or ""), request.client.host if request.client else None
    refusal = await throttle.reserve_attempt(smart.db, smart.limits, username, address)
    if refusal is not None:  # the password is not even checked
        record_step(request, "login", False, client_id=_client_of(pending),
                    detail=f"sign-in refused for username {username!r} ({refusal.status}): {refusal.message}")
        return throttled_page(refusal.message, _style(smart), refusal.status, refusal.retry_after)
    user = await storage.authenticate_user(smart.db, username, str(form.get("password") or ""))
    if user is None:
        return await _failed_login(smart, request, pending, username)
    await throttle.record_success(smart.db, username, address)
    refused = _account_refusal(user)
    if refused:  # told only after the right password: a guesser learns nothing about the account
        record_step(request, "login", False, client_id=_client_of(pending), user=user.fhir_user, detail=refused)
        return error_page(refused, _style(smart), 403)
    await _cap_to_roles(smart, pending, user)
    patient, error = await _context_patient(smart, pending, user)
    if error:
        record_step(request, "login", False, client_id=_client_of(pending), user=user.fhir_user, detail=error)
        return error_page(error, _style(smart), 403)
    fresh = await _rotate(smart, request, pending, username=user.username, patient=patient)
    if fresh is None:
        return error_page(EXPIRED, _style(smart))
    record_step(request, "login", True, client_id=_client_of(pending), user=user.fhir_user, patient=patient)
    return _with_session(smart, _next_step(smart, pending, user, patient), fresh)


def _account_refusal(user: User) -> str | None:
    if not user.active:
        return "This account is disabled. Ask the hospital's administrator."
    if not user.verified:
        return "This account's e-mail address is not verified yet: open the link sent to it."
    return None


async def _cap_to_roles(smart: SmartAuth, pending: Pending, user: User) -> None:
    """Offer only the scopes the user's roles allow (roles.py): requested ∩ client's ∩ role caps."""
    caps = await roles.user_caps(smart.db, user.username)
    if caps is None:
        return
    allowed = " ".join(roles.cap_scopes(str(pending.params.get("allowed", "")).split(), caps))
    await grant_store.narrow_pending(smart.db, pending.id, allowed)
    pending.params["allowed"] = allowed


async def _failed_login(smart: SmartAuth, request: Request, pending: Pending, username: str) -> Response:
    locked = await throttle.record_failure(smart.db, smart.limits, username)
    known = await storage.get_user(smart.db, username)
    record_step(request, "login", False, client_id=_client_of(pending), user=known.fhir_user if known else None,
                detail=f"wrong password or unknown username {username!r}" + (" (account now locked)" if locked else ""))
    await asyncio.sleep(smart.limits.failure_delay)  # slows scripted guessing; the same for known and unknown names
    return await _page(smart, request, pending, "Sign in", "login", error="Unknown username or wrong password.",
                       status=401, hospital=smart.hospital, ehr_launch=_ehr_launch(pending), username=username)


def _needs_patient(pending: Pending) -> bool:
    allowed = parse_scopes(pending.params.get("allowed", ""))
    return allowed.has("launch/patient") or "patient" in allowed.contexts()


def _next_step(smart: SmartAuth, pending: Pending, user: User, patient: str | None) -> Response:
    if patient is None and user.resource_type == "Practitioner" and _needs_patient(pending) \
            and not pending.params["params"].get("launch"):
        return _see_other(f"{smart.urls.patient}?req={pending.id}")
    return _see_other(f"{smart.urls.consent}?req={pending.id}")


async def _picker(smart: SmartAuth, request: Request, pending: Pending, form: FormData | None = None,
                  error: str | None = None, status: int = 200) -> Response:
    """The picker: one page of patients matching the search (a POST: no names in URLs or logs)."""
    text = str(form.get("q") or "")[:200] if form is not None else ""
    raw_page = str(form.get("page") or "1") if form is not None else "1"
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 100_000 else 1
    cards, has_more = await storage.search_patients(smart.db, text, page)
    return await _page(smart, request, pending, "Select a patient", "patient", cards=cards, query=text, page=page,
                       has_more=has_more, error=error, status=status)


async def show_patient(smart: SmartAuth, request: Request) -> Response:
    pending = await _pending(smart, request, None)
    if pending is None or pending.username is None:
        return error_page(EXPIRED, _style(smart))
    return await _picker(smart, request, pending)


async def submit_patient(smart: SmartAuth, request: Request) -> Response:
    form = await _form(request)
    pending = await _pending(smart, request, form) if form is not None else None
    if form is None or pending is None or pending.username is None:
        return error_page(EXPIRED, _style(smart))
    user = await storage.get_user(smart.db, pending.username)
    # Only a practitioner without a launch context picks; the choice must be a real Patient.
    if user is None or user.resource_type != "Practitioner" or _ehr_launch(pending):
        return error_page("Patient selection is not available for this request.", _style(smart), 403)
    if form.get("op") == "search":
        return await _picker(smart, request, pending, form)
    patient_id = str(form.get("patient") or "")
    if not await storage.patient_exists(smart.db, patient_id):
        return await _picker(smart, request, pending, None, "Choose a patient from the list.", 400)
    fresh = await _rotate(smart, request, pending, patient=patient_id)
    if fresh is None:
        return error_page(EXPIRED, _style(smart))
    record_step(request, "patient", True, client_id=_client_of(pending), user=user.fhir_user, patient=patient_id)
    return _with_session(smart, _see_other(f"{smart.urls.consent}?req={pending.id}"), fresh)


async def show_consent(smart: SmartAuth, request: Request) -> Response:
    pending = await _pending(smart, request, None)
    if pending is None or pending.username is None:
        return error_page(EXPIRED, _style(smart))
    if _needs_patient(pending) and pending.patient is None:
        return error_page("No patient was selected for this request.", _style(smart))
    scopes = str(pending.params.get("allowed", "")).split()
    user = await storage.get_user(smart.db, pending.username)
    card = await storage.patient_card(smart.db, pending.patient) if pending.patient else None
    return await _page(smart, request, pending, "Allow access?", "consent", scopes=scopes,
                       role=user.resource_type if user else "", ehr_launch=_ehr_launch(pending), patient=card)


async def _subject(smart: SmartAuth, pending: Pending, granted: list[str]) -> Subject:
    """The grant's user and context, disclosing only what the granted scopes call for."""
    params = pending.params["params"]
    user = await storage.get_user(smart.db, pending.username or "")
    scopes = parse_scopes(granted)
    context = await storage.get_launch(smart.db, params["launch"]) if params.get("launch") else None
    wants_patient = scopes.has("launch") or scopes.has("launch/patient") or "patient" in scopes.contexts()
    wants_encounter = scopes.has("launch") or scopes.has("launch/encounter")
    return Subject(grant_id="", username=pending.username, fhir_user=user.fhir_user if user else None,
                   patient=pending.patient if wants_patient else None,
                   encounter=context.encounter if context and wants_encounter else None,
                   nonce=params.get("nonce"))


async def submit_consent(smart: SmartAuth, request: Request) -> Response:
    form = await _form(request)
    pending = await _pending(smart, request, form) if form is not None else None
    if form is None or pending is None or pending.username is None:
        return error_page(EXPIRED, _style(smart))
    if _needs_patient(pending) and pending.patient is None:
        return error_page("No patient was selected for this request.", _style(smart))
    if not await grant_store.delete_pending(smart.db, pending.id):
        return error_page(EXPIRED, _style(smart))  # a double submit: the first one won
    allowed = str(pending.params.get("allowed", "")).split()
    granted = [s for s in allowed if s in set(map(str, form.getlist("scope")))]
    approve = form.get("decision") == "allow" and bool(granted)
    params = dict(pending.params["params"], scope=" ".join(granted or allowed))
    subject = await _subject(smart, pending, granted) if approve else None
    server = smart.server

    def issue() -> Any:
        oauth_request = from_params(smart.urls.authorize, params)
        grant = server.get_consent_grant(oauth_request, subject)
        return server.create_authorization_response(request=oauth_request, grant_user=subject, grant=grant)

    user = await storage.get_user(smart.db, pending.username)
    try:
        result = await server.bridge.run_sync(issue)
    except OAuth2Error as error:
        record_step(request, "consent", False, client_id=_client_of(pending), user=user.fhir_user if user else None,
                    patient=pending.patient, detail=f"{error.error}: {error.description or 'refused'}")
        return _oauth_error(smart, error)
    record_step(request, "consent", approve, client_id=_client_of(pending), user=user.fhir_user if user else None,
                patient=pending.patient,
                detail=f"granted {' '.join(granted)}" if approve else "access denied by the user")
    # The decision is a privilege change too: the browser leaves with a session id nothing is bound to.
    return _with_session(smart, to_response(result), random_token())
