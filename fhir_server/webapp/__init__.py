"""The hospital's web app, served at ``/app/`` (issue 18): a SMART app of this server and nothing more.

Backend-for-frontend: the app is a confidential SMART client registered at start-up
(``registration``); a user signs in through the server's own standalone launch (``login``);
the tokens stay in PostgreSQL (``sessions``), the browser holds only an HttpOnly session
cookie; every page reads and writes through the public FHIR API with the user's token
(``fhir_api``: in-process HTTP over httpx's ASGI transport), so the same policy and audit
apply as for any external app. Pages are Jinja2 templates (``render``) with vendored
Bootstrap and htmx (static/VENDORED.md), a strict CSP without inline script (``security``),
CSRF on every form, English and Spanish (``i18n``).
"""

from .registration import startup
from .routes import router

__all__ = ["router", "startup"]
