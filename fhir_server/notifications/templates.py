"""Message texts, English and Spanish. No clinical content: a message says that something changed and
links to where an authorised reader sees it."""

from __future__ import annotations

__all__ = ["language_of", "subscription_update"]

_UPDATE = {
    "en": ("Update for your subscription",
           "There is a new update (event {number}) for your subscription.\nSee it at: {link}\n"),
    "es": ("Actualización de su suscripción",
           "Hay una nueva actualización (evento {number}) de su suscripción.\nConsúltela en: {link}\n"),
}


def language_of(code: str | None) -> str:
    """The template language for a BCP-47 code (``es-MX`` -> ``es``); English when unknown."""
    primary = (code or "en").split("-")[0].lower()
    return primary if primary in _UPDATE else "en"


def subscription_update(language: str, number: int, link: str) -> tuple[str, str]:
    subject, body = _UPDATE[language_of(language)]
    return subject, body.format(number=number, link=link)
