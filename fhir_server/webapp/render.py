"""Jinja2 rendering of the app's pages (autoescaped), with the page security headers."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..request_id import current_request_id
from .i18n import LANGUAGES, language, translator
from .security import PAGE_HEADERS, csrf_token, ensure_csrf_cookie

__all__ = ["page"]

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """``template`` with the common frame values: language, hospital, CSRF token, who is signed in."""
    lang = language(request)
    context = {"t": translator(lang), "lang": lang, "languages": LANGUAGES, "csrf": csrf_token(request),
               "hospital": request.app.state.settings.hospital_name, "path": request.url.path,
               "request_id": current_request_id(), "session": None, **values}
    body = _environment().get_template(template).render(context)
    response = HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
    ensure_csrf_cookie(request, response)
    return response
