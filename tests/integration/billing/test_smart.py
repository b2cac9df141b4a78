"""With authorization on: a patient reads their own Invoice but never writes Invoices or
ChargeItems (403) and cannot run $invoice; a practitioner (billing staff) invoices."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from fhir_server.app import create_app
from fhir_server.config import Settings
from tests.conftest import free_port, serving
from tests.integration.smart_auth.helpers import cli_json, token_for

from . import fake_stripe
from .helpers import account, charge, fresh, price

REDIRECT = "https://app.example.org/callback"
RECEIPT = "http://fhir-server.example.org/CodeSystem/billing-document|receipt"
PATIENT_SCOPE = ("launch patient/Invoice.cruds patient/ChargeItem.cruds patient/Account.rs"
                 " patient/DocumentReference.rs patient/Binary.r")


@pytest.fixture(scope="module")
def stripe_double() -> Iterator[tuple[fake_stripe.FakeStripe, str]]:
    with fake_stripe.running() as running:
        yield running


@pytest.fixture(scope="module")
def server_settings(database_url: str, stripe_double: tuple[fake_stripe.FakeStripe, str]) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1,
                    pool_max=8, log_level="warning", stripe_api_key="sk_test_fake",
                    stripe_webhook_secret=fake_stripe.SECRET, stripe_api_base=stripe_double[1])


@pytest.fixture(scope="module")
def server_url(server_settings: Settings) -> Iterator[str]:
    with serving(create_app(server_settings), server_settings) as base:
        yield base


@pytest.fixture(scope="module")
def http(server_url: str, database_url: str) -> dict[str, httpx.Client]:
    root = server_url.rsplit("/fhir", 1)[0]
    client = cli_json(database_url, "client", "add", "--name", "Billing app", "--public", "--redirect-uri",
                      REDIRECT, "--scope", f"launch openid fhirUser user/*.cruds {PATIENT_SCOPE}")["client_id"]
    cli_json(database_url, "user", "add", "--username", "clerk", "--password", "pw-clerk-123",
             "--fhir-user", "Practitioner/clerk")
    with httpx.Client(timeout=30, follow_redirects=False) as browser:
        staff = token_for(browser, root, server_url, client, "openid fhirUser user/*.cruds", "clerk", "pw-clerk-123")
        launch = cli_json(database_url, "launch", "add", "--patient", "bill-pat")["launch"]
        patient = token_for(browser, root, server_url, client, PATIENT_SCOPE, "clerk", "pw-clerk-123", launch)
    return {name: httpx.Client(base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
            for name, token in (("staff", staff), ("patient", patient))}


def test_patient_reads_but_never_writes_invoices(http: dict[str, httpx.Client]) -> None:
    staff, patient = http["staff"], http["patient"]
    code = fresh("c")
    price(staff, code, 25)
    acct = account(staff, "bill-pat")
    charge(staff, acct, "bill-pat", code)
    made = patient.post(f"/Account/{acct}/$invoice")
    assert made.status_code == 403
    assert made.json()["issue"][0]["diagnostics"] == "Only billing staff create Invoices"
    invoice = staff.post(f"/Account/{acct}/$invoice")
    assert invoice.status_code == 201, invoice.text
    rid = invoice.json()["id"]
    assert patient.get(f"/Invoice/{rid}").status_code == 200
    body = {k: v for k, v in invoice.json().items() if k != "meta"} | {"totalGross": {"value": 0, "currency": "EUR"}}
    put = patient.put(f"/Invoice/{rid}", json=body)
    assert put.status_code == 403
    assert put.json()["issue"][0]["diagnostics"] == (
        "Patients cannot write Invoices: amounts are set by the server and billing staff")
    created = patient.post("/Invoice", json={k: v for k, v in body.items() if k != "id"})
    assert created.status_code == 403
    assert staff.get(f"/Invoice/{rid}").json()["totalGross"] == {"value": 25.0, "currency": "EUR"}
    chargeitem = patient.post("/ChargeItem", json={"resourceType": "ChargeItem", "status": "billable",
                                                   "subject": {"reference": "Patient/bill-pat"},
                                                   "code": {"text": "x"}})
    assert chargeitem.status_code == 403


def test_patient_downloads_their_receipt_but_not_anothers(http: dict[str, httpx.Client]) -> None:
    staff, patient = http["staff"], http["patient"]
    receipts = {}
    for who in ("bill-pat", fresh("other")):
        code = fresh("c")
        price(staff, code, 9.99)
        acct = account(staff, who)
        charge(staff, acct, who, code)
        invoice = staff.post(f"/Account/{acct}/$invoice", json={"resourceType": "Parameters", "parameter": [
            {"name": "issue", "valueBoolean": True}]}).json()
        paid = staff.post(f"/Invoice/{invoice['id']}/$pay", headers={"Idempotency-Key": fresh()}, json={
            "resourceType": "Parameters", "parameter": [
                {"name": "amount", "valueMoney": {"value": 9.99, "currency": "EUR"}},
                {"name": "method", "valueCode": "cash"}]})
        assert paid.status_code == 201, paid.text
        found = staff.get("/DocumentReference", params={"patient": who, "type": RECEIPT}).json()
        receipts[who] = found["entry"][-1]["resource"]["content"][0]["attachment"]["url"]
    mine = patient.get("/DocumentReference", params={"patient": "bill-pat", "type": RECEIPT})
    assert mine.status_code == 200 and len(mine.json()["entry"]) >= 1
    binary = patient.get(f"/{receipts['bill-pat']}")
    assert binary.status_code == 200
    pdf = base64.b64decode(binary.json()["data"])
    assert pdf.startswith(b"%PDF") and b"9.99 EUR" in pdf
    other = next(url for who, url in receipts.items() if who != "bill-pat")
    assert patient.get(f"/{other}").status_code == 404


def _online(value: float) -> dict[str, object]:
    return {"resourceType": "Parameters", "parameter": [
        {"name": "amount", "valueMoney": {"value": value, "currency": "EUR"}},
        {"name": "method", "valueCode": "online"}]}


def test_patient_pays_online_only_their_own_invoice(http: dict[str, httpx.Client],
                                                    stripe_double: tuple[fake_stripe.FakeStripe, str]) -> None:
    staff, patient = http["staff"], http["patient"]
    invoices = {}
    for who in ("bill-pat", fresh("other")):
        code = fresh("c")
        price(staff, code, 15)
        acct = account(staff, who)
        charge(staff, acct, who, code)
        invoices[who] = staff.post(f"/Account/{acct}/$invoice", json={"resourceType": "Parameters", "parameter": [
            {"name": "issue", "valueBoolean": True}]}).json()["id"]
    mine = patient.post(f"/Invoice/{invoices['bill-pat']}/$pay", json=_online(15), headers={"Idempotency-Key": fresh()})
    assert mine.status_code == 200, mine.text
    pid = next(p["valueString"] for p in mine.json()["parameter"] if p["name"] == "paymentIntent")
    assert stripe_double[0].intents[pid]["amount"] == 1500
    other = next(i for who, i in invoices.items() if who != "bill-pat")
    theirs = patient.post(f"/Invoice/{other}/$pay", json=_online(15), headers={"Idempotency-Key": fresh()})
    assert theirs.status_code == 404
    desk = patient.post(f"/Invoice/{invoices['bill-pat']}/$pay", headers={"Idempotency-Key": fresh()}, json={
        "resourceType": "Parameters", "parameter": [{"name": "amount", "valueMoney": {"value": 1, "currency": "EUR"}},
                                                    {"name": "method", "valueCode": "cash"}]})
    assert desk.status_code == 403
    cancelled = patient.post(f"/Invoice/{invoices['bill-pat']}/$cancel-payment", json={
        "resourceType": "Parameters", "parameter": [{"name": "paymentIntent", "valueString": pid}]})
    assert cancelled.status_code == 200, cancelled.text
