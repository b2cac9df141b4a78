"""The ExplanationOfBenefit of a completed adjudication, read by a CARIN Blue Button style search
(patient, _lastUpdated, type, identifier, service-date, _include of patient, provider, care-team,
coverage, insurer)."""

from __future__ import annotations

import httpx

from .helpers import DAY, claim, coverage, fresh, item, patient, payer, put


def test_carin_style_search_finds_the_eob_with_its_includes(client: httpx.Client) -> None:
    payer(client)
    pid = patient(client)
    cov = coverage(client, pid)
    put(client, {"resourceType": "Organization", "id": "hospital", "name": "Demo Hospital"})
    doctor = put(client, {"resourceType": "Practitioner", "id": fresh("dr-"), "name": [{"family": "Care"}]})["id"]
    value = fresh("eob-")
    body = claim(pid, cov, [item(1, "99213", 1, 150)], identifier=value,
                 careTeam=[{"sequence": 1, "provider": {"reference": f"Practitioner/{doctor}"}}])
    answer = client.post("/Claim/$submit", json=body).json()
    assert answer["outcome"] == "complete"
    params = [("patient", pid), ("_lastUpdated", "ge2020-01-01"),
              ("type", "http://terminology.hl7.org/CodeSystem/claim-type|professional"),
              ("identifier", f"urn:example:claims|{value}"), ("service-date", f"ge{DAY}"),
              ("service-date", f"le{DAY}")] + [("_include", f"ExplanationOfBenefit:{name}") for name in
                                                ("patient", "provider", "care-team", "coverage", "insurer")]
    bundle = client.get("/ExplanationOfBenefit", params=params).json()
    matches = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    included = sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]
                      if e["search"]["mode"] == "include")
    assert len(matches) == 1
    eob = matches[0]
    assert included == sorted([f"Patient/{pid}", "Organization/hospital", f"Practitioner/{doctor}",
                               f"Coverage/{cov}", "Organization/payer-demo"])
    assert eob["identifier"][0]["type"]["coding"][0]["code"] == "uc"
    assert eob["outcome"] == "complete" and eob["claimResponse"]["reference"] == f"ClaimResponse/{answer['id']}"
    assert eob["insurance"] == [{"focal": True, "coverage": {"reference": f"Coverage/{cov}"}}]
    assert eob["payment"]["amount"]["value"] == 30  # 150.00 - copay 20.00 - deductible 100.00
    assert [a["category"]["coding"][0]["code"] for a in eob["item"][0]["adjudication"]] == [
        "submitted", "eligible", "copay", "deductible", "benefit"]
    outside = client.get("/ExplanationOfBenefit", params={"patient": pid, "service-date": "lt2031-03-01"}).json()
    assert outside["total"] == 0
    assert client.get("/ExplanationOfBenefit", params={"patient": pid, "type": "institutional"}).json()["total"] == 0
    served = client.get("/SearchParameter/ExplanationOfBenefit-service-date")
    assert served.status_code == 200 and served.json()["code"] == "service-date"
