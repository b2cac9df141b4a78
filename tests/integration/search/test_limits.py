"""Bounds on one search over real HTTP and PostgreSQL (issue 11, part 1; search/limits.py).

Each limit over by one is a 400 OperationOutcome with issue code too-costly and a text that
names the limit, its value and its setting; at the limit the search runs. Repetitions of a
criterion are one INTERSECT set, so 200 of them (allowed on a server configured for it)
plan in milliseconds where a semi-join per repetition planned for seconds and ~400 MB.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import psycopg
import pytest
from psycopg import sql

from fhir_server.config import Settings
from fhir_server.definitions import definitions
from fhir_server.search.criteria import Context
from fhir_server.search.limits import SearchLimits, check_request
from fhir_server.search.parse import parse_request
from fhir_server.search.query import build_scope, page_statement
from fhir_server.search.sort import sort_columns
from tests.conftest import free_port, serving

PATIENTS: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "lim-org", "name": "Limit Clinic"},
    {"resourceType": "Patient", "id": "lim1", "name": [{"family": "Alpha", "given": ["Ann", "Bea"]}],
     "managingOrganization": {"reference": "Organization/lim-org"}},
    {"resourceType": "Patient", "id": "lim2", "name": [{"family": "Alpha", "given": ["Cy"]}]},
    {"resourceType": "Patient", "id": "lim3", "name": [{"family": "Gamma"}]},
]


@pytest.fixture(scope="module")
def fhir(client: httpx.Client) -> Iterator[httpx.Client]:
    for resource in PATIENTS:
        response = client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
        assert response.status_code in (200, 201), response.text
    yield client


def _too_costly(response: httpx.Response, text: str) -> None:
    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert (response.json()["resourceType"], issue["severity"], issue["code"], issue["diagnostics"]) == (
        "OperationOutcome", "error", "too-costly", text)


def _form(client: httpx.Client, items: list[tuple[str, str]]) -> httpx.Response:
    return client.post("/Patient/_search", content=urlencode(items),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(e["resource"]["id"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match")


def test_too_many_parameters(fhir: httpx.Client) -> None:
    items = [("name", "alpha")] * 31
    text = "Too many search parameters: 31 exceeds the limit of 30 (FHIR_SEARCH_MAX_PARAMS)"
    _too_costly(fhir.get("/Patient", params=items), text)
    _too_costly(_form(fhir, items), text)


def test_the_5000_copies_form_body_is_refused_before_any_sql(fhir: httpx.Client) -> None:
    started = time.monotonic()
    response = fhir.post("/Patient/_search", content="&".join(["name=x"] * 5000),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    _too_costly(response, "Too many search parameters: 5000 exceeds the limit of 30 (FHIR_SEARCH_MAX_PARAMS)")
    assert time.monotonic() - started < 1


def test_identical_criteria_are_one(fhir: httpx.Client) -> None:
    response = fhir.get("/Patient", params=[("name", "alpha")] * 30)  # at the parameter limit, 1 criterion
    assert _ids(response) == ["lim1", "lim2"]
    self_link = next(link["url"] for link in response.json()["link"] if link["relation"] == "self")
    assert [item for item in parse_qsl(urlsplit(self_link).query) if item[0] == "name"] == [("name", "alpha")]
    assert _ids(fhir.get("/Patient", params=[("given", "ann,ann,bea")] * 2)) == ["lim1"]


def test_too_many_or_values(fhir: httpx.Client) -> None:
    at_limit = ",".join(["ann"] + [f"zz{i}" for i in range(99)])
    assert _ids(fhir.get("/Patient", params={"given": at_limit})) == ["lim1"]
    _too_costly(fhir.get("/Patient", params={"given": at_limit + ",zz99"}),
                "Too many values in the OR list of given: 101 exceeds the limit of 100 (FHIR_SEARCH_MAX_VALUES)")


def test_too_many_repetitions(fhir: httpx.Client) -> None:
    # 10 distinct repetitions, each the start of a part of lim1's name (Alpha, Ann, Bea); lim2 is Alpha Cy.
    at_limit = [("name", v) for v in ("alpha", "alph", "alp", "al", "a", "ann", "an", "bea", "be", "b")]
    assert _ids(fhir.get("/Patient", params=at_limit)) == ["lim1"]
    assert _ids(fhir.get("/Patient", params=[("name", "alpha"), ("name", "a"), ("name", "al")])) == ["lim1", "lim2"]
    assert _ids(fhir.get("/Patient", params=[("name", "alpha"), ("given", "ann"), ("name", "bea")])) == ["lim1"]
    _too_costly(fhir.get("/Patient", params=at_limit + [("name", "c")]),
                "name is repeated (AND) too often: 11 exceeds the limit of 10 (FHIR_SEARCH_MAX_REPEATS)")


def test_chain_depth(fhir: httpx.Client) -> None:
    assert _ids(fhir.get("/Patient", params={"organization.name": "limit"})) == ["lim1"]
    deep = "general-practitioner:PractitionerRole.organization.partof.partof.partof.name"
    _too_costly(fhir.get("/Patient", params={deep: "x"}),
                f"{deep}: the chain is too deep: 5 exceeds the limit of 4 (FHIR_SEARCH_MAX_CHAIN_DEPTH)")


def test_includes_and_sort_keys(fhir: httpx.Client) -> None:
    ten = [("_include", "Patient:organization")] * 10
    response = fhir.get("/Patient", params=[("_id", "lim1"), *ten])
    assert sorted(e["resource"]["id"] for e in response.json()["entry"]) == ["lim-org", "lim1"]
    _too_costly(fhir.get("/Patient", params=[("_id", "lim1"), *ten, ("_revinclude", "Provenance:target")]),
                "Too many _include/_revinclude parameters: 11 exceeds the limit of 10 (FHIR_SEARCH_MAX_INCLUDES)")
    assert fhir.get("/Patient", params={"_sort": ",".join(["name"] * 8)}).status_code == 200
    _too_costly(fhir.get("/Patient", params={"_sort": ",".join(["name"] * 9)}),
                "Too many _sort keys: 9 exceeds the limit of 8 (FHIR_SEARCH_MAX_SORT_KEYS)")


def test_query_string_and_form_body_size(fhir: httpx.Client) -> None:
    long_value = "a" * 8200
    _too_costly(fhir.get(f"/Patient?name={long_value}"),
                "The query string is too long: 8205 exceeds the limit of 8192 (FHIR_SEARCH_MAX_QUERY_BYTES)")
    assert fhir.get(f"/Patient?name={'a' * 8187}").status_code == 200  # 8192 bytes
    body = "name=" + "a" * 65600
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    _too_costly(fhir.post("/Patient/_search", content=body, headers=form),
                "The _search form body is too large: 65605 exceeds the limit of 65536 (FHIR_SEARCH_MAX_FORM_BYTES)")
    assert fhir.post("/Patient/_search", data={"name": "alpha"}).status_code == 200


def test_compartment_and_system_search_are_bounded_too(fhir: httpx.Client) -> None:
    text = "Too many search parameters: 31 exceeds the limit of 30 (FHIR_SEARCH_MAX_PARAMS)"
    _too_costly(fhir.get("/Patient/lim1/Observation", params=[("code", "x")] * 31), text)
    _too_costly(fhir.get("", params=[("_type", "Patient")] + [("name", "x")] * 31), text)


def test_criteria_times_types_of_system_and_compartment_searches(fhir: httpx.Client) -> None:
    # Each criterion is a subquery per type searched: 30 criteria on 146 types planned in ~400 MB.
    types = [t for t in sorted(definitions().resource_types) if t != "AuditEvent"][:26]
    criteria = [("_tag", f"t{i}") for i in range(10)] + [("_profile", f"http://p/{i}") for i in range(10)]
    _too_costly(fhir.get("", params=[("_type", ",".join(types)), *criteria]),
                "Too many criteria across the searched resource types (20 criteria on 26 types; name fewer types"
                " with _type): 520 exceeds the limit of 500 (FHIR_SEARCH_MAX_TYPED_CRITERIA)")
    assert fhir.get("", params=[("_type", ",".join(types[:25])), *criteria]).status_code == 200  # 500
    _too_costly(fhir.get("/Patient/lim1/*", params=[("_tag", f"t{i}") for i in range(8)]),
                "Too many criteria across the searched resource types (8 criteria on 66 types; name fewer types"
                " with _type): 528 exceeds the limit of 500 (FHIR_SEARCH_MAX_TYPED_CRITERIA)")
    assert fhir.get("/Patient/lim1/*", params=[("_tag", f"t{i}") for i in range(7)]).status_code == 200


# --- the plan shape: repetitions grow the plan linearly -------------------------------------

REPEATED = [("name", f"x{i}") for i in range(200)]


def _plan(database_url: str, items: list[tuple[str, str]], limits: SearchLimits) -> dict[str, Any]:
    request = check_request(parse_request(items), limits)
    scope = build_scope(["Patient"], request.params, Context(base=None, now=datetime.now(UTC)))
    statement = page_statement(scope, sort_columns("Patient", []), None, 20)
    # FORMAT TEXT: PostgreSQL 15 nests a 200-way INTERSECT 200 levels deep, past the JSON decoder's depth
    with psycopg.connect(database_url) as conn:
        explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, SUMMARY, FORMAT TEXT) ") + statement.sql
        text = "\n".join(r[0] for r in conn.execute(explain, statement.params).fetchall())
    times = dict(re.findall(r"^(Planning Time|Execution Time): ([0-9.]+) ms$", text, re.M))
    return {name: float(value) for name, value in times.items()}


def test_two_hundred_repetitions_plan_in_milliseconds(fhir: httpx.Client, database_url: str) -> None:
    # A semi-join per repetition: 200 planned in ~3,500 ms and peaked the backend near 400 MB.
    plan = _plan(database_url, REPEATED, SearchLimits(max_params=200, max_repeats=200))
    assert plan["Planning Time"] < 200, plan["Planning Time"]
    assert plan["Planning Time"] + plan["Execution Time"] < 1000


@pytest.fixture(scope="module")
def generous(database_url: str) -> Iterator[httpx.Client]:
    """A second server on the same database, configured for 200 repetitions."""
    from fhir_server.app import create_app

    settings = Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="off", pool_min=1,
                        pool_max=2, log_level="warning", search_max_params=200, search_max_repeats=200,
                        search_max_terms=1000)
    with serving(create_app(settings), settings) as base, httpx.Client(base_url=base, timeout=30) as http:
        yield http


def test_configured_limits_apply_and_repetitions_stay_fast(fhir: httpx.Client, generous: httpx.Client) -> None:
    started = time.monotonic()
    assert _ids(generous.get("/Patient", params=[("name", "alpha")] + [("name", "al")] * 199)) == ["lim1", "lim2"]
    assert _ids(_form(generous, REPEATED)) == []
    assert time.monotonic() - started < 2
    _too_costly(generous.get("/Patient", params=[("name", "x")] * 201),
                "Too many search parameters: 201 exceeds the limit of 200 (FHIR_SEARCH_MAX_PARAMS)")
    # Terms: 1 for the type, then per repetition the table's type and parameter and 2 per value.
    hundred = [("name", ",".join(f"v{r}x{i}" for i in range(100))) for r in range(5)]
    assert _ids(generous.get("/Patient", params=hundred[:4])) == []  # 809 terms
    _too_costly(_form(generous, hundred),
                "The search has too many terms (values bound into its query): 1011 exceeds the limit of 1000"
                " (FHIR_SEARCH_MAX_TERMS)")
