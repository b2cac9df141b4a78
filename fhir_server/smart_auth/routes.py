"""HTTP routes of the authorization server (included at the app root). Thin: each adapts
the request and calls one service function.

Discovery: ``/fhir/.well-known/smart-configuration`` (https://hl7.org/fhir/smart-app-launch/conformance.html)
and ``/fhir/.well-known/openid-configuration``; OAuth endpoints under ``/auth``. OAuth
endpoints answer RFC 6749 section 5.2 JSON errors, never OperationOutcome.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import flow
from .discovery import cors_headers, cors_preflight_response, openid_configuration, smart_configuration
from .pages import stylesheet
from .requests import from_starlette, to_response
from .service import smart_of

__all__ = ["router"]

router = APIRouter()
CORS_PATHS = ("/fhir/.well-known/smart-configuration", "/fhir/.well-known/openid-configuration",
              "/auth/jwks", "/auth/token", "/auth/introspect", "/auth/revoke")


def _json(body: dict[str, object], cache: str = "no-store") -> JSONResponse:
    return JSONResponse(body, headers={**cors_headers(), "Cache-Control": cache})


@router.get("/fhir/.well-known/smart-configuration")
async def smart_config(request: Request) -> Response:
    return _json(smart_configuration(request.app.state.settings.public_base), "public, max-age=300")


@router.get("/fhir/.well-known/openid-configuration")
async def openid_config(request: Request) -> Response:
    return _json(openid_configuration(request.app.state.settings.public_base), "public, max-age=300")


@router.get("/auth/jwks")
async def jwks(request: Request) -> Response:
    smart = smart_of(request)
    await smart.keys.reload_if_stale(smart.db)
    return _json(smart.keys.jwks(), "public, max-age=300")


async def _preflight() -> Response:
    return cors_preflight_response()


for _path in CORS_PATHS:
    router.add_api_route(_path, _preflight, methods=["OPTIONS"], include_in_schema=False)


@router.api_route("/auth/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    return await flow.begin(smart_of(request), request)


@router.get("/auth/login")
async def login_page(request: Request) -> Response:
    return await flow.show_login(smart_of(request), request)


@router.post("/auth/login")
async def login_submit(request: Request) -> Response:
    return await flow.submit_login(smart_of(request), request)


@router.get("/auth/patient")
async def patient_page(request: Request) -> Response:
    return await flow.show_patient(smart_of(request), request)


@router.post("/auth/patient")
async def patient_submit(request: Request) -> Response:
    return await flow.submit_patient(smart_of(request), request)


@router.get("/auth/consent")
async def consent_page(request: Request) -> Response:
    return await flow.show_consent(smart_of(request), request)


@router.post("/auth/consent")
async def consent_submit(request: Request) -> Response:
    return await flow.submit_consent(smart_of(request), request)


@router.get("/auth/style.css")
async def style() -> Response:
    return stylesheet()


@router.get("/auth/logo")
async def logo(request: Request) -> Response:
    """The hospital's logo (FHIR_HOSPITAL_LOGO), same origin so the pages' CSP allows it."""
    image = smart_of(request).logo
    if image is None:
        return Response(status_code=404)
    return Response(image[0], media_type=image[1],
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"})


async def _oauth_endpoint(request: Request, uri: str, call: Callable[[OAuth2Request], Any]) -> Response:
    """Adapt the request, run the authlib endpoint in a worker thread, render its answer."""
    smart = smart_of(request)
    try:
        oauth_request = await from_starlette(request, uri)
    except OAuth2Error as error:  # e.g. insecure_transport: plain http on a non-loopback base URL
        return to_response(error(), cors=True)
    response = to_response(await smart.server.bridge.run_sync(call, oauth_request), cors=True)
    client = getattr(oauth_request, "client", None)
    if client is not None:  # for the audit record of this token request (audit/trail.py)
        request.state.audit_client = client.client_id
    return response


@router.post("/auth/token")
async def token(request: Request) -> Response:
    smart = smart_of(request)
    await smart.keys.reload_if_stale(smart.db)  # sign with the newest key after a rotation
    return await _oauth_endpoint(request, smart.urls.token, smart.server.create_token_response)


@router.post("/auth/introspect")
async def introspect(request: Request) -> Response:
    smart = smart_of(request)
    return await _oauth_endpoint(request, smart.urls.introspect,
                                 partial(smart.server.create_endpoint_response, "introspection"))


@router.post("/auth/revoke")
async def revoke(request: Request) -> Response:
    smart = smart_of(request)
    return await _oauth_endpoint(request, smart.urls.revoke,
                                 partial(smart.server.create_endpoint_response, "revocation"))
