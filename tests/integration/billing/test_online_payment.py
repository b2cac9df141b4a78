"""Online payment through Stripe's HTTP interface (a local double; the official client talks to
it): $pay starts a PaymentIntent with the Idempotency-Key passed on; the signed webhook records
the payment once however often it is delivered; a bad signature, an unknown event or intent is
400; a failed charge records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port

from . import fake_stripe
from .helpers import account, charge, fresh, params, price


@pytest.fixture(scope="module")
def stripe_double() -> Iterator[tuple[fake_stripe.FakeStripe, str]]:
    with fake_stripe.running() as running:
        yield running


@pytest.fixture(scope="module")
def server_settings(database_url: str, stripe_double: tuple[fake_stripe.FakeStripe, str]) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                    pool_max=8, log_level="warning", stripe_api_key="sk_test_fake",
                    stripe_webhook_secret=fake_stripe.SECRET, stripe_api_base=stripe_double[1])


@pytest.fixture(scope="module")
def webhook_url(server_url: str) -> str:
    return server_url.removesuffix("/fhir") + "/billing/stripe/webhook"


def _issued(client: httpx.Client, amount: float) -> str:
    code, patient = fresh("c"), fresh("p")
    price(client, code, amount)
    acct = account(client, patient)
    charge(client, acct, patient, code)
    made = client.post(f"/Account/{acct}/$invoice", json=params({"name": "issue", "valueBoolean": True}))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _online(value: float) -> dict[str, Any]:
    return params({"name": "amount", "valueMoney": {"value": value, "currency": "EUR"}},
                  {"name": "method", "valueCode": "online"})


def _value(answer: dict[str, Any], name: str) -> Any:
    return next(v for p in answer["parameter"] if p["name"] == name for k, v in p.items() if k.startswith("value"))


def _payments(url: str, invoice_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT amount, provider, method FROM billing_payment WHERE invoice_id = %s",
                            (invoice_id,)).fetchall()


def test_pay_online_then_webhook_twice_records_once(client: httpx.Client, database_url: str, webhook_url: str,
                                                    stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    fake = stripe_double[0]
    invoice = _issued(client, 64.20)
    key = fresh("k")
    started = client.post(f"/Invoice/{invoice}/$pay", json=_online(64.20), headers={"Idempotency-Key": key})
    assert started.status_code == 200, started.text
    pid = _value(started.json(), "paymentIntent")
    assert fake.intents[pid]["amount"] == 6420 and fake.intents[pid]["currency"] == "eur"
    assert fake.keys[-1].endswith(key)  # the caller's key went on to Stripe
    assert _value(started.json(), "status") == "pending"
    assert _payments(database_url, invoice) == []  # nothing is paid before Stripe says so
    payload, signature = fake_stripe.signed_event("payment_intent.succeeded", fake.intents[pid])
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    first = httpx.post(webhook_url, content=payload, headers=headers)
    second = httpx.post(webhook_url, content=payload, headers=headers)  # Stripe re-delivers
    assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
    assert (second.status_code, second.json()) == (200, {"received": True, "duplicate": True})
    assert _payments(database_url, invoice) == [(Decimal("64.20"), "stripe", "online")]
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "balanced"
    again = fake_stripe.signed_event("payment_intent.succeeded", fake.intents[pid])  # a new event id, same intent
    assert httpx.post(webhook_url, content=again[0], headers={"Stripe-Signature": again[1]}).status_code == 200
    assert len(_payments(database_url, invoice)) == 1


def test_bad_signature_unknown_event_and_unknown_intent_are_400(client: httpx.Client, database_url: str,
                                                                webhook_url: str) -> None:
    intent = {"id": "pi_" + fresh(), "object": "payment_intent", "amount": 100, "currency": "eur",
              "status": "requires_payment_method"}
    payload, _ = fake_stripe.signed_event("payment_intent.succeeded", intent)
    _, wrong = fake_stripe.signed_event("payment_intent.succeeded", intent, secret="whsec_other")
    bad = httpx.post(webhook_url, content=payload, headers={"Stripe-Signature": wrong})
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["diagnostics"].startswith("Webhook signature does not verify")
    assert httpx.post(webhook_url, content=payload).status_code == 400  # no signature at all
    unknown_intent = fake_stripe.signed_event("payment_intent.succeeded", intent)
    response = httpx.post(webhook_url, content=unknown_intent[0], headers={"Stripe-Signature": unknown_intent[1]})
    assert response.status_code == 400
    assert "names a payment this server did not start" in response.json()["issue"][0]["diagnostics"]
    odd = fake_stripe.signed_event("customer.created", intent)
    response = httpx.post(webhook_url, content=odd[0], headers={"Stripe-Signature": odd[1]})
    assert response.status_code == 400
    assert response.json()["issue"][0]["diagnostics"] == "Unknown webhook event type 'customer.created'"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM billing_webhook_event WHERE event_id = %s",
                            (__import__("json").loads(unknown_intent[0])["id"],)).fetchone() == (0,)


def test_a_failed_charge_records_nothing_and_can_be_retried(client: httpx.Client, database_url: str,
                                                            webhook_url: str,
                                                            stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    fake = stripe_double[0]
    invoice = _issued(client, 30)
    first = client.post(f"/Invoice/{invoice}/$pay", json=_online(30), headers={"Idempotency-Key": fresh()})
    pid = _value(first.json(), "paymentIntent")
    failed = fake_stripe.signed_event("payment_intent.payment_failed", fake.intents[pid])
    assert httpx.post(webhook_url, content=failed[0], headers={"Stripe-Signature": failed[1]}).status_code == 200
    assert _payments(database_url, invoice) == []
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "issued"
    retry = client.post(f"/Invoice/{invoice}/$pay", json=_online(30), headers={"Idempotency-Key": fresh()})
    assert retry.status_code == 200, retry.text
    late = fake_stripe.signed_event("payment_intent.succeeded", fake.intents[pid])  # the failed one: settled
    assert httpx.post(webhook_url, content=late[0], headers={"Stripe-Signature": late[1]}).status_code == 200
    assert _payments(database_url, invoice) == []
    too_much = client.post(f"/Invoice/{invoice}/$pay", json=_online(31), headers={"Idempotency-Key": fresh()})
    assert too_much.status_code == 422


def test_refund_reverses_an_online_payment_and_reopens_the_invoice(
        client: httpx.Client, database_url: str, webhook_url: str,
        stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    fake = stripe_double[0]
    invoice = _issued(client, 12.34)
    started = client.post(f"/Invoice/{invoice}/$pay", json=_online(12.34), headers={"Idempotency-Key": fresh()})
    pid = _value(started.json(), "paymentIntent")
    paid = fake_stripe.signed_event("payment_intent.succeeded", fake.intents[pid])
    assert httpx.post(webhook_url, content=paid[0], headers={"Stripe-Signature": paid[1]}).status_code == 200
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM billing_payment WHERE invoice_id = %s", (invoice,)).fetchone()
    assert row is not None
    key = fresh("r")
    refunded = client.post(f"/PaymentReconciliation/{row[0]}/$refund", headers={"Idempotency-Key": key})
    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["status"] == "cancelled"
    assert fake.refunds[-1][:2] == (pid, 1234) and str(fake.refunds[-1][2]).endswith(key)
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "issued"
    again = client.post(f"/PaymentReconciliation/{row[0]}/$refund", headers={"Idempotency-Key": fresh()})
    assert again.status_code == 422
    assert again.json()["issue"][0]["diagnostics"] == f"PaymentReconciliation/{row[0]} is already refunded"
    assert len([r for r in fake.refunds if r[0] == pid]) == 1


def test_a_pending_payment_can_be_cancelled_and_then_never_records(
        client: httpx.Client, database_url: str, webhook_url: str,
        stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    fake = stripe_double[0]
    invoice = _issued(client, 20)
    started = client.post(f"/Invoice/{invoice}/$pay", json=_online(20), headers={"Idempotency-Key": fresh()})
    pid = _value(started.json(), "paymentIntent")
    body = params({"name": "paymentIntent", "valueString": pid})
    cancelled = client.post(f"/Invoice/{invoice}/$cancel-payment", json=body)
    assert cancelled.status_code == 200, cancelled.text
    assert _value(cancelled.json(), "status") == "cancelled"
    assert fake.intents[pid]["status"] == "canceled"
    twice = client.post(f"/Invoice/{invoice}/$cancel-payment", json=body)
    assert twice.status_code == 422
    assert twice.json()["issue"][0]["diagnostics"] == f"{pid} is cancelled: only a pending payment can be cancelled"
    late = fake_stripe.signed_event("payment_intent.succeeded", fake.intents[pid])
    assert httpx.post(webhook_url, content=late[0], headers={"Stripe-Signature": late[1]}).status_code == 200
    assert _payments(database_url, invoice) == []


def test_twenty_simultaneous_deliveries_of_one_event_record_once(
        client: httpx.Client, database_url: str, webhook_url: str,
        stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    fake = stripe_double[0]
    invoice = _issued(client, 50)
    started = client.post(f"/Invoice/{invoice}/$pay", json=_online(50), headers={"Idempotency-Key": fresh()})
    payload, signature = fake_stripe.signed_event("payment_intent.succeeded",
                                                  fake.intents[_value(started.json(), "paymentIntent")])

    def deliver(_: int) -> httpx.Response:
        return httpx.post(webhook_url, content=payload, headers={"Stripe-Signature": signature}, timeout=60)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(deliver, range(20)))
    assert [a.status_code for a in answers] == [200] * 20
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * 19
    assert _payments(database_url, invoice) == [(Decimal("50.00"), "stripe", "online")]
