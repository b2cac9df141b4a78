"""English and Spanish: a small message catalogue; the user's choice is kept in a cookie."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

__all__ = ["LANGUAGES", "LANG_COOKIE", "language", "translator"]

LANG_COOKIE = "fhir_app_lang"
LANGUAGES = {"en": "English", "es": "Español"}
MESSAGES: dict[str, dict[str, str]] = {
    "skip": {"en": "Skip to content", "es": "Saltar al contenido"},
    "language": {"en": "Language", "es": "Idioma"},
    "change": {"en": "Change", "es": "Cambiar"},
    "welcome_title": {"en": "Welcome", "es": "Bienvenido"},
    "welcome_text": {"en": "Book appointments and see your care at {hospital}.",
                     "es": "Reserve citas y consulte su atención en {hospital}."},
    "sign_in": {"en": "Sign in", "es": "Iniciar sesión"},
    "sign_out": {"en": "Sign out", "es": "Cerrar sesión"},
    "signed_out": {"en": "You are signed out.", "es": "Ha cerrado la sesión."},
    "signed_in_as": {"en": "Signed in as {name}", "es": "Sesión iniciada como {name}"},
    "home_title": {"en": "Your care", "es": "Su atención"},
    "my_appointments": {"en": "My appointments", "es": "Mis citas"},
    "no_appointments": {"en": "You have no appointments.", "es": "No tiene citas."},
    "when": {"en": "When", "es": "Cuándo"},
    "status": {"en": "Status", "es": "Estado"},
    "what": {"en": "What", "es": "Qué"},
    "error_title": {"en": "Something went wrong", "es": "Algo salió mal"},
    "error_text": {"en": "We could not show this page. Please try again in a moment.",
                   "es": "No pudimos mostrar esta página. Inténtelo de nuevo en un momento."},
    "not_found_title": {"en": "Page not found", "es": "Página no encontrada"},
    "not_found_text": {"en": "There is no page at this address.", "es": "No hay ninguna página en esta dirección."},
    "request_id": {"en": "Reference for the help desk: {id}", "es": "Referencia para el servicio de ayuda: {id}"},
    "back_home": {"en": "Back to the start page", "es": "Volver a la página de inicio"},
    "login_failed": {"en": "Sign-in did not complete: {reason}. Please try again.",
                     "es": "No se completó el inicio de sesión: {reason}. Inténtelo de nuevo."},
    "form_expired": {"en": "This form has expired. Please reload the page and try again.",
                     "es": "Este formulario ha caducado. Vuelva a cargar la página e inténtelo de nuevo."},
}


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else "en"


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: str) -> str:
        entry = MESSAGES[key]
        return entry.get(lang, entry["en"]).format(**values)
    return t
