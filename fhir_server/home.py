"""The server's root: ``GET /`` answers a small HTML page that says what runs here and links
the FHIR API base, the capability statement (https://hl7.org/fhir/R4/http.html#capabilities),
the SMART configuration (https://hl7.org/fhir/smart-app-launch/conformance.html) and the web
app when one is mounted; ``GET /favicon.ico`` serves the project's own icon (static/LICENSE.md).

No script, the authorization pages' security headers (smart_auth.pages.SECURITY_HEADERS).
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from .smart_auth.pages import SECURITY_HEADERS

__all__ = ["router", "APP_PATH"]

STATIC = Path(__file__).parent / "static"
APP_PATH = "/app/"
router = APIRouter()


@cache
def _favicon() -> bytes:
    return (STATIC / "favicon.ico").read_bytes()


def _has_app(routes: list[BaseRoute]) -> bool:
    """Is the web app mounted? Linked only when a route under /app/ exists."""
    paths = (str(getattr(route, "path", "")) for route in routes)
    return any(path == APP_PATH.rstrip("/") or path.startswith(APP_PATH) for path in paths)


def _links(base: str, auth_on: bool, app: bool) -> list[tuple[str, str, str]]:
    links = [(base, "FHIR API base", "the FHIR R4 RESTful API"),
             (f"{base}/metadata", "Capability statement", "what this server implements (public)")]
    if auth_on:
        links.append((f"{base}/.well-known/smart-configuration", "SMART configuration",
                      "the OAuth 2 endpoints for SMART on FHIR apps (public)"))
    if app:
        links.append((APP_PATH, "Web app", "the hospital app"))
    return links


def home_page(base: str, auth_on: bool, app: bool) -> str:
    items = "\n".join(f'<li><a href="{html.escape(url)}">{html.escape(name)}</a>: {html.escape(what)}</li>'
                      for url, name, what in _links(base, auth_on, app))
    auth = ("Every API request but the two public ones needs a bearer token from a SMART app." if auth_on
            else "Authorization is OFF: every client can read and write everything (development only).")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>fhir_server</title>\n<link rel=\"icon\" href=\"/favicon.ico\">\n"
            "<link rel=\"stylesheet\" href=\"/auth/style.css\">\n</head>\n<body>\n<main>\n"
            "<h1>fhir_server</h1>\n<p>A FHIR R4 (4.0.1) server.</p>\n"
            f"<ul>\n{items}\n</ul>\n<p>{html.escape(auth)}</p>\n</main>\n</body>\n</html>\n")


@router.get("/", include_in_schema=False)
async def home(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    page = home_page(settings.public_base, settings.auth == "on", _has_app(request.app.routes))
    return HTMLResponse(page, headers=SECURITY_HEADERS)


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(_favicon(), media_type="image/vnd.microsoft.icon",
                    headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})
