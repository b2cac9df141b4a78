"""create_app(): routers, exception handlers, lifespan (database, definitions, capability statement).

Every error leaves as an OperationOutcome (http://hl7.org/fhir/R4/http.html#2.21.0.4): FHIR
errors with their own status, routing errors as 404/405, a database that fails as 503 with
``Retry-After``, anything unexpected as 500 with the request id and no stack trace.
``GET /health`` says whether the database answers (200/503), for load balancers.
The lifespan's shutdown stops each background part within a bound, also while the database is
down, so SIGTERM/SIGINT always ends the process (uvicorn cancels requests still running after
``shutdown_grace``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from . import home, smart_auth, webapp
from .accounts import admin_routes as accounts_admin_routes
from .accounts import register_routes as accounts_register_routes
from .admissions import routes as admissions_routes
from .audit.keyring import load_key
from .audit.recorder import AuditRecorder
from .audit.trail import AuditMiddleware, AuditTrail
from .billing import routes as billing_routes
from .claims import routes as claims_routes
from .config import Settings, load_settings
from .conformance.claims import claims_of
from .conformance.startup import apply_write_policy, load_profiles
from .db import Database, SessionTimeouts, migrate
from .db_health import RETRY_AFTER_SECONDS
from .definitions import definitions
from .demo import load_demo
from .disconnect import DisconnectMiddleware
from .embedded import Supervisor, start_supervised
from .errors import FhirError, Issue, MethodNotAllowed, operation_outcome
from .exchange import export_routes
from .exchange import router as exchange_router
from .exchange.bulk_export import ExportWorker
from .jsonio import dumps
from .notifications import email, sms
from .pharmacy import routes as pharmacy_routes
from .pharmacy import settings as pharmacy_settings
from .render import fhir_response
from .request_id import RequestIdMiddleware
from .resources import audit_routes, capability, history_routes
from .resources import router as resource_router
from .resources.hot_paths import HotPathMiddleware
from .resources.operations import docref as docref_operation
from .resources.operations import everything as everything_operation
from .resources.operations import expand as expand_operation
from .resources.operations import lookup as lookup_operation
from .resources.operations import operation_definitions
from .resources.operations import subsumes as subsumes_operation
from .resources.operations import translate as translate_operation
from .resources.operations import unsupported as unsupported_operations
from .resources.operations import validate as validate_operation
from .resources.operations import validate_code as validate_code_operation
from .resources.service import ResourceService
from .rules import load_rule_modules
from .scheduling import routes as scheduling_routes
from .search import indexer
from .search import router as search_router
from .search.registry import search_params_for
from .smart_auth.dependencies import bind_policy
from .subscriptions import endpoint as subscription_endpoint
from .subscriptions import routes as subscription_routes
from .subscriptions.dispatcher import DeliveryPolicy, Dispatcher
from .summary import operation as summary_operation
from .terminology.startup import load_terminology
from .terminology.store import refresh_loaded

__all__ = ["create_app", "create_app_from_env"]

log = logging.getLogger("fhir_server")
OUTCOME_TYPE = "application/fhir+json; charset=utf-8"
CORS_REQUEST_HEADERS = ["Authorization", "Content-Type", "Accept", "Prefer", "If-Match", "If-None-Match",
                        "If-None-Exist", "If-Modified-Since", "X-Request-Id"]
CORS_EXPOSED_HEADERS = ["Location", "Content-Location", "ETag", "Last-Modified", "WWW-Authenticate", "X-Request-Id",
                        "X-Progress", "Retry-After"]
HTTP_CODES = {404: "not-found", 405: "not-supported", 406: "not-supported", 413: "too-costly",
              415: "not-supported"}


def _software_version() -> str:
    try:
        return version("fhir-server")
    except PackageNotFoundError:
        return "0.0.0"


def _outcome_response(status: int, issues: list[Issue], headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(operation_outcome(issues)), status_code=status, headers=headers,
                    media_type=OUTCOME_TYPE)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FhirError)
    async def fhir_error(request: Request, exc: FhirError) -> Response:
        return _outcome_response(exc.status, exc.issues, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: f"No FHIR endpoint at {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        code = HTTP_CODES.get(exc.status_code, "processing")
        return _outcome_response(exc.status_code, [Issue("error", code, message)], dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _outcome_response(400, [Issue("error", "invalid", "Malformed request")])

    @app.exception_handler(psycopg.DataError)
    async def data_error(request: Request, exc: psycopg.DataError) -> Response:
        # Input PostgreSQL cannot hold (NUL bytes, out-of-range values) is the client's error.
        message = f"Request contains a value that cannot be stored or compared: {exc.diag.message_primary}"
        return _outcome_response(400, [Issue("error", "invalid", message)])

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_failed(request: Request, exc: Exception) -> Response:
        # Failures db.py did not translate (e.g. a connection opened outside the pool) are still
        # the database's, not a server bug: the client may retry.
        log.warning("database failure in %s %s: %s", request.method, request.url.path, exc)
        return _outcome_response(503, [Issue("error", "transient", "The database failed to answer; retry shortly")],
                                 {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _dispatcher(settings: Settings, db: Database, resources: ResourceService) -> Dispatcher:
    subscription_endpoint.configure(settings.subscription_allow_private)
    email.configure(settings.smtp_url, settings.smtp_from)
    sms.configure(settings.twilio_url, settings.twilio_account_sid, settings.twilio_auth_token, settings.sms_from)
    policy = DeliveryPolicy(settings.subscription_timeout, settings.subscription_max_failures,
                            settings.subscription_retry_base, settings.subscription_retry_max,
                            settings.subscription_poll)
    return Dispatcher(db, resources, settings.public_base, policy)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.auth != "on":
        log.warning("AUTHORIZATION IS OFF: every client can read and write everything. "
                    "Development use only.")
    supervisor: Supervisor | None = None
    url = settings.database_url or ""
    if not url:  # the embedded PostgreSQL: this process starts, supervises and stops it
        url, supervisor = await asyncio.to_thread(start_supervised, settings.data_dir)
    try:
        await asyncio.to_thread(migrate, url)
        await asyncio.to_thread(definitions)
        await asyncio.to_thread(load_profiles, settings.profiles_dir, settings.profiles_strict)
        apply_write_policy(settings.required_profiles, settings.reject_unknown_profiles)
        db = Database(url, settings.pool_min, settings.pool_max, wait_timeout=settings.pool_timeout,
                      timeouts=SessionTimeouts(settings.statement_timeout, settings.idle_in_transaction_timeout))
        await db.open()
        async with db.connection() as conn:
            loaded = frozenset(await refresh_loaded(conn))  # code systems of `fhir-server terminology load`
        await asyncio.to_thread(load_terminology, settings.terminology_dir, settings.terminology_strict,
                                settings.max_expansion, loaded)
    except BaseException:
        if supervisor is not None:
            await asyncio.to_thread(supervisor.stop)
        raise
    app.state.db = db
    key = await asyncio.to_thread(load_key, settings.audit_key, settings.audit_key_path, True)
    recorder = AuditRecorder(db, key, checkpoint_dir=settings.audit_checkpoint_dir,
                             checkpoint_seconds=settings.audit_checkpoint_seconds)
    app.state.audit = AuditTrail(recorder, settings.public_base)
    recorder.start()
    app.state.resources = ResourceService(db, indexer, app.state.audit)
    app.state.capability = _capability(settings)
    export_worker = ExportWorker(db, statement_timeout=settings.export_statement_timeout)
    dispatcher = _dispatcher(settings, db, app.state.resources)
    try:
        await smart_auth.startup(app)
        await webapp.startup(app)  # the hospital app's SMART client (after the auth server's tables are in use)
        export_worker.start()
        if settings.subscription_workers:
            dispatcher.start()
        if settings.demo:
            await load_demo(app.state.resources)
            await smart_auth.demo_setup(db)
        _freeze_startup_objects()
        yield
    finally:
        await _shut_down(dispatcher.stop, export_worker.stop, recorder.stop, db.close)
        if supervisor is not None:
            await asyncio.to_thread(supervisor.stop)


SHUTDOWN_STEP_SECONDS = 5.0


async def _shut_down(*steps: Callable[[], Awaitable[None]]) -> None:
    """Each step in order, each bounded in time and none stopping the next: with the database
    down, the audit flush fails (its rows are lost with the process, as a crash would lose
    them) and the pool closes without waiting for it."""
    for step in steps:
        try:
            await asyncio.wait_for(step(), SHUTDOWN_STEP_SECONDS)
        except Exception as exc:  # noqa: BLE001 - logged; the process is ending either way
            log.warning("shutdown: %s did not finish cleanly: %s", getattr(step, "__qualname__", step), exc)


def _freeze_startup_objects() -> None:
    """Move everything start-up built (definitions, registries, modules: ~125k objects) out of
    the collector's reach: they live as long as the process, and each full collection would
    otherwise walk them all (~70 ms) while requests wait."""
    gc.collect()
    gc.freeze()


def _capability(settings: Settings) -> capability.Metadata:
    # fhirclient and other SMART clients discover the OAuth endpoints only in rest.security.
    security = smart_auth.security_component(settings.public_base) if settings.auth == "on" else None
    # The operations come from the registry their modules (imported above) filled.
    guides = claims_of(load_profiles(settings.profiles_dir, settings.profiles_strict))  # cached: loaded once
    return capability.Metadata(capability.build_capability_statement(
        settings.public_base, _software_version(), search_params_for, security, guides))


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="fhir_server", version=_software_version(), lifespan=_lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    pharmacy_settings.configure(settings)  # the pharmacy rules read FHIR_PRESCRIBER_* through it
    load_rule_modules(settings.rule_modules)  # before any write: the hook's rules are registered on import
    # Audit inside the request id (it reads the id); the request id middleware is outermost.
    app.add_middleware(AuditMiddleware, trail_of=lambda: getattr(app.state, "audit", None))
    # Browser SMART apps call the API cross-origin with a bearer token. "*" without credentials
    # is safe: nothing here relies on cookies (the login pages' cookie never authorizes the API).
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_credentials=False,
                       allow_headers=CORS_REQUEST_HEADERS, expose_headers=CORS_EXPOSED_HEADERS, max_age=600)
    # Plain reads and creates are answered here, inside the request id, before CORS, audit and routing.
    app.add_middleware(HotPathMiddleware, trail_of=lambda: getattr(app.state, "audit", None))
    app.add_middleware(RequestIdMiddleware)
    # Outermost: a client that disconnects cancels its request (and its database statement).
    app.add_middleware(DisconnectMiddleware)
    _install_error_handlers(app)

    @app.get("/health")
    async def health(request: Request) -> Response:
        """Readiness: 200 when the database answers, 503 (OperationOutcome, Retry-After) when not."""
        async with app.state.db.connection() as conn:
            await conn.execute("SELECT 1")
        return Response(b'{"status":"pass"}', media_type="application/json")


    @app.get("/fhir/metadata")
    async def metadata(request: Request) -> Response:
        body = app.state.capability.render(request.query_params.get("_summary"),
                                           request.query_params.get("_elements"))
        return fhir_response(request, body, headers=smart_auth.cors_headers())

    @app.options("/fhir/metadata")
    async def metadata_preflight() -> Response:
        return smart_auth.cors_preflight_response("GET, OPTIONS")

    @app.api_route("/fhir/metadata", methods=["POST", "PUT", "PATCH", "DELETE"])
    async def metadata_wrong_method(request: Request) -> Response:
        raise MethodNotAllowed(f"{request.method} is not allowed on /metadata: it is read-only")

    # Every FHIR route authenticates and binds the caller's access policy (401 without a token).
    guarded = [Depends(bind_policy)]
    # Reads and creates first (the hot paths; their patterns cannot capture any other route's paths), then the
    # discovery and OAuth endpoints, which must precede the generic /fhir/{type}/{id} routes.
    # The served OperationDefinitions' (and scheduling's SearchParameters') literal paths precede the generic
    # read of the hot router.
    for router in (audit_routes.router,
                   operation_definitions.router,
                   scheduling_routes.router,
                   pharmacy_routes.router,
                   summary_operation.router,
                   admissions_routes.router,
                   claims_routes.router,
                   billing_routes.router,
                   subscription_routes.router,
                   resource_router.hot_router):
        app.include_router(router, prefix="/fhir", dependencies=guarded)
    app.include_router(smart_auth.router)
    app.include_router(accounts_admin_routes.router)
    app.include_router(accounts_register_routes.router)
    app.include_router(billing_routes.webhook_router)
    app.include_router(home.router)
    app.include_router(webapp.router)  # the hospital app at /app/ (a SMART client of the API below)
    for router in (exchange_router.router, export_routes.router, validate_operation.router,
                   everything_operation.router, docref_operation.router, expand_operation.router,
                   lookup_operation.router,
                   validate_code_operation.router, subsumes_operation.router, translate_operation.router,
                   unsupported_operations.router, history_routes.router, search_router.router,
                   resource_router.router):
        app.include_router(router, prefix="/fhir", dependencies=guarded)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for multi-process serving: each worker reads its settings from FHIR_* variables."""
    return create_app(load_settings())
