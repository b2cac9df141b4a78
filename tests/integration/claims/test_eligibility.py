"""CoverageEligibilityRequest/$submit: stored request, stored response, by the claim rules."""

from __future__ import annotations

from typing import Any

import httpx

from .helpers import CPT, DAY, coverage, patient, payer


def _request(pid: str, cov: str, *codes: str) -> dict[str, Any]:
    return {"resourceType": "CoverageEligibilityRequest", "status": "active", "purpose": ["benefits"],
            "patient": {"reference": f"Patient/{pid}"}, "created": f"{DAY}T09:00:00Z", "servicedDate": DAY,
            "insurer": {"reference": "Organization/payer-demo"}, "provider": {"reference": "Organization/hospital"},
            "insurance": [{"focal": True, "coverage": {"reference": f"Coverage/{cov}"}}],
            "item": [{"productOrService": {"coding": [{"system": CPT, "code": c}]}} for c in codes]}


def test_eligibility_answers_benefits_and_preauthorization(client: httpx.Client) -> None:
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid)
    response = client.post("/CoverageEligibilityRequest/$submit", json=_request(pid, cov, "99213", "70551"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["resourceType"] == "CoverageEligibilityResponse" and answer["outcome"] == "complete"
    assert answer["request"]["reference"].startswith("CoverageEligibilityRequest/")
    assert client.get(f"/{answer['request']['reference']}").status_code == 200
    insurance = answer["insurance"][0]
    assert insurance["inforce"] is True
    assert [i["authorizationRequired"] for i in insurance["item"]] == [False, True]
    benefits = {b["type"]["coding"][0]["code"]: b for b in insurance["item"][0]["benefit"]}
    assert benefits["copay"]["allowedMoney"] == {"value": 20.0, "currency": "USD"}
    assert benefits["deductible"]["allowedMoney"]["value"] == 100 and benefits["deductible"]["usedMoney"]["value"] == 0


def test_eligibility_of_someone_elses_coverage_is_an_error(client: httpx.Client) -> None:
    payer(client)
    pid, other = patient(client), patient(client)
    answer = client.post("/CoverageEligibilityRequest/$submit", json=_request(pid, coverage(client, other),
                                                                              "99213")).json()
    assert answer["outcome"] == "error" and answer["insurance"][0]["inforce"] is False
    assert answer["error"][0]["code"]["coding"][0]["code"] == "coverage-patient"
    bad = client.post("/CoverageEligibilityRequest/$submit", json={"resourceType": "Claim"})
    assert bad.status_code == 400
