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
    "new_patient": {"en": "New patient?", "es": "¿Paciente nuevo?"},
    "register": {"en": "Create your account", "es": "Cree su cuenta"},
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
    "book": {"en": "Book an appointment", "es": "Reservar una cita"},
    "choose_department": {"en": "Choose a department", "es": "Elija un departamento"},
    "no_departments": {"en": "No department takes bookings yet.", "es": "Ningún departamento acepta reservas todavía."},
    "choose_doctor": {"en": "Choose a doctor", "es": "Elija un médico"},
    "no_doctors": {"en": "No doctor of this department takes bookings.",
                   "es": "Ningún médico de este departamento acepta reservas."},
    "specialty": {"en": "Specialty", "es": "Especialidad"},
    "choose_time": {"en": "Choose a date and time", "es": "Elija fecha y hora"},
    "date": {"en": "Date", "es": "Fecha"},
    "show_times": {"en": "Show free times", "es": "Ver horas libres"},
    "free_times": {"en": "Free times on {day}", "es": "Horas libres el {day}"},
    "no_times": {"en": "No free time on this day. Try another date.",
                 "es": "No hay horas libres este día. Pruebe otra fecha."},
    "confirm_title": {"en": "Confirm your appointment", "es": "Confirme su cita"},
    "with_doctor": {"en": "Doctor", "es": "Médico"},
    "confirm": {"en": "Confirm booking", "es": "Confirmar reserva"},
    "choose_other": {"en": "Choose another time", "es": "Elegir otra hora"},
    "booked_title": {"en": "Your appointment is booked", "es": "Su cita está reservada"},
    "book_failed_title": {"en": "The booking did not go through", "es": "No se pudo hacer la reserva"},
    "try_again": {"en": "Try again", "es": "Intentar de nuevo"},
    "cancel": {"en": "Cancel", "es": "Cancelar"},
    "cancel_appointment": {"en": "Cancel the appointment of {when}", "es": "Cancelar la cita del {when}"},
    "cancelled": {"en": "The appointment is cancelled.", "es": "La cita está cancelada."},
}


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else "en"


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: str) -> str:
        entry = MESSAGES[key]
        return entry.get(lang, entry["en"]).format(**values)
    return t
