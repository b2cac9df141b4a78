"""Server-rendered HTML for the authorization pages: login, patient picker, consent, error.

Plain forms that work without JavaScript. Every value is HTML-escaped; responses carry
security headers (CSP ``default-src 'self'``, no framing (clickjacking), ``no-store``,
``nosniff``, no referrer so the pending-request id never leaks to other sites).
OWASP Secure Headers: https://owasp.org/www-project-secure-headers/
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template

from starlette.responses import HTMLResponse, Response

from .scopes import parse_scope

__all__ = ["render_page", "error_page", "throttled_page", "login_body", "patient_body", "consent_body", "stylesheet",
           "SECURITY_HEADERS", "describe_scope"]

PAGES = Path(__file__).parent / "pages"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
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


@cache
def _template(name: str) -> Template:
    return Template((PAGES / name).read_text(encoding="utf-8"))


def stylesheet() -> Response:
    return Response(_template("style.css").template, media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


def render_page(title: str, body: str, style_url: str, status: int = 200,
                headers: dict[str, str] | None = None) -> HTMLResponse:
    page = _template("layout.html").substitute(title=html.escape(title), body=body,
                                               style_url=html.escape(style_url))
    return HTMLResponse(page, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def error_page(message: str, style_url: str, status: int = 400) -> HTMLResponse:
    return render_page("Authorization failed", _template("error.html").substitute(message=html.escape(message)),
                       style_url, status)


def throttled_page(message: str, style_url: str, status: int, retry_after: int | None) -> HTMLResponse:
    """429 (too many failed sign-ins, with Retry-After) or 423 (account locked)."""
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return render_page("Sign-in refused", _template("error.html").substitute(message=html.escape(message)),
                       style_url, status, headers)


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""


def _common(action: str, req: str, csrf: str, client_name: str) -> dict[str, str]:
    return {"action": html.escape(action), "req": html.escape(req), "csrf": html.escape(csrf),
            "client_name": html.escape(client_name)}


def login_body(action: str, req: str, csrf: str, client_name: str, error: str | None = None) -> str:
    return _template("login.html").substitute(**_common(action, req, csrf, client_name), error=_error(error))


def patient_body(action: str, req: str, csrf: str, client_name: str,
                 patients: list[tuple[str, str, str]], error: str | None = None) -> str:
    items = []
    for index, (patient_id, name, birth_date) in enumerate(patients):
        checked = " checked" if index == 0 else ""
        label = html.escape(name or patient_id)
        hint = f' <span class="hint">{html.escape(birth_date)} · {html.escape(patient_id)}</span>'
        items.append(f'<label><input type="radio" name="patient" value="{html.escape(patient_id)}"{checked}> '
                     f"{label}{hint}</label>")
    listing = "\n".join(items) or "<p>No patients are registered on this server.</p>"
    return _template("patient.html").substitute(**_common(action, req, csrf, client_name), patients=listing,
                                                error=_error(error))


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


def consent_body(action: str, req: str, csrf: str, client_name: str, scopes: list[str],
                 patient_label: str | None) -> str:
    items = [
        f'<label><input type="checkbox" name="scope" value="{html.escape(s)}" checked> '
        f'{html.escape(describe_scope(s))} <span class="hint">{html.escape(s)}</span></label>'
        for s in scopes
    ]
    note = f" for <strong>{html.escape(patient_label)}</strong>" if patient_label else ""
    return _template("consent.html").substitute(**_common(action, req, csrf, client_name),
                                                scopes="\n".join(items), patient_note=note)
