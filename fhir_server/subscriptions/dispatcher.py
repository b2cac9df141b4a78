"""The delivery workers of one server process: match settled changes, then deliver due subscriptions.

Woken by LISTEN/NOTIFY (the history trigger notifies at commit; the matcher notifies after writing
events, so every process's workers see them), with a poll fallback (``FHIR_SUBSCRIPTION_POLL``) for a
lost listener connection and for retries whose backoff has run out. Any number of processes share the
work: the matcher runs in one of them at a time (advisory lock), deliveries are spread by row locks.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import psycopg

from ..db import Database
from ..errors import FhirError
from ..notifications.communication import communication
from ..notifications.email import mailer
from ..notifications.sms import sms_provider
from ..notifications.templates import subscription_update
from ..resources.service import ResourceService
from .delivery import post
from .matcher import match_batch
from .model import Channel
from .notification import Event, notification_bundle, status_parameters
from .rules import serving
from .state import Due, backoff, mark_failed, mark_sent, next_event, take_due

__all__ = ["DeliveryPolicy", "Dispatcher"]

log = logging.getLogger("fhir_server.subscriptions")
CHANNEL = "fhir_subscription"


@dataclass(frozen=True)
class DeliveryPolicy:
    timeout: float = 5.0  # seconds for one attempt
    max_failures: int = 5  # consecutive failures before the subscription is marked error
    retry_base: float = 1.0  # first retry delay; doubles per failure
    retry_max: float = 300.0  # the longest delay (an error subscription keeps trying at this pace)
    poll: float = 1.0  # seconds between polls when no notification wakes the workers


async def _to_person(channel: Channel, subject: str, text: str) -> str | None:
    address = str(channel.endpoint).partition(":")[2]
    if channel.type == "sms":
        sms = sms_provider()
        return await sms.send(address, text) if sms else "The sms channel is off on this server"
    smtp = mailer()
    return await smtp.send(address, subject, text, channel.language) if smtp else \
        "The email channel is off on this server (FHIR_SMTP_URL is not set)"


class Dispatcher:
    def __init__(self, db: Database, resources: ResourceService, base: str, policy: DeliveryPolicy) -> None:
        self.db, self.resources, self.base, self.policy = db, resources, base, policy
        self.wake = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.http: httpx.AsyncClient | None = None

    def start(self) -> None:
        self.http = httpx.AsyncClient(follow_redirects=False)
        self.tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._loop())]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.db.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for _ in conn.notifies():
                        self.wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll keeps delivering while the listener reconnects
                log.warning("subscription listener: %s", exc)
                await asyncio.sleep(self.policy.poll)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad row must not stop delivery for everyone
                log.exception("subscription dispatcher error")
            try:
                await asyncio.wait_for(self.wake.wait(), self.policy.poll)
            except TimeoutError:
                pass
            self.wake.clear()

    async def run_once(self) -> None:
        """Match what has settled, then deliver until nothing is due."""
        while True:
            async with self.db.transaction() as conn:
                written = await match_batch(conn)
                if written:
                    await conn.execute(f"NOTIFY {CHANNEL}")
            if not written:
                break
        while await self.deliver_one():
            pass

    def _body(self, due: Due, kind: str, event: Event | None) -> bytes | None:
        if not due.channel.bundle:
            return None  # R4 without channel.payload: the notification is the empty POST itself
        events = [event] if event else []
        status = status_parameters(self.base, due.id, due.topic, "active" if kind != "handshake" else "requested",
                                   kind, due.since, events, due.channel.content)
        return orjson.dumps(notification_bundle(self.base, status, events, due.channel.content))

    async def deliver_one(self) -> bool:
        """Take one due subscription and make one attempt; False when nothing is due."""
        assert self.http is not None
        async with self.db.transaction() as conn:
            due = await take_due(conn)
            if due is None:
                return False
            event = None if due.status == "requested" else await next_event(conn, due.id)
            kind = "handshake" if due.status == "requested" else "event-notification" if event else "heartbeat"
            failure, mail = await self._send(due, kind, event)
            if failure is None:
                await mark_sent(conn, due.id, event)
                status = "active"
            else:
                failures = due.failures + 1
                status = "error" if failures >= self.policy.max_failures else due.status
                await mark_failed(conn, due, event, failure, status,
                                  backoff(failures, self.policy.retry_base, self.policy.retry_max))
        if status != due.status:
            await self._mirror(due.id, status, failure)
        if mail is not None:  # every message sent, or tried, becomes a Communication
            medium = "SMSWRIT" if due.channel.type == "sms" else "EMAILWRIT"
            await self.resources.create("Communication", communication(f"Subscription/{due.id}", medium,
                                                                       mail, failure, due.channel.language))
        return True

    async def _send(self, due: Due, kind: str, event: Event | None) -> tuple[str | None, str | None]:
        """(failure or None, the message text sent to a person). People get no handshake or heartbeat."""
        assert self.http is not None
        if due.channel.type == "rest-hook":
            return await post(self.http, due.channel, self._body(due, kind, event), self.policy.timeout), None
        if event is None:
            return None, None
        link = f"{self.base}/Subscription/{due.id}/$events?eventsSinceNumber={event.number}"
        subject, text = subscription_update(due.channel.language, event.number, link)
        return await _to_person(due.channel, subject, text), text

    async def _mirror(self, sid: str, status: str, error: str | None) -> None:
        """Subscription.status (and .error) follow the delivery state, written as the server."""
        try:
            current = await self.resources.read("Subscription", sid)
            resource: dict[str, Any] = orjson.loads(current.body or b"{}")
            resource["status"] = status
            if error:
                resource["error"] = error
            else:
                resource.pop("error", None)
            with serving():
                await self.resources.update("Subscription", sid, resource, if_match=str(current.version_id))
        except FhirError as exc:  # deleted or rewritten meanwhile: the client's write decides
            log.info("Subscription/%s status not mirrored: %s", sid, exc.message)
