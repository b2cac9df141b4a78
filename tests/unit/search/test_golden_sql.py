"""Golden SQL and parameters of the query builders (design habit 4), no database."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir_server.search.criteria import Context
from fhir_server.search.parse import parse_request
from fhir_server.search.query import build_scope, ids_statement

CTX = Context(base="http://x/fhir", now=datetime(2024, 1, 1, tzinfo=UTC))


def test_token_string_date_statement() -> None:
    req = parse_request([("identifier", "http://mrn|A1"), ("name", "smi"), ("birthdate", "ge1980")])
    q = ids_statement("Patient", req.params, CTX, 2)
    assert q.as_string() == (
        'SELECT r.id FROM resource r WHERE r.resource_type = %s AND NOT r.deleted'
        ' AND r.id IN (SELECT i.id FROM "search_token" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND (("i"."code" = %s AND "i"."system" = %s)))'
        ' AND r.id IN (SELECT i.id FROM "search_string" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND (("i"."value" >= %s AND "i"."value" < %s)))'
        ' AND r.id IN (SELECT i.id FROM "search_date" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND ((("i"."high" > %s OR ("i"."low" >= %s AND "i"."high" <= %s))'
        ' AND tstzrange("i"."low", "i"."high", \'[)\') && tstzrange(%s, %s, \'[)\'))))'
        ' ORDER BY r.id LIMIT %s')
    y1980, y1981 = datetime(1980, 1, 1, tzinfo=UTC), datetime(1981, 1, 1, tzinfo=UTC)
    assert q.params == ("Patient", "Patient", "identifier", "A1", "http://mrn", "Patient", "name", "smi",
                        "smi\U0010ffff", "Patient", "birthdate", y1981, y1980, y1981, y1980, None, 2)


def test_chain_and_not_and_missing() -> None:
    req = parse_request([("subject:Patient.name", "x"), ("status:not", "final"), ("code:missing", "true")])
    scope = build_scope(["Observation"], req.params, CTX)
    assert scope.where.as_string() == (
        'r.resource_type = %s AND NOT r.deleted'
        ' AND r.id IN (SELECT i.id FROM "search_reference" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND ((i.target_type = %s AND i.target_id IN (SELECT i.id FROM "search_string" i'
        ' WHERE i.resource_type = %s AND i.param = %s AND (("i"."value" >= %s AND "i"."value" < %s))))))'
        ' AND r.id NOT IN (SELECT i.id FROM "search_token" i WHERE i.resource_type = %s AND i.param = %s'
        ' AND ("i"."code" = %s))'
        ' AND r.id NOT IN (SELECT i.id FROM "search_token" i WHERE i.resource_type = %s AND i.param = %s)')
    assert scope.where.params == ("Observation", "Observation", "subject", "Patient", "Patient", "name", "x",
                                  "x\U0010ffff", "Observation", "status", "final", "Observation", "code")


def test_search_input_never_reaches_sql_text() -> None:
    hostile = "x'); DROP TABLE resource; --"
    req = parse_request([("name", hostile), ("_id", hostile), ("identifier", hostile)])
    q = ids_statement("Patient", req.params, CTX, 1)
    assert "DROP" not in q.as_string()


def test_date_range_repetitions_share_one_window() -> None:
    req = parse_request([("date", "ge2020-03"), ("date", "lt2020-04")])
    q = ids_statement("Observation", req.params, CTX, 5)
    assert q.as_string().count("search_date") == 1  # one probe: ge and lt apply to the same value
    march, april = datetime(2020, 3, 1, tzinfo=UTC), datetime(2020, 4, 1, tzinfo=UTC)
    assert q.params[-3:] == (march, april, 5)  # the overlap window [March, April)
