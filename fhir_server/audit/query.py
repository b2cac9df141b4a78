"""FHIR search over the audit trail (``AuditEvent?patient=...&date=...&agent=...``), pure.

http://hl7.org/fhir/R4/auditevent.html#search: the parameters an administrator needs to
answer "who saw this patient's record, when": ``patient``, ``agent`` (user reference or
client id), ``entity``, ``date`` (with the prefixes eq ne gt lt ge le, over the precision of
the value), ``subtype``, ``action``, ``outcome``, ``_id``, ``_count``. Newest first, keyset
paged on the row sequence. Any other parameter is a 400: an ignored filter on an audit
query would silently show more than was asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ..errors import BadRequest
from ..fhir.datetimes import parse_fhir_datetime_range
from ..fhir.numbers import parse_count, parse_cursor_number

__all__ = ["AuditQuery", "parse_audit_query", "audit_statement", "SUPPORTED"]

SUPPORTED = ("patient", "agent", "entity", "date", "subtype", "action", "outcome", "_id", "_count", "_cursor")
IGNORED = ("_format", "_pretty")


@dataclass
class AuditQuery:
    where: list[sql.Composable] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)
    count: int = 20
    cursor: int | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)


def _reference(value: str, default_type: str) -> str:
    """``Patient/1``, ``1`` or an absolute URL ending in ``Patient/1`` -> ``Patient/1``."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return f"{parts[-2]}/{parts[-1]}"
    return f"{default_type}/{parts[-1]}"


def _date(query: AuditQuery, value: str) -> None:
    prefix, raw = (value[:2], value[2:]) if value[:2] in ("eq", "ne", "gt", "lt", "ge", "le") else ("eq", value)
    low, high = parse_fhir_datetime_range(raw, "date")
    clauses = {"eq": ("recorded >= %s AND recorded < %s", [low, high]),
               "ne": ("(recorded < %s OR recorded >= %s)", [low, high]),
               "gt": ("recorded >= %s", [high]), "ge": ("recorded >= %s", [low]),
               "lt": ("recorded < %s", [low]), "le": ("recorded < %s", [high])}
    text, args = clauses[prefix]
    query.where.append(sql.SQL(text))
    query.args.extend(args)


def _any_of(query: AuditQuery, column: str, values: list[str], array: bool = False) -> None:
    if array:
        query.where.append(sql.SQL("{} && %s").format(sql.Identifier(column)))
    else:
        query.where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(column)))
    query.args.append(values)


def _token_codes(value: str) -> list[str]:
    return [v.split("|")[-1] for v in value.split(",")]


def _apply(query: AuditQuery, name: str, value: str) -> None:
    values = value.split(",")
    if name == "patient":
        _any_of(query, "patient_refs", [_reference(v, "Patient") for v in values], array=True)
    elif name == "entity":
        _any_of(query, "entity_refs", [_reference(v, "Patient") if "/" in v else v for v in values], array=True)
    elif name == "agent":
        query.where.append(sql.SQL("(user_ref = ANY(%s) OR client_id = ANY(%s))"))
        query.args.extend([[_reference(v, "Practitioner") for v in values], values])
    elif name == "date":
        _date(query, value)
    elif name in ("subtype", "action", "outcome"):
        _any_of(query, name, _token_codes(value))
    elif name == "_id":
        query.where.append(sql.SQL("id::text = ANY(%s)"))
        query.args.append(values)


def parse_audit_query(items: list[tuple[str, str]], default_count: int, max_count: int) -> AuditQuery:
    query = AuditQuery(count=default_count)
    for name, value in items:
        if name in IGNORED:
            continue
        if name not in SUPPORTED:
            raise BadRequest(f"AuditEvent search does not support {name!r}; use {', '.join(SUPPORTED[:-1])}")
        if name == "_count":
            query.count = parse_count(value, max_count)
        elif name == "_cursor":
            query.cursor = parse_cursor_number(value)
            continue
        else:
            _apply(query, name, value)
        query.applied.append((name, value))
    return query


def audit_statement(query: AuditQuery) -> tuple[sql.Composable, list[Any]]:
    """Rows (seq, id, content text) of one page, one extra row revealing a next page."""
    where, args = list(query.where), list(query.args)
    if query.cursor is not None:
        where.append(sql.SQL("seq < %s"))
        args.append(query.cursor)
    clause = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
    statement = sql.SQL("SELECT seq, id, content::text FROM audit_event{} ORDER BY seq DESC LIMIT %s").format(clause)
    return statement, [*args, query.count + 1]
