"""Claim/$submit adjudicated here, amounts worked out by hand from the plan model (README "Claims").

The Coverage: copay 20.00 per visit, deductible 100.00 per calendar year, none met yet.
Office visit 99213: 1 x 150.00; panel 80053: 2 x 40.00 = 80.00 submitted, priced by a
ChargeItemDefinition at 30.00 -> eligible 2 x 30.00 = 60.00.
  item 1: eligible 150.00, copay 20.00, deductible min(100.00, 130.00) = 100.00, benefit 30.00
  item 2: eligible 60.00, copay 0 (paid), deductible 0 (met), benefit 60.00
  totals: submitted 230.00, eligible 210.00, copay 20.00, deductible 100.00, benefit 90.00 = payment.
A second visit the same year (99213, 150.00): copay 20.00, deductible 0.00, benefit 130.00.
"""

from __future__ import annotations

import httpx

from .helpers import CPT, adjudication, claim, coverage, fresh, item, patient, payer, put, totals


def _price(client: httpx.Client, code: str, value: float) -> None:
    put(client, {"resourceType": "ChargeItemDefinition", "id": fresh("cid-"), "url": f"urn:example:cid:{fresh()}",
                 "status": "active", "code": {"coding": [{"system": CPT, "code": code}]},
                 "propertyGroup": [{"priceComponent": [{"type": "base",
                                                        "amount": {"value": value, "currency": "USD"}}]}]})


def test_copay_and_deductible_then_the_deductible_is_met(client: httpx.Client) -> None:
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid)
    _price(client, "80053", 30.00)
    response = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150), item(2, "80053", 2, 40)]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resourceType"] == "ClaimResponse" and answer["outcome"] == "complete" and answer["use"] == "claim"
    assert [i["itemSequence"] for i in answer["item"]] == [1, 2]
    assert adjudication(answer["item"][0]) == {"submitted": "150.00", "eligible": "150.00", "copay": "20.00",
                                               "deductible": "100.00", "benefit": "30.00"}
    assert adjudication(answer["item"][1]) == {"submitted": "80.00", "eligible": "60.00", "copay": "0.00",
                                               "deductible": "0.00", "benefit": "60.00"}
    assert totals(answer) == {"submitted": "230.00", "eligible": "210.00", "copay": "20.00", "deductible": "100.00",
                              "benefit": "90.00"}
    assert answer["payment"]["amount"] == {"value": 90.0, "currency": "USD"}
    second = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150)])).json()
    assert adjudication(second["item"][0]) == {"submitted": "150.00", "eligible": "150.00", "copay": "20.00",
                                               "deductible": "0.00", "benefit": "130.00"}
    assert second["payment"]["amount"]["value"] == 130.0


def test_partial_denial_for_a_service_needing_preauthorization(client: httpx.Client) -> None:
    """MRI 70551 (1 x 900.00) needs a preauthorization: denied; the visit 99213 (150.00) is paid:
    copay 20.00, deductible 100.00, benefit 30.00 -> outcome partial, payment 30.00."""
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid)
    response = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150), item(2, "70551", 1, 900)]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["outcome"] == "partial"
    assert adjudication(answer["item"][1]) == {"submitted": "900.00", "eligible": "0.00", "benefit": "0.00"}
    assert answer["item"][1]["adjudication"][2]["reason"]["coding"][0]["code"] == "preauth-required"
    assert [(e["itemSequence"], e["code"]["coding"][0]["code"]) for e in answer["error"]] == [(2, "preauth-required")]
    assert adjudication(answer["item"][0])["benefit"] == "30.00"
    assert totals(answer)["benefit"] == "30.00" and answer["payment"]["amount"]["value"] == 30.0


def test_an_mri_alone_with_a_made_up_preauthorization_is_an_error(
        client: httpx.Client) -> None:
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid, copay=None, deductible=None)
    body = claim(pid, cov, [item(1, "70551", 1, 900)])
    body["insurance"][0]["preAuthRef"] = ["PA-made-up"]  # names no granted preauthorization
    denied = client.post("/Claim/$submit", json=body).json()
    assert denied["outcome"] == "error" and "payment" not in denied
    assert denied["error"][0]["code"]["coding"][0]["code"] == "preauth-required"


def test_coverage_must_be_active_the_patients_and_in_force(client: httpx.Client) -> None:
    payer(client)
    pid, other = patient(client), patient(client)
    cases = {coverage(client, pid, status="cancelled"): "coverage-inactive",
             coverage(client, other): "coverage-patient",
             coverage(client, pid, start="2030-01-01", end="2030-12-31"): "coverage-period",
             coverage(client, pid, payer_id=payer(client, fresh("payer-"))): "coverage-insurer"}
    for cov, code in cases.items():
        answer = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150)])).json()
        assert answer["outcome"] == "error", (code, answer)
        assert [e["code"]["coding"][0]["code"] for e in answer["error"]] == [code]
        assert "payment" not in answer
        assert adjudication(answer["item"][0]) == {"submitted": "150.00", "eligible": "0.00", "benefit": "0.00"}
        assert answer["item"][0]["adjudication"][2]["reason"]["coding"][0]["code"] == code


def test_an_insurer_not_adjudicated_here_gets_the_claim_queued(client: httpx.Client) -> None:
    other = payer(client, fresh("payer-"))
    pid = patient(client)
    cov = coverage(client, pid, payer_id=other)
    answer = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "99213", 1, 150)], payer_id=other)).json()
    assert answer["outcome"] == "queued"
    assert answer["disposition"] == "Queued for the insurer's own system"
    assert adjudication(answer["item"][0]) == {"submitted": "150.00"}
    assert client.get("/ExplanationOfBenefit", params={"claim": answer["request"]["reference"]}).json()["total"] == 0


def test_a_preauthorization_is_answered_with_a_reference_the_claim_then_quotes(client: httpx.Client) -> None:
    """use=preauthorization of the MRI: complete, a preAuthRef, no payment and no EOB; the claim that
    quotes it is paid (900.00 with no copay or deductible on this Coverage)."""
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid, copay=None, deductible=None)
    preauth = client.post("/Claim/$submit", json=claim(pid, cov, [item(1, "70551", 1, 900)],
                                                       use="preauthorization")).json()
    assert preauth["use"] == "preauthorization" and preauth["outcome"] == "complete"
    assert preauth["preAuthRef"] == f"PA-{preauth['request']['reference'].split('/')[1]}" and "payment" not in preauth
    assert client.get("/ExplanationOfBenefit", params={"claim": preauth["request"]["reference"]}).json()["total"] == 0
    body = claim(pid, cov, [item(1, "70551", 1, 900)])
    body["insurance"][0]["preAuthRef"] = [preauth["preAuthRef"]]
    paid = client.post("/Claim/$submit", json=body).json()
    assert paid["outcome"] == "complete" and paid["payment"]["amount"]["value"] == 900
