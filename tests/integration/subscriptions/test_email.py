"""The email channel through a real SMTP server in-process (aiosmtpd): English and Spanish templates, no
clinical content, every message a Communication (completed, or not-done when SMTP refuses)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from fhir_server.config import Settings
from tests.conftest import free_port

from .helpers import wait_status


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = 0  # answer this many messages with 451

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        if self.refuse:
            self.refuse -= 1
            return "451 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


SMTP_PORT = free_port()
INBOX = Inbox()


@pytest.fixture(scope="module")
def smtp() -> Iterator[Inbox]:
    controller = Controller(INBOX, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield INBOX
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def server_settings(server_settings: Settings, smtp: Inbox) -> Settings:
    return replace(server_settings, smtp_url=f"smtp://127.0.0.1:{SMTP_PORT}", smtp_from="clinic@example.org")


def _email_subscription(family: str, language: str) -> dict[str, Any]:
    return {"resourceType": "Subscription", "language": language, "status": "requested", "reason": "t",
            "criteria": f"Patient?family={family}", "channel": {"type": "email", "endpoint": "mailto:amy@example.org"}}


def _wait(inbox: Inbox, count: int) -> list[Message]:
    deadline = time.monotonic() + 15
    while len(inbox.messages) < count:
        assert time.monotonic() < deadline, f"{len(inbox.messages)} messages"
        time.sleep(0.05)
    return inbox.messages


def test_spanish_email_and_its_communication(client: httpx.Client, smtp: Inbox) -> None:
    family = "Mail" + uuid.uuid4().hex[:8]
    sid = client.post("/Subscription", json=_email_subscription(family, "es-MX")).json()["id"]
    wait_status(client, sid, "active")  # no handshake mail
    assert smtp.messages == []
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    message = _wait(smtp, 1)[0]
    assert (message["From"], message["To"], message["Subject"]) == \
        ("clinic@example.org", "amy@example.org", "Actualización de su suscripción")
    body = message.get_content().replace("\r\n", "\n")  # type: ignore[attr-defined]
    link = f"{str(client.base_url).rstrip('/')}/Subscription/{sid}/$events?eventsSinceNumber=1"
    assert body == f"Hay una nueva actualización (evento 1) de su suscripción.\nConsúltela en: {link}\n"
    assert family not in body  # no resource content in the message
    found = client.get("/Communication", params={"based-on": f"Subscription/{sid}"}).json()
    assert found["total"] == 1
    record = found["entry"][0]["resource"]
    assert (record["status"], record["language"], record["payload"][0]["contentString"]) == ("completed", "es", body)


def test_refused_email_is_retried_and_recorded(client: httpx.Client, smtp: Inbox) -> None:
    family = "Mail" + uuid.uuid4().hex[:8]
    sid = client.post("/Subscription", json=_email_subscription(family, "en")).json()["id"]
    wait_status(client, sid, "active")
    before = len(smtp.messages)
    smtp.refuse = 1
    client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    message = _wait(smtp, before + 1)[before]
    assert message["Subject"] == "Update for your subscription"
    deadline = time.monotonic() + 10
    while True:
        found = client.get("/Communication", params={"based-on": f"Subscription/{sid}", "_sort": "_lastUpdated"}).json()
        if found["total"] == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    statuses = [(e["resource"]["status"], e["resource"].get("statusReason", {}).get("text"))
                for e in found["entry"]]
    assert statuses == [("not-done", "SMTP delivery failed: SMTPDataError"), ("completed", None)]
