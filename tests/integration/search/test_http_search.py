"""Search over HTTP on real PostgreSQL: every parameter type, modifiers, prefixes, chains,
_has, includes, sort, paging, totals, _summary/_elements, compartments, system search.

Expected results are worked out by hand from search.html for the small data set below.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"

RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org1", "name": "Acme Clinic"},
    {"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "House"}]},
    {"resourceType": "Patient", "id": "p1", "active": True, "gender": "male", "birthDate": "1980-05-17",
     "identifier": [{"system": "http://mrn", "value": "A1",
                     "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
     "name": [{"family": "Müller", "given": ["Jürgen"]}], "managingOrganization": {"reference": "Organization/org1"},
     "generalPractitioner": [{"reference": "Practitioner/dr1"}],
     "meta": {"tag": [{"system": "http://tags", "code": "vip"}], "profile": ["http://example.org/fhir/StructureDefinition/p"]},
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Patient with diabetes</div>"}},
    {"resourceType": "Patient", "id": "p2", "gender": "female", "birthDate": "1980",
     "identifier": [{"system": "http://mrn", "value": "a,b|c"}], "name": [{"family": "Smith", "given": ["Ann"]}]},
    {"resourceType": "Patient", "id": "p3", "gender": "female", "birthDate": "2000-01-01",
     "name": [{"family": "Smithers"}], "managingOrganization": {"reference": "Organization/org1"}},
] + [
    {"resourceType": "Observation", "id": f"o{i}", "status": "final" if i != 4 else "amended",
     "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                               "code": "vital-signs"}]}],
     "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}], "text": "Heart rate"},
     "subject": {"reference": "Patient/p1" if i % 2 else "Patient/p2"},
     "effectiveDateTime": f"2020-01-0{i + 1}T10:00:00Z",
     "valueQuantity": {"value": 60 + i, "unit": "beats/min", "system": UCUM, "code": "/min"}}
    for i in range(5)
] + [
    {"resourceType": "Observation", "id": "bp", "status": "final", "subject": {"reference": "Patient/p3"},
     "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
     "effectivePeriod": {"start": "2021-03-01T08:00:00Z", "end": "2021-03-01T09:00:00Z"},
     "component": [
         {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
          "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}},
         {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
          "valueQuantity": {"value": 80, "system": UCUM, "code": "mm[Hg]"}}]},
    {"resourceType": "Observation", "id": "wt", "status": "final", "subject": {"reference": "Patient/p3"},
     "code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "effectiveDateTime": "2021-03-02",
     "valueQuantity": {"value": 72500, "system": UCUM, "code": "g"}},
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": {"reference": "Patient/p1"},
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
    {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p2"},
     "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                        "code": "provisional"}]}},
    {"resourceType": "ValueSet", "id": "vs1", "url": "http://example.org/fhir/ValueSet/abc", "status": "active"},
    {"resourceType": "RiskAssessment", "id": "ra1", "status": "final", "subject": {"reference": "Patient/p1"},
     "prediction": [{"probabilityDecimal": 0.25}]},
]


@pytest.fixture(scope="module")
def fhir(client: httpx.Client) -> Iterator[httpx.Client]:
    for resource in RESOURCES:
        response = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code in (200, 201), response.text
    yield client


def ids(client: httpx.Client, query: str, **kw: Any) -> list[str]:
    response = client.get(query, **kw)
    assert response.status_code == 200, response.text
    return [e["resource"]["id"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]


def sids(client: httpx.Client, query: str) -> list[str]:
    return sorted(ids(client, query))


@pytest.mark.parametrize(("query", "expected"), [
    # string: accent/case-insensitive starts-with, :exact, :contains, OR by comma, AND by repetition
    ("/Patient?name=muller", ["p1"]), ("/Patient?name=SMITH", ["p2", "p3"]), ("/Patient?family:exact=Smith", ["p2"]),
    ("/Patient?name:contains=ITHE", ["p3"]), ("/Patient?name=ann,house", ["p2"]),
    ("/Patient?name=smith&name=smithers", ["p3"]), ("/Patient?given=jurg", ["p1"]),
    # token
    ("/Patient?gender=female", ["p2", "p3"]), ("/Patient?identifier=http://mrn|A1", ["p1"]),
    ("/Patient?identifier=http://mrn|", ["p1", "p2"]), ("/Patient?identifier=|A1", []),
    ("/Patient?identifier=a\\,b\\|c", ["p2"]), ("/Patient?gender:not=female", ["p1"]),
    ("/Patient?identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|A1", ["p1"]),
    ("/Observation?code:text=heart", ["o0", "o1", "o2", "o3", "o4"]), ("/Patient?active=true", ["p1"]),
    ("/Observation?status=amended", ["o4"]), ("/Patient?active:missing=true", ["p2", "p3"]),
    ("/Condition?verification-status:below=http://terminology.hl7.org/CodeSystem/condition-ver-status|unconfirmed",
     ["c1"]),
    ("/Condition?verification-status:above=http://terminology.hl7.org/CodeSystem/condition-ver-status|provisional",
     ["c1"]),
    ("/Condition?verification-status:below=http://terminology.hl7.org/CodeSystem/condition-ver-status|refuted", []),
    ("/Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender", ["p1", "p2", "p3"]),
    ("/Patient?gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender", []),
    # reference: id, Type/id, absolute URL of this server, :Type, :missing, :identifier
    ("/Observation?subject=p1", ["o1", "o3"]), ("/Observation?subject=Patient/p1", ["o1", "o3"]),
    ("/Observation?subject:Patient=p2", ["o0", "o2", "o4"]), ("/Patient?organization:missing=true", ["p2"]),
    ("/Observation?patient=p3", ["bp", "wt"]),
    # chaining (two levels) and reverse chaining (nested)
    ("/Observation?subject:Patient.name=smithers", ["bp", "wt"]),
    ("/Observation?subject:Patient.organization.name=acme", ["bp", "o1", "o3", "wt"]),
    ("/Patient?_has:Observation:patient:code=29463-7", ["p3"]),
    ("/Patient?_has:Observation:subject:value-quantity=gt62", ["p1", "p2", "p3"]),  # p3: 72500 g, no unit asked
    ("/Organization?_has:Patient:organization:_has:Observation:patient:status=amended", []),
    ("/Organization?_has:Patient:organization:_has:Observation:patient:code=85354-9", ["org1"]),
    # date: precision ranges and prefixes; Period; timezone (-05:00 is the next day in UTC)
    ("/Patient?birthdate=1980", ["p1", "p2"]), ("/Patient?birthdate=1980-05", ["p1"]),
    ("/Patient?birthdate=2000-01-01", ["p3"]), ("/Patient?birthdate=ge1990", ["p3"]),
    ("/Patient?birthdate=lt1980-05-17", ["p2"]), ("/Patient?birthdate=sa1980-12-31", ["p3"]),
    ("/Patient?birthdate=eb1981", ["p1", "p2"]), ("/Patient?birthdate=ne1980", ["p3"]),
    ("/Observation?date=2020-01-03", ["o2"]), ("/Observation?date=gt2020-01-03T10:00:00Z", ["bp", "o3", "o4", "wt"]),
    ("/Observation?date=2021-03-01T08:30:00Z", []), ("/Observation?date=2021-03-01", ["bp"]),
    ("/Observation?date=ge2020-01-04&date=lt2021", ["o3", "o4"]),
    # number and quantity: implicit range, prefixes, units, UCUM canonical (72500 g = 72.5 kg)
    ("/RiskAssessment?probability=0.25", ["ra1"]), ("/RiskAssessment?probability=gt0.3", []),
    ("/Observation?value-quantity=62", ["o2"]), ("/Observation?value-quantity=le61", ["o0", "o1"]),
    ("/Observation?value-quantity=ap63", ["o0", "o1", "o2", "o3", "o4"]),
    ("/Observation?value-quantity=62||/min", ["o2"]), ("/Observation?value-quantity=62|http://other|/min", []),
    ("/Observation?value-quantity=72.5|http://unitsofmeasure.org|kg", ["wt"]),
    ("/Observation?value-quantity=lt1|http://unitsofmeasure.org|kg", []),
    # composite
    ("/Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100", ["bp"]),
    ("/Observation?component-code-value-quantity=http://loinc.org|8462-4$gt100", []),
    ("/Observation?code-value-quantity=http://loinc.org|8867-4$64", ["o4"]),
    # uri
    ("/ValueSet?url=http://example.org/fhir/ValueSet/abc", ["vs1"]),
    ("/ValueSet?url:below=http://example.org/fhir", ["vs1"]), ("/ValueSet?url:below=http://example.org/fh", []),
    ("/ValueSet?url:above=http://example.org/fhir/ValueSet/abc/extra", ["vs1"]),
    # resource-level parameters
    ("/Patient?_id=p1,p3", ["p1", "p3"]), ("/Patient?_tag=http://tags|vip", ["p1"]),
    ("/Patient?_profile=http://example.org/fhir/StructureDefinition/p", ["p1"]),
    ("/Patient?_text=diabetes", ["p1"]), ("/Patient?_content=smithers", ["p3"]),
    ("/Patient?_lastUpdated=gt2000-01-01", ["p1", "p2", "p3"]), ("/Patient?_lastUpdated=lt2000-01-01", []),
])
def test_search(fhir: httpx.Client, query: str, expected: list[str]) -> None:
    assert sids(fhir, query) == expected


def test_post_search_equals_get(fhir: httpx.Client) -> None:
    response = fhir.post("/Observation/_search?status=final", content="subject:Patient.name=smith&_sort=date",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    posted = [e["resource"]["id"] for e in response.json()["entry"]]
    assert posted == ids(fhir, "/Observation?status=final&subject:Patient.name=smith&_sort=date")
    assert posted == ["o0", "o2", "bp", "wt"]


def test_sort_multi_key_and_desc(fhir: httpx.Client) -> None:
    # descending sorts by the end of each range: p3 2000-01-01T04:30Z, p2 (all of 1980), p1 1980-05-17
    assert ids(fhir, "/Patient?_sort=-birthdate") == ["p3", "p2", "p1"]
    assert ids(fhir, "/Patient?_sort=birthdate") == ["p2", "p1", "p3"]
    assert ids(fhir, "/Patient?_sort=gender,-family") == ["p3", "p2", "p1"]
    assert ids(fhir, "/Observation?code=8867-4&_sort=-date&_count=3") == ["o4", "o3", "o2"]
    assert ids(fhir, "/Patient?_sort=_id") == ["p1", "p2", "p3"]


def test_keyset_paging_links(fhir: httpx.Client) -> None:
    page = fhir.get("/Observation?_sort=date&_count=3").json()
    seen = [e["resource"]["id"] for e in page["entry"]]
    while True:
        links = {link["relation"]: link["url"] for link in page["link"]}
        if "next" not in links:
            break
        page = httpx.get(links["next"]).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert seen == ["o0", "o1", "o2", "o3", "o4", "bp", "wt"]
    links = {link["relation"]: link["url"] for link in page["link"]}
    back = httpx.get(links["previous"]).json()
    assert [e["resource"]["id"] for e in back["entry"]] == ["o3", "o4", "bp"]


def test_totals_and_summary(fhir: httpx.Client) -> None:
    assert fhir.get("/Observation?_count=2&_total=accurate").json()["total"] == 7
    assert "total" not in fhir.get("/Observation?_count=2&_total=none").json()
    assert isinstance(fhir.get("/Observation?_count=2&_total=estimate").json()["total"], int)
    counted = fhir.get("/Observation?status=final&_summary=count").json()
    assert counted["total"] == 6 and "entry" not in counted
    resource = fhir.get("/Patient?_id=p1&_elements=gender").json()["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "gender"}
    summary = fhir.get("/Patient?_id=p1&_summary=true").json()["entry"][0]["resource"]
    assert "text" not in summary and summary["meta"]["tag"][-1]["code"] == "SUBSETTED"


def test_count_zero_is_count_only(fhir: httpx.Client) -> None:
    bundle = fhir.get("/Observation?_count=0").json()
    assert bundle["total"] == 7 and "entry" not in bundle
    assert fhir.get("/Observation?status=final&_count=0").json()["total"] == 6
    assert "total" not in fhir.get("/Observation?_count=0&_total=none").json()


def test_total_given_when_the_first_page_holds_every_match(fhir: httpx.Client) -> None:
    whole = fhir.get("/Observation").json()  # default page size 20 > 7 matches
    assert whole["total"] == 7 and len(whole["entry"]) == 7
    exact = fhir.get("/Observation?_count=7").json()
    assert exact["total"] == 7 and not any(link["relation"] == "next" for link in exact["link"])
    assert fhir.get("/Observation?_count=7&_total=estimate").json()["total"] == 7
    first = fhir.get("/Observation?_count=6").json()  # more follow: counting would cost a query
    assert "total" not in first
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    last = httpx.get(nxt).json()  # the last page, but not the first: its size is not the total
    assert len(last["entry"]) == 1 and "total" not in last


def test_includes(fhir: httpx.Client) -> None:
    bundle = fhir.get("/Observation?_id=o1&_include=Observation:subject"
                      "&_include:iterate=Patient:general-practitioner").json()
    modes = sorted((e["search"]["mode"], e["resource"]["id"]) for e in bundle["entry"])
    assert modes == [("include", "dr1"), ("include", "p1"), ("match", "o1")]
    bundle = fhir.get("/Patient?_id=p3&_revinclude=Observation:subject").json()
    assert sorted(e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include") == ["bp", "wt"]
    bundle = fhir.get("/Patient?_id=p1&_include=*").json()
    assert sorted(e["resource"]["id"] for e in bundle["entry"]) == ["dr1", "org1", "p1"]


def test_compartment_and_system_search(fhir: httpx.Client) -> None:
    assert sids(fhir, "/Patient/p1/Observation") == ["o1", "o3"]
    assert sids(fhir, "/Patient/p1/Observation?value-quantity=gt62") == ["o3"]
    assert sids(fhir, "/Patient/p1/*") == ["e1", "o1", "o3", "p1", "ra1"]
    assert sids(fhir, "/?_type=Patient,Organization&_id=p1,org1") == ["org1", "p1"]
    assert sids(fhir, "/?_id=dr1") == ["dr1"]


def test_unknown_parameters(fhir: httpx.Client) -> None:
    bundle = fhir.get("/Patient?gender=male&nonsense=1").json()
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "nonsense" not in self_link and "gender=male" in self_link
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert outcome and "nonsense" in outcome[0]["resource"]["issue"][0]["diagnostics"]
    strict = fhir.get("/Patient?gender=male&nonsense=1", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400 and strict.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("query", [
    "/Patient?birthdate=1980-13", "/Patient?birthdate=xx2020", "/Observation?value-quantity=abc",
    "/Patient?_count=-1", "/Patient?_sort=nonsense", "/Patient?gender:exact=male", "/Patient?_total=maybe",
    "/Patient?_include=Patient:nonsense", "/Patient?_cursor=garbage", "/Observation?subject=Practitioner/dr1",
    "/Observation?component-code-value-quantity=a$b$c", "/Patient?name=",
])
def test_malformed_is_400(fhir: httpx.Client, query: str) -> None:
    response = fhir.get(query)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_unknown_type_is_404(fhir: httpx.Client) -> None:
    assert fhir.get("/Nonsense?name=x").status_code == 404


def test_deleted_resources_are_not_found(fhir: httpx.Client) -> None:
    fhir.put("/Patient/gone", json={"resourceType": "Patient", "id": "gone", "name": [{"family": "Vanish"}]})
    assert ids(fhir, "/Patient?name=vanish") == ["gone"]
    assert fhir.delete("/Patient/gone").status_code in (200, 204)
    assert ids(fhir, "/Patient?name=vanish") == []
