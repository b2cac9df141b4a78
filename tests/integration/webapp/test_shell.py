"""The app shell over real HTTP: sign-in through the server's own SMART launch (BFF: tokens
stay on the server), the page headers (CSP without inline script), CSRF on every form,
language choice, friendly errors with the request id, sign-out revoking the tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.integration.smart_auth.helpers import hidden

from .seed import seed

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none';"
       " base-uri 'none'; object-src 'none'; form-action 'self'")


@pytest.fixture(scope="module")
def seeded(database_url: str, root_url: str, server_url: str) -> None:
    seed(database_url, root_url, server_url)


@pytest.fixture()
def browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        yield http


def sign_in(browser: httpx.Client, root_url: str, next_path: str | None = None) -> httpx.Response:
    """/app/login -> the server's login and consent pages as jane -> /app/callback; the callback's answer."""
    start = browser.get(f"{root_url}/app/login", params={"next": next_path} if next_path else None)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{root_url}/auth/authorize?")
    login_at = browser.get(start.headers["location"]).headers["location"]
    form = browser.get(login_at)
    consent_at = browser.post(f"{root_url}/auth/login", data={
        "req": hidden(form.text, "req"), "csrf": hidden(form.text, "csrf"),
        "username": "jane", "password": "jane-password"}).headers["location"]
    consent = browser.get(consent_at)
    scopes = re.findall(r'name="scope" value="([^"]*)"', consent.text)
    back = browser.post(f"{root_url}/auth/consent", data={
        "req": hidden(consent.text, "req"), "csrf": hidden(consent.text, "csrf"), "decision": "allow",
        "scope": scopes})
    assert back.status_code == 302 and back.headers["location"].startswith(f"{root_url}/app/callback?")
    return browser.get(back.headers["location"])


def test_the_landing_page_and_its_headers(browser: httpx.Client, root_url: str, seeded: None) -> None:
    landing = browser.get(f"{root_url}/app/")
    assert landing.status_code == 200
    assert landing.headers["content-security-policy"] == CSP
    assert landing.headers["x-frame-options"] == "DENY" and landing.headers["cache-control"] == "no-store"
    assert "<title>Welcome · St. Example Hospital</title>" in landing.text
    assert '<a class="btn btn-primary btn-lg" href="/app/login">Sign in</a>' in landing.text
    assert "<script>" not in landing.text and " style=" not in landing.text  # nothing inline for the CSP to block
    cookie = landing.headers["set-cookie"]
    assert cookie.startswith("fhir_app_csrf=") and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_vendored_assets_are_served_and_nothing_else(browser: httpx.Client, root_url: str) -> None:
    css = browser.get(f"{root_url}/app/static/vendor/bootstrap.min.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.text.startswith("@charset \"UTF-8\";/*!\n * Bootstrap  v5.3.9")
    assert browser.get(f"{root_url}/app/static/vendor/htmx.min.js").status_code == 200
    assert browser.get(f"{root_url}/app/static/VENDORED.md").status_code == 404
    assert browser.get(f"{root_url}/app/static/../registration.py").status_code == 404


def test_sign_in_keeps_tokens_on_the_server(browser: httpx.Client, root_url: str, database_url: str,
                                            seeded: None) -> None:
    done = sign_in(browser, root_url)
    assert done.status_code == 303 and done.headers["location"] == "/app/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("fhir_app_session=") and "HttpOnly" in cookie and "Path=/app" in cookie
    home = browser.get(f"{root_url}/app/")
    assert home.status_code == 200
    assert '<span class="text-white small who">Signed in as Jane Doe</span>' in home.text
    assert "<tr><td>2030-05-06 09:00</td><td>Cardiology check-up</td><td>booked</td><td>" in home.text
    assert 'name="appointment" value="appt-1"' in home.text  # booked: it can be cancelled
    session = browser.cookies["fhir_app_session"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT patient, fhir_user, access_token IS NOT NULL FROM webapp_session").fetchall()
    assert row == [("jane", f"{root_url}/fhir/Patient/jane", True)]
    assert session not in str(row) and "eyJ" not in home.text  # the cookie is not stored; no token in the page


def test_a_return_path_off_the_app_is_ignored(browser: httpx.Client, root_url: str, seeded: None) -> None:
    done = sign_in(browser, root_url, next_path="//evil.example.org/app/")
    assert done.headers["location"] == "/app/"
    done = sign_in(browser, root_url, next_path="/app/appointments")
    assert done.headers["location"] == "/app/appointments"


def test_forms_without_a_csrf_token_are_refused(browser: httpx.Client, root_url: str, seeded: None) -> None:
    sign_in(browser, root_url)
    refused = browser.post(f"{root_url}/app/logout", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert "This form has expired. Please reload the page and try again." in refused.text
    assert browser.get(f"{root_url}/app/").text.count("Signed in as Jane Doe") == 1  # still signed in


def test_language_is_remembered(browser: httpx.Client, root_url: str, seeded: None) -> None:
    landing = browser.get(f"{root_url}/app/")
    chosen = browser.post(f"{root_url}/app/language", data={"csrf": hidden(landing.text, "csrf"), "lang": "es",
                                                            "next": "/app/"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/app/"
    again = browser.get(f"{root_url}/app/")
    assert '<html lang="es">' in again.text and "<h1>Bienvenido</h1>" in again.text
    assert '<a class="btn btn-primary btn-lg" href="/app/login">Iniciar sesión</a>' in again.text


def test_unknown_pages_are_friendly_with_the_request_id(browser: httpx.Client, root_url: str) -> None:
    missing = browser.get(f"{root_url}/app/no-such-page", headers={"X-Request-ID": "req-app-404"})
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.text
    assert "Reference for the help desk: req-app-404" in missing.text


def test_an_expired_session_signs_in_again_and_returns(browser: httpx.Client, root_url: str, database_url: str,
                                                       seeded: None) -> None:
    sign_in(browser, root_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE webapp_session SET expires_at = now() - interval '1 second'")
    expired = browser.get(f"{root_url}/app/")
    assert expired.status_code == 303 and expired.headers["location"] == "/app/login?next=%2Fapp%2F"
    deeper = browser.get(f"{root_url}/app/book")
    assert deeper.status_code == 303 and deeper.headers["location"] == "/app/login?next=%2Fapp%2Fbook"
    back = sign_in(browser, root_url, next_path="/app/book")  # what following that redirect does
    assert back.status_code == 303 and back.headers["location"] == "/app/book"
    assert browser.get(f"{root_url}/app/book").status_code == 200


def test_sign_out_revokes_the_tokens(browser: httpx.Client, root_url: str, server_url: str, database_url: str,
                                     seeded: None) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM webapp_session")
    sign_in(browser, root_url)
    with psycopg.connect(database_url) as conn:
        token = conn.execute("SELECT access_token FROM webapp_session").fetchone()[0]
    assert httpx.get(f"{server_url}/Patient/jane", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    home = browser.get(f"{root_url}/app/")
    out = browser.post(f"{root_url}/app/logout", data={"csrf": hidden(home.text, "csrf")})
    assert out.status_code == 303 and out.headers["location"] == "/app/?signed_out=1"
    assert httpx.get(f"{server_url}/Patient/jane", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM webapp_session").fetchone()[0] == 0
    assert "You are signed out." in browser.get(f"{root_url}/app/?signed_out=1").text


def test_the_app_s_api_calls_are_audited_as_any_app_s(browser: httpx.Client, root_url: str, database_url: str,
                                                      seeded: None) -> None:
    import time

    sign_in(browser, root_url)
    assert browser.get(f"{root_url}/app/", headers={"X-Request-ID": "req-app-home"}).status_code == 200
    deadline, rows = time.monotonic() + 10, []
    while time.monotonic() < deadline and not rows:  # the audit trail is written behind the request
        with psycopg.connect(database_url) as conn:
            rows = conn.execute("SELECT subtype, client_id, user_ref, patient_refs FROM audit_event"
                                " WHERE request_id = 'req-app-home'").fetchall()
        time.sleep(0.2)
    assert rows == [("search-type", "hospital-app", "Patient/jane", ["Patient/jane"])]
