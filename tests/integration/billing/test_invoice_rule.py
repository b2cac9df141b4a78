"""The Invoice status rule through plain PUT, PATCH and a transaction bundle: draft -> issued ->
balanced, draft|issued -> cancelled with a reason, an issued Invoice's amounts frozen."""

from __future__ import annotations

from typing import Any

import httpx

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _invoice(status: str = "draft", amount: float = 50.0, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Invoice", "status": status, "subject": {"reference": "Patient/rule-p"},
            "lineItem": [{"sequence": 1, "chargeItemCodeableConcept": {"text": "visit"},
                          "priceComponent": [{"type": "base", "amount": {"value": amount, "currency": "EUR"}}]}],
            "totalNet": {"value": amount, "currency": "EUR"}, "totalGross": {"value": amount, "currency": "EUR"},
            **extra}


def _create(client: httpx.Client, status: str = "draft") -> dict[str, Any]:
    response = client.post("/Invoice", json=_invoice(status))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _put(client: httpx.Client, invoice: dict[str, Any], **changes: Any) -> httpx.Response:
    body = {k: v for k, v in invoice.items() if k != "meta"} | changes
    return client.put(f"/Invoice/{invoice['id']}", json=body)


def _diagnostics(response: httpx.Response) -> str:
    return str(response.json()["issue"][0]["diagnostics"])


def test_the_workflow_draft_issued_balanced(client: httpx.Client) -> None:
    invoice = _create(client)
    changed = _put(client, invoice, totalGross={"value": 60.0, "currency": "EUR"})
    assert changed.status_code == 200, changed.text  # a draft may change
    issued = _put(client, changed.json(), status="issued")
    assert issued.status_code == 200, issued.text
    balanced = client.patch(f"/Invoice/{invoice['id']}", headers=JSON_PATCH,
                            json=[{"op": "replace", "path": "/status", "value": "balanced"}])
    assert balanced.status_code == 200, balanced.text
    refused = _put(client, balanced.json(), status="cancelled", cancelledReason="x")
    assert refused.status_code == 422
    assert _diagnostics(refused).startswith(f"Invoice/{invoice['id']}: balanced -> cancelled is not allowed")
    reopened = _put(client, balanced.json(), status="issued")  # what a refund does
    assert reopened.status_code == 200, reopened.text
    cancelled = _put(client, reopened.json(), status="cancelled", cancelledReason="written off")
    assert cancelled.status_code == 200, cancelled.text
    final = _put(client, cancelled.json(), status="issued")
    assert final.status_code == 422
    assert _diagnostics(final) == f"Invoice/{invoice['id']} is cancelled: it can no longer change"


def test_an_issued_invoice_amounts_are_immutable_by_put_and_patch(client: httpx.Client) -> None:
    invoice = _create(client, "issued")
    expected = (f"Invoice/{invoice['id']} is issued: its amounts and lines are immutable (only a status "
                "transition may change it)")
    put = _put(client, invoice, totalGross={"value": 1.0, "currency": "EUR"})
    assert (put.status_code, _diagnostics(put)) == (422, expected)
    patch = client.patch(f"/Invoice/{invoice['id']}", headers=JSON_PATCH,
                         json=[{"op": "replace", "path": "/lineItem/0/priceComponent/0/amount/value", "value": 1}])
    assert (patch.status_code, _diagnostics(patch)) == (422, expected)
    stored = client.get(f"/Invoice/{invoice['id']}").json()
    assert stored["meta"]["versionId"] == "1" and stored["totalGross"]["value"] == 50.0
    delete = client.delete(f"/Invoice/{invoice['id']}")
    assert delete.status_code == 422
    assert _diagnostics(delete) == f"Invoice/{invoice['id']} is issued: only a draft Invoice may be deleted"


def test_cancel_needs_a_reason(client: httpx.Client) -> None:
    invoice = _create(client, "issued")
    bare = _put(client, invoice, status="cancelled")
    assert bare.status_code == 422
    assert _diagnostics(bare) == f"Invoice/{invoice['id']}: a cancelled Invoice needs a cancelledReason"
    done = _put(client, invoice, status="cancelled", cancelledReason="duplicate")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "cancelled"


def test_skipping_a_step_and_creating_balanced_are_refused(client: httpx.Client) -> None:
    invoice = _create(client)
    skip = _put(client, invoice, status="balanced")
    assert skip.status_code == 422
    assert _diagnostics(skip).startswith(f"Invoice/{invoice['id']}: draft -> balanced is not allowed")
    born = client.post("/Invoice", json=_invoice("balanced"))
    assert born.status_code == 422
    assert "a new Invoice is draft or issued, not balanced" in _diagnostics(born)


def test_a_transaction_changing_an_issued_invoice_stores_nothing(client: httpx.Client) -> None:
    invoice = _create(client, "issued")
    other = _create(client)
    body = {k: v for k, v in invoice.items() if k != "meta"} | {"totalNet": {"value": 0, "currency": "EUR"}}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {k: v for k, v in other.items() if k != "meta"} | {"status": "issued"},
         "request": {"method": "PUT", "url": f"Invoice/{other['id']}"}},
        {"resource": body, "request": {"method": "PUT", "url": f"Invoice/{invoice['id']}"}}]}
    response = client.post("/", json=bundle)
    assert response.status_code == 422, response.text
    assert "its amounts and lines are immutable" in _diagnostics(response)
    assert client.get(f"/Invoice/{other['id']}").json()["status"] == "draft"  # the first entry rolled back


def test_mixed_currencies_in_one_invoice_are_refused(client: httpx.Client) -> None:
    response = client.post("/Invoice", json=_invoice(totalGross={"value": 50.0, "currency": "USD"}))
    assert response.status_code == 422
    assert "mixes currencies (EUR, USD)" in _diagnostics(response)
