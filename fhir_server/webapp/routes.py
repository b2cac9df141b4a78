"""HTTP routes of the app under /app/. Thin: each checks the session (or CSRF) and renders."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from . import booking_routes, login, portal
from .guard import FriendlyErrors, checked_form, refused
from .i18n import LANG_COOKIE, LANGUAGES
from .render import page
from .security import cookie_secure

__all__ = ["router"]

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {p.relative_to(STATIC).as_posix(): p for p in STATIC.rglob("*") if p.is_file() and p.suffix in
                {".css", ".js", ".svg", ".png"}}


router = APIRouter(prefix="/app", route_class=FriendlyErrors, include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    session = await login.signed_in(request)
    if session is None and request.cookies.get(login.SESSION_COOKIE):
        return login.to_login(request)  # the session expired: sign in again, then come back here
    if session is None:
        return page(request, "landing.html", signed_out=bool(request.query_params.get("signed_out")))
    return await portal.home(request, session)


@router.get("/login")
async def sign_in(request: Request) -> Response:
    return await login.begin(request)


@router.get("/callback")
async def callback(request: Request) -> Response:
    response, reason = await login.callback(request)
    if response is not None:
        return response
    return page(request, "landing.html", 400, failure=reason)


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    if await checked_form(request) is None:
        return refused(request)
    return await login.logout(request)


@router.post("/language")
async def choose_language(request: Request) -> Response:
    form = await checked_form(request)
    if form is None:
        return refused(request)
    lang = form.get("lang", "en")
    response = RedirectResponse(login.safe_return(form.get("next")), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/app", httponly=True, samesite="lax",
                            secure=cookie_secure(request))
    return response


@router.get("/static/{name:path}")
async def static(name: str) -> Response:
    path = STATIC_FILES.get(name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"})


router.include_router(booking_routes.router)  # before the catch-all below


@router.get("/{rest:path}")
async def not_found(request: Request, rest: str) -> Response:
    return page(request, "error.html", 404, title_key="not_found_title", text_key="not_found_text")
