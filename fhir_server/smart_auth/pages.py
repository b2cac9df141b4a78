"""Server-rendered HTML for the authorization pages: login, patient picker, consent, error.

Plain forms that work without JavaScript. Every value is HTML-escaped; responses carry
security headers (CSP ``default-src 'self'``, no framing (clickjacking), ``no-store``,
``nosniff``, no referrer so the pending-request id never leaks to other sites).
OWASP Secure Headers: https://owasp.org/www-project-secure-headers/
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from starlette.responses import HTMLResponse, Response

from .pages_wording import consent_intro, login_intro, patient_note
from .patient_card import PatientCard
from .scopes import parse_scope

__all__ = ["Look", "render_page", "error_page", "throttled_page", "login_body", "patient_body", "consent_body",
           "stylesheet", "SECURITY_HEADERS", "describe_scope"]

PAGES = Path(__file__).parent / "pages"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none';"
                               " base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
}
INTERACTION_WORDS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
IDENTITY_WORDS = {
    "openid": "Confirm your identity to the app",
    "fhirUser": "Tell the app which person record you are",
    "profile": "Tell the app which person record you are",
    "launch": "Use the patient and encounter open in the EHR",
    "launch/patient": "Know which patient is selected",
    "launch/encounter": "Know which encounter is selected",
    "offline_access": "Keep access when you are not using the app",
    "online_access": "Keep access while you are using the app",
}


@dataclass(frozen=True)
class Look:
    """The frame of every page: stylesheet, hospital branding, and who is signed in (with a way
    to switch user) once someone is."""

    style_url: str
    hospital: str = "General Hospital"
    logo_url: str | None = None
    who: str | None = None  # e.g. "Dr Anna Smith (dr.smith)"
    switch_url: str | None = None


@cache
def _template(name: str) -> Template:
    return Template((PAGES / name).read_text(encoding="utf-8"))


def stylesheet() -> Response:
    return Response(_template("style.css").template, media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


def _who(look: Look) -> str:
    if not look.who:
        return ""
    switch = f' · <a href="{html.escape(look.switch_url)}">Switch user</a>' if look.switch_url else ""
    return f'<p class="who">Signed in as <strong>{html.escape(look.who)}</strong>{switch}</p>\n'


def render_page(title: str, body: str, look: Look, status: int = 200,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    logo = f'<img src="{html.escape(look.logo_url)}" alt="">' if look.logo_url else ""
    page = _template("layout.html").substitute(
        title=html.escape(title), body=body, style_url=html.escape(look.style_url),
        hospital=html.escape(look.hospital), logo=logo, who=_who(look))
    return HTMLResponse(page, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def error_page(message: str, look: Look, status: int = 400) -> HTMLResponse:
    return render_page("Authorization failed", _template("error.html").substitute(message=html.escape(message)),
                       look, status)


def throttled_page(message: str, look: Look, status: int, retry_after: int | None) -> HTMLResponse:
    """429 (too many failed sign-ins, with Retry-After) or 423 (account locked)."""
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return render_page("Sign-in refused", _template("error.html").substitute(message=html.escape(message)),
                       look, status, headers)


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""


def _common(action: str, req: str, csrf: str, client_name: str) -> dict[str, str]:
    return {"action": html.escape(action), "req": html.escape(req), "csrf": html.escape(csrf),
            "client_name": html.escape(client_name)}


def login_body(action: str, req: str, csrf: str, client_name: str, *, hospital: str = "General Hospital",
               ehr_launch: bool = False, username: str = "", error: str | None = None) -> str:
    """The sign-in form; after a failed attempt the username stays and the password gets the focus."""
    focus_password = bool(username)
    return _template("login.html").substitute(
        **_common(action, req, csrf, client_name), error=_error(error), username=html.escape(username),
        intro=login_intro(client_name, hospital, ehr_launch),
        username_focus="" if focus_password else " autofocus", password_focus=" autofocus" if focus_password else "")


def _patient_row(card: PatientCard, first: bool) -> str:
    hint = " · ".join(p for p in (f"born {card.birth_date}" if card.birth_date else "", card.identifier) if p)
    required = " required" if first else ""  # one required radio makes the group required; none is pre-selected
    return (f'<label><input type="radio" name="patient" value="{html.escape(card.id)}"{required}> '
            f'<span><strong>{html.escape(card.name or "Unnamed patient")}</strong>'
            f' <span class="hint">{html.escape(hint)}</span></span></label>')


def _pager(common: dict[str, str], query: str, page: int, has_more: bool) -> str:
    if page <= 1 and not has_more:
        return ""
    buttons = []
    if page > 1:
        buttons.append(f'<button type="submit" name="page" value="{page - 1}" class="secondary">Previous page</button>')
    buttons.append(f"<span>Page {page}</span>")
    if has_more:
        buttons.append(f'<button type="submit" name="page" value="{page + 1}" class="secondary">Next page</button>')
    return (f'<form method="post" action="{common["action"]}" class="pager" aria-label="Pages of patients">'
            f'<input type="hidden" name="req" value="{common["req"]}">'
            f'<input type="hidden" name="csrf" value="{common["csrf"]}">'
            f'<input type="hidden" name="op" value="search"><input type="hidden" name="q" value="{html.escape(query)}">'
            + "".join(buttons) + "</form>")


def patient_body(action: str, req: str, csrf: str, client_name: str, *, cards: list[PatientCard],
                 query: str = "", page: int = 1, has_more: bool = False, error: str | None = None) -> str:
    common = _common(action, req, csrf, client_name)
    rows = [_patient_row(card, i == 0) for i, card in enumerate(cards)]
    if rows:
        legend = f'Patients matching "{query}"' if query else "Patients"
    else:
        legend = "No patient matches" if query else "No patients are registered on this server"
    return _template("patient.html").substitute(
        **common, patients="\n".join(rows), error=_error(error), query=html.escape(query),
        legend=html.escape(legend), pager=_pager(common, query, page, has_more))


def describe_scope(scope: str) -> str:
    """Plain-language text for a scope, for the consent page."""
    if scope in IDENTITY_WORDS:
        return IDENTITY_WORDS[scope]
    parsed = parse_scope(scope)
    if parsed is None:
        return scope
    verbs = [word for letter, word in INTERACTION_WORDS.items() if letter in parsed.interactions]
    what = "all data" if parsed.resource_type == "*" else f"{parsed.resource_type} records"
    whose = {"patient": "of the selected patient", "user": "you can access", "system": "on this server"}
    text = f"{', '.join(verbs).capitalize()} {what} {whose[parsed.context]}"
    if parsed.query:
        text += " where " + ", ".join(f"{k} = {v}" for k, v in parsed.query)
    return text


def consent_body(action: str, req: str, csrf: str, client_name: str, scopes: list[str], *,
                 role: str = "Patient", ehr_launch: bool = False, patient: PatientCard | None = None) -> str:
    items = [
        f'<label><input type="checkbox" name="scope" value="{html.escape(s)}" checked> '
        f'<span>{html.escape(describe_scope(s))} <span class="hint">{html.escape(s)}</span></span></label>'
        for s in scopes
    ]
    return _template("consent.html").substitute(
        **_common(action, req, csrf, client_name), scopes="\n".join(items),
        intro=consent_intro(client_name, role, ehr_launch, patient is not None), patient_note=patient_note(patient))
