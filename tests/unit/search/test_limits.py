"""Search limits and de-duplication (pure), and the shape of repeated criteria (golden SQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fhir_server.config import Settings, load_settings
from fhir_server.search.criteria import Context
from fhir_server.search.limits import (
    DEFAULT_LIMITS,
    SearchLimits,
    SearchTooCostly,
    check_query_size,
    check_request,
    check_terms,
    check_types,
    criterion_depth,
    distinct_params,
)
from fhir_server.search.parse import parse_criterion, parse_request
from fhir_server.search.query import build_scope

CTX = Context(base="http://x/fhir", now=datetime(2024, 1, 1, tzinfo=UTC))
SMALL = SearchLimits(max_params=4, max_values=3, max_repeats=2, max_chain_depth=2, max_includes=1,
                     max_sort_keys=2, max_query_bytes=100, max_form_bytes=200)


def _refused(items: list[tuple[str, str]], limits: SearchLimits = SMALL) -> str:
    with pytest.raises(SearchTooCostly) as caught:
        check_request(parse_request(items), limits)
    assert caught.value.status == 400 and caught.value.code == "too-costly"
    assert caught.value.outcome()["issue"][0]["code"] == "too-costly"
    return caught.value.message


def test_each_limit_names_itself_its_value_and_its_setting() -> None:
    assert _refused([("name", "x")] * 5) == \
        "Too many search parameters: 5 exceeds the limit of 4 (FHIR_SEARCH_MAX_PARAMS)"
    assert _refused([("name", "a,b,c,d")]) == \
        "Too many values in the OR list of name: 4 exceeds the limit of 3 (FHIR_SEARCH_MAX_VALUES)"
    assert _refused([("name", "a"), ("name", "b"), ("name", "c")]) == \
        "name is repeated (AND) too often: 3 exceeds the limit of 2 (FHIR_SEARCH_MAX_REPEATS)"
    assert _refused([("subject:Patient.organization.partof.name", "x")]) == \
        "subject:Patient.organization.partof.name: the chain is too deep: 3 exceeds the limit of 2" \
        " (FHIR_SEARCH_MAX_CHAIN_DEPTH)"
    assert _refused([("_include", "Observation:subject"), ("_revinclude", "Provenance:target")]) == \
        "Too many _include/_revinclude parameters: 2 exceeds the limit of 1 (FHIR_SEARCH_MAX_INCLUDES)"
    assert _refused([("_sort", "a,b,c")]) == "Too many _sort keys: 3 exceeds the limit of 2 (FHIR_SEARCH_MAX_SORT_KEYS)"


def test_at_the_limits_is_accepted() -> None:
    request = check_request(parse_request([("name", "a,b,c"), ("name", "d"), ("_has:Observation:patient:code", "x"),
                                           ("subject:Patient.name", "y"), ("_include", "Patient:organization"),
                                           ("_sort", "name,-birthdate")]), SMALL)
    assert [p.name for p in request.params] == ["name", "name", "_has:Observation:patient:code", "subject:Patient.name"]


def test_query_and_form_sizes() -> None:
    check_query_size(100, SMALL)
    check_query_size(200, SMALL, form=True)
    with pytest.raises(SearchTooCostly) as caught:
        check_query_size(101, SMALL)
    assert caught.value.message == \
        "The query string is too long: 101 exceeds the limit of 100 (FHIR_SEARCH_MAX_QUERY_BYTES)"
    with pytest.raises(SearchTooCostly) as caught:
        check_query_size(201, SMALL, form=True)
    assert caught.value.message == \
        "The _search form body is too large: 201 exceeds the limit of 200 (FHIR_SEARCH_MAX_FORM_BYTES)"


def test_criteria_on_many_types_and_terms() -> None:
    check_types(30, 1, SearchLimits(max_typed_criteria=1))  # one type: max_params bounds it
    check_types(100, 5, DEFAULT_LIMITS)
    with pytest.raises(SearchTooCostly) as caught:
        check_types(101, 5, DEFAULT_LIMITS)
    assert caught.value.message == ("Too many criteria across the searched resource types (101 criteria on 5 types;"
                                    " name fewer types with _type): 505 exceeds the limit of 500"
                                    " (FHIR_SEARCH_MAX_TYPED_CRITERIA)")
    check_terms(10000, DEFAULT_LIMITS)
    with pytest.raises(SearchTooCostly) as caught:
        check_terms(10001, DEFAULT_LIMITS)
    assert caught.value.message == \
        "The search has too many terms (values bound into its query): 10001 exceeds the limit of 10000" \
        " (FHIR_SEARCH_MAX_TERMS)"


def test_identical_criteria_are_one_criterion() -> None:
    params = parse_request([("name", "x"), ("name", "x"), ("name", "y,x"), ("name", "x,y"), ("name", "x,x"),
                            ("name:exact", "x"), ("family", "x")]).params
    kept = distinct_params(params)
    assert [(p.name, p.values, p.raw) for p in kept] == [
        ("name", ("x",), "x"), ("name", ("y", "x"), "y,x"), ("name:exact", ("x",), "x"), ("family", ("x",), "x")]
    # Repetition counts what is distinct: 50 copies of one criterion are within max_repeats=2.
    assert len(check_request(parse_request([("name", "x")] * 4), SMALL).params) == 1


def test_escaped_commas_stay_one_value() -> None:
    [param] = distinct_params(parse_request([("identifier", "a\\,b,a\\,b")]).params)
    assert param.values == ("a\\,b",) and param.raw == "a\\,b"


def test_criterion_depth() -> None:
    assert criterion_depth(parse_criterion("name")) == 0
    assert criterion_depth(parse_criterion("subject:Patient.name")) == 1
    assert criterion_depth(parse_criterion("subject:Patient.organization.name")) == 2
    assert criterion_depth(parse_criterion("_has:Observation:patient:code")) == 1
    assert criterion_depth(parse_criterion("_has:Observation:patient:_has:AuditEvent:entity:agent")) == 2


def test_settings_carry_the_limits() -> None:
    assert SearchLimits.from_settings(Settings()) == DEFAULT_LIMITS
    assert SearchLimits.from_settings(Settings(search_max_repeats=3)).max_repeats == 3
    assert (DEFAULT_LIMITS.max_params, DEFAULT_LIMITS.max_values, DEFAULT_LIMITS.max_repeats,
            DEFAULT_LIMITS.max_chain_depth, DEFAULT_LIMITS.max_includes, DEFAULT_LIMITS.max_include_rounds,
            DEFAULT_LIMITS.max_sort_keys, DEFAULT_LIMITS.max_query_bytes, DEFAULT_LIMITS.max_form_bytes,
            DEFAULT_LIMITS.max_typed_criteria, DEFAULT_LIMITS.max_terms) == (
        30, 100, 10, 4, 10, 4, 8, 8192, 65536, 500, 10000)


def test_the_environment_sets_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"params": 60, "values": 7, "repeats": 20, "chain_depth": 2, "includes": 3, "include_rounds": 1,
             "sort_keys": 2, "query_bytes": 1000, "form_bytes": 2000, "typed_criteria": 9, "terms": 99}
    for name, value in names.items():
        monkeypatch.setenv(f"FHIR_SEARCH_MAX_{name.upper()}", str(value))
    limits = SearchLimits.from_settings(load_settings())
    assert {name: getattr(limits, f"max_{name}") for name in names} == names


def test_repetitions_of_one_criterion_are_one_intersected_set() -> None:
    """One semi-join per parameter, not per repetition: the plan grows linearly with repetitions."""
    req = parse_request([("name", "a"), ("gender", "male"), ("name", "b"), ("name", "c")])
    scope = build_scope(["Patient"], req.params, CTX)
    one = 'SELECT i.id FROM "search_string" i WHERE i.resource_type = %s AND i.param = %s' \
          ' AND (("i"."value" >= %s AND "i"."value" < %s))'
    assert scope.where.as_string() == (
        'r.resource_type = %s AND NOT r.deleted'
        f' AND r.id IN (({one}) INTERSECT ({one}) INTERSECT ({one}))'
        ' AND r.id IN (SELECT i.id FROM "search_token" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND ("i"."code" = %s))')
    assert scope.where.params == ("Patient", "Patient", "name", "a", "a\U0010ffff", "Patient", "name", "b",
                                  "b\U0010ffff", "Patient", "name", "c", "c\U0010ffff", "Patient", "gender", "male")
    assert scope.live_sets is not None and len(scope.live_sets) == 2


def test_repeated_negations_are_one_united_set() -> None:
    req = parse_request([("gender:not", "male"), ("gender:not", "female")])
    where = build_scope(["Patient"], req.params, CTX).where.as_string()
    one = 'SELECT i.id FROM "search_token" i WHERE i.resource_type = %s AND i.param = %s AND ("i"."code" = %s)'
    assert where == f'r.resource_type = %s AND NOT r.deleted AND r.id NOT IN (({one}) UNION ({one}))'


def test_each_type_once() -> None:
    assert parse_request([("_type", "Patient,Patient, Observation,Patient")]).types == ["Patient", "Observation"]
