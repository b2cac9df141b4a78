"""A local double of the few Stripe HTTP endpoints the billing package uses, as a real HTTP
server (the official ``stripe`` client talks to it through FHIR_STRIPE_API_BASE), and events
signed exactly as Stripe signs them (https://docs.stripe.com/webhooks#verify-manually)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SECRET = "whsec_test_billing"


class FakeStripe:
    def __init__(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, dict[str, Any]] = {}
        self.keys: list[str] = []
        self.refunds: list[tuple[str, int, str | None]] = []
        self.lock = threading.Lock()

    def create_intent(self, form: dict[str, str], key: str | None) -> dict[str, Any]:
        with self.lock:
            if key:
                self.keys.append(key)
                if key in self.by_key:
                    return self.by_key[key]
            pid = "pi_" + uuid.uuid4().hex[:20]
            intent = {"id": pid, "object": "payment_intent", "amount": int(form["amount"]),
                      "currency": form["currency"], "status": "requires_payment_method",
                      "client_secret": f"{pid}_secret_x", "metadata": {"invoice": form.get("metadata[invoice]")}}
            self.intents[pid] = intent
            if key:
                self.by_key[key] = intent
            return intent


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            if self.headers.get("Authorization") != "Bearer sk_test_fake":
                self._answer(401, {"error": {"type": "invalid_request_error", "message": "bad key"}})
            elif self.path == "/v1/payment_intents":
                self._answer(200, fake.create_intent(form, self.headers.get("Idempotency-Key")))
            elif self.path.startswith("/v1/payment_intents/") and self.path.endswith("/cancel"):
                intent = fake.intents[self.path.split("/")[3]]
                intent["status"] = "canceled"
                self._answer(200, intent)
            elif self.path == "/v1/refunds":
                fake.refunds.append((form["payment_intent"], int(form["amount"]), self.headers.get("Idempotency-Key")))
                self._answer(200, {"id": "re_" + uuid.uuid4().hex[:12], "object": "refund", "status": "succeeded",
                                   "payment_intent": form["payment_intent"], "amount": int(form["amount"])})
            else:
                self._answer(404, {"error": {"type": "invalid_request_error", "message": self.path}})
    return Handler


@contextmanager
def running() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def signed_event(kind: str, intent: dict[str, Any], secret: str = SECRET,
                 event_id: str | None = None) -> tuple[bytes, str]:
    """(payload, Stripe-Signature header): t=..., v1=HMAC-SHA256(secret, f"{t}.{payload}")."""
    stamp = int(time.time())
    payload = json.dumps({"id": event_id or "evt_" + uuid.uuid4().hex[:20], "object": "event", "type": kind,
                          "api_version": "2024-06-20", "created": stamp,
                          "data": {"object": {**intent, "status": "succeeded" if kind.endswith("succeeded")
                                              else intent["status"]}}}).encode()
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return payload, f"t={stamp},v1={mac}"
