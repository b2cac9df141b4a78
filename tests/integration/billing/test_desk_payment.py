"""Invoice/$pay at the desk: amounts by hand, balanced when the share is paid, Idempotency-Key
semantics, bad input refused with nothing recorded, 20 simultaneous requests with one key -> one payment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import psycopg

from .helpers import account, charge, claim_response, fresh, params, price


def _issued_invoice(client: httpx.Client, amount: float = 100.0, insurance: float | None = None) -> str:
    code = fresh("c")
    price(client, code, amount)
    patient = fresh("p")
    acct = account(client, patient)
    charge(client, acct, patient, code)
    extra = []
    if insurance is not None:
        cr = claim_response(client, patient, [insurance])
        extra = [{"name": "claimResponse", "valueReference": {"reference": f"ClaimResponse/{cr}"}}]
    made = client.post(f"/Account/{acct}/$invoice", json=params({"name": "issue", "valueBoolean": True}, *extra))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _pay(value: float, method: str = "cash", currency: str = "EUR") -> dict[str, Any]:
    return params({"name": "amount", "valueMoney": {"value": value, "currency": currency}},
                  {"name": "method", "valueCode": method})


def _payments(url: str, invoice_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT amount, currency, method, status FROM billing_payment WHERE invoice_id = %s"
                            " ORDER BY created_at", (invoice_id,)).fetchall()


def _count(url: str, rtype: str, invoice_id: str) -> int:
    path = "detail" if rtype == "PaymentReconciliation" else "request"
    with psycopg.connect(url) as conn:
        probe = (f'[{{"request": {{"reference": "Invoice/{invoice_id}"}}}}]' if path == "detail"
                 else f'{{"reference": "Invoice/{invoice_id}"}}')
        row = conn.execute(f"SELECT count(*) FROM resource WHERE resource_type = %s AND NOT deleted"  # noqa: S608
                           f" AND version_id > 0 AND content->'{path}' @> %s::jsonb", (rtype, probe)).fetchone()
    return int(row[0]) if row else 0


def test_two_desk_payments_balance_the_patient_share(client: httpx.Client, database_url: str) -> None:
    invoice = _issued_invoice(client, 100.0, insurance=70.0)  # patient owes 100.00 - 70.00 = 30.00
    first = client.post(f"/Invoice/{invoice}/$pay", json=_pay(12.5), headers={"Idempotency-Key": fresh()})
    assert first.status_code == 201, first.text
    assert first.json()["paymentAmount"] == {"value": 12.5, "currency": "EUR"}
    assert first.json()["detail"][0]["request"] == {"reference": f"Invoice/{invoice}"}
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "issued"
    too_much = client.post(f"/Invoice/{invoice}/$pay", json=_pay(20), headers={"Idempotency-Key": fresh()})
    assert too_much.status_code == 422
    assert too_much.json()["issue"][0]["diagnostics"] == (
        f"Invoice/{invoice}: 20 EUR is more than the 17.50 EUR still owed")
    rest = client.post(f"/Invoice/{invoice}/$pay", json=_pay(17.5, "card"), headers={"Idempotency-Key": fresh()})
    assert rest.status_code == 201, rest.text
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "balanced"
    assert _payments(database_url, invoice) == [(Decimal("12.50"), "EUR", "cash", "succeeded"),
                                                (Decimal("17.50"), "EUR", "card", "succeeded")]
    assert _count(database_url, "PaymentReconciliation", invoice) == 2
    assert _count(database_url, "PaymentNotice", invoice) == 2
    after = client.post(f"/Invoice/{invoice}/$pay", json=_pay(1), headers={"Idempotency-Key": fresh()})
    assert after.status_code == 422
    assert after.json()["issue"][0]["diagnostics"] == f"Invoice/{invoice} is balanced: only an issued Invoice is paid"


def test_idempotency_key_replays_and_refuses_another_body(client: httpx.Client, database_url: str) -> None:
    invoice = _issued_invoice(client, 50.0)
    key = {"Idempotency-Key": fresh()}
    first = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10), headers=key)
    again = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10), headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = client.post(f"/Invoice/{invoice}/$pay", json=_pay(11), headers=key)
    assert other.status_code == 422
    assert other.json()["issue"][0]["diagnostics"] == "This Idempotency-Key was already used for a different request"
    missing = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10))
    assert missing.status_code == 400
    assert len(_payments(database_url, invoice)) == 1


def test_cancelled_invoice_and_wrong_currency_record_nothing(client: httpx.Client, database_url: str) -> None:
    invoice = _issued_invoice(client, 40.0)
    dollars = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10, currency="USD"),
                          headers={"Idempotency-Key": fresh()})
    assert dollars.status_code == 422
    assert dollars.json()["issue"][0]["diagnostics"] == f"Invoice/{invoice} is in EUR, the payment in USD"
    stored = client.get(f"/Invoice/{invoice}").json()
    body = {k: v for k, v in stored.items() if k != "meta"} | {"status": "cancelled", "cancelledReason": "error"}
    assert client.put(f"/Invoice/{invoice}", json=body).status_code == 200
    cancelled = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10), headers={"Idempotency-Key": fresh()})
    assert cancelled.status_code == 422
    assert cancelled.json()["issue"][0]["diagnostics"] == (
        f"Invoice/{invoice} is cancelled: only an issued Invoice is paid")
    bad_method = client.post(f"/Invoice/{invoice}/$pay", json=_pay(10, method="cheque"),
                             headers={"Idempotency-Key": fresh()})
    assert bad_method.status_code == 400
    assert _payments(database_url, invoice) == []
    assert _count(database_url, "PaymentReconciliation", invoice) == 0


def test_twenty_simultaneous_requests_with_one_key_pay_once(server_url: str, client: httpx.Client,
                                                            database_url: str) -> None:
    invoice = _issued_invoice(client, 80.0)
    key = {"Idempotency-Key": fresh()}

    def pay(_: int) -> httpx.Response:
        with httpx.Client(base_url=server_url, timeout=60) as own:
            return own.post(f"/Invoice/{invoice}/$pay", json=_pay(80), headers=key)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(pay, range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    paid = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(paid) == 1  # every 201 is the one payment (the first, or its replay)
    assert len(_payments(database_url, invoice)) == 1
    assert _count(database_url, "PaymentReconciliation", invoice) == 1
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "balanced"


def test_refund_of_a_desk_payment_reopens_the_invoice(client: httpx.Client, database_url: str) -> None:
    invoice = _issued_invoice(client, 25.0)
    paid = client.post(f"/Invoice/{invoice}/$pay", json=_pay(25), headers={"Idempotency-Key": fresh()})
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "balanced"
    refunded = client.post(f"/PaymentReconciliation/{paid.json()['id']}/$refund", headers={"Idempotency-Key": fresh()})
    assert refunded.status_code == 200, refunded.text
    assert client.get(f"/Invoice/{invoice}").json()["status"] == "issued"
    assert _payments(database_url, invoice) == [(Decimal("25.00"), "EUR", "cash", "refunded")]
    again = client.post(f"/Invoice/{invoice}/$pay", json=_pay(25), headers={"Idempotency-Key": fresh()})
    assert again.status_code == 201, again.text  # owed again in full
