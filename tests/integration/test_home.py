"""``GET /`` (a small page linking the API, the capability statement, the SMART configuration
and the app when mounted) and ``GET /favicon.ico``, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
from starlette.responses import PlainTextResponse

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving

SECURITY = {"content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
            "x-frame-options": "DENY", "x-content-type-options": "nosniff", "cache-control": "no-store",
            "referrer-policy": "no-referrer"}


@pytest.fixture(scope="module")
def auth_on(server_settings: Settings) -> Iterator[str]:
    """The app with authorization on and a route under /app/ (as the web app will mount one)."""
    settings = replace(server_settings, auth="on", port=free_port())
    app = create_app(settings)

    @app.get("/app/")
    async def web_app() -> PlainTextResponse:
        return PlainTextResponse("the app")

    with serving(app, settings) as base:
        yield base.removesuffix("/fhir")


def _links(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', page)


def test_root_page_with_authorization_off(server_url: str) -> None:
    root = server_url.removesuffix("/fhir")
    response = httpx.get(root + "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert {k: response.headers[k] for k in SECURITY} == SECURITY
    assert _links(response.text) == [(server_url, "FHIR API base"), (f"{server_url}/metadata", "Capability statement")]
    assert "Authorization is OFF" in response.text
    assert "<script" not in response.text and '<link rel="icon" href="/favicon.ico">' in response.text


def test_root_page_with_authorization_on_links_smart_and_the_app(auth_on: str) -> None:
    response = httpx.get(auth_on + "/")  # no token: the page is public
    assert response.status_code == 200
    base = auth_on + "/fhir"
    assert _links(response.text) == [(base, "FHIR API base"), (f"{base}/metadata", "Capability statement"),
                                     (f"{base}/.well-known/smart-configuration", "SMART configuration"),
                                     ("/app/", "Web app")]
    for url, _ in _links(response.text)[1:]:  # every public link answers
        assert httpx.get(url if url.startswith("http") else auth_on + url).status_code == 200


def test_favicon(server_url: str) -> None:
    response = httpx.get(server_url.removesuffix("/fhir") + "/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert response.headers["cache-control"] == "public, max-age=86400"
    body = response.content
    assert body[:6] == b"\x00\x00\x01\x00\x01\x00" and body[22:30] == b"\x89PNG\r\n\x1a\n"  # one PNG image
    assert len(body) == 168


def test_other_root_paths_stay_fhir_404s(server_url: str) -> None:
    response = httpx.get(server_url.removesuffix("/fhir") + "/nothing-here")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
