"""Email through SMTP (stdlib smtplib in a thread): FHIR_SMTP_URL ``smtp://host:port`` (off when unset),
sender FHIR_SMTP_FROM. One message per call; a refused or unreachable server is a failure reason, never
an exception, so the caller retries it like any other delivery."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

__all__ = ["Mailer", "configure", "mailer"]

_MAILER: list[Mailer | None] = [None]


class Mailer:
    def __init__(self, url: str, sender: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise SystemExit(f"FHIR_SMTP_URL {url!r} is not smtp://host:port")
        self.host, self.port, self.sender, self.timeout = parts.hostname, parts.port or 25, sender, timeout

    def _send(self, to: str, subject: str, text: str, language: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message["Content-Language"] = language
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)

    async def send(self, to: str, subject: str, text: str, language: str) -> str | None:
        """None when the SMTP server accepted the message, else why not."""
        try:
            await asyncio.to_thread(self._send, to, subject, text, language)
        except (OSError, smtplib.SMTPException) as exc:
            return f"SMTP delivery failed: {type(exc).__name__}"
        return None


def configure(url: str | None, sender: str) -> None:
    """Set once at start-up; None turns email off (the email channel is then refused)."""
    _MAILER[0] = Mailer(url, sender) if url else None


def mailer() -> Mailer | None:
    return _MAILER[0]
