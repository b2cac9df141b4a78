"""Composable SQL fragments that carry their bound parameters (design habit 4: SQL is data).

A ``Q`` is a ``psycopg.sql.Composable`` plus the values of its ``%s`` placeholders, in
order. ``fmt`` fills ``{}`` fields with fragments, identifiers or values (values always
become placeholders), so no search input is ever spliced into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import sql

__all__ = ["Q", "fmt", "join", "ident", "TRUE", "FALSE"]


@dataclass(frozen=True)
class Q:
    sql: sql.Composed  # what cursors execute: always built by fmt/join (or wrapped, for constants)
    params: tuple[Any, ...] = ()

    def as_string(self) -> str:
        return self.sql.as_string(None)


def _part(arg: Any, params: list[Any]) -> sql.Composable:
    if isinstance(arg, Q):
        params.extend(arg.params)
        return arg.sql
    if isinstance(arg, sql.Composable):
        return arg
    params.append(arg)
    return sql.Placeholder()


def fmt(template: str, *args: Any) -> Q:
    """``fmt("{} = {}", ident("i", "code"), value)`` -> Q('"i"."code" = %s', (value,))."""
    params: list[Any] = []
    parts = [_part(a, params) for a in args]
    return Q(sql.SQL(template).format(*parts), tuple(params))


def join(separator: str, items: Iterable[Q]) -> Q:
    items = list(items)
    params = [p for item in items for p in item.params]
    return Q(sql.SQL(separator).join([item.sql for item in items]), tuple(params))


def ident(*names: str) -> sql.Identifier:
    return sql.Identifier(*names)


TRUE = Q(sql.Composed([sql.SQL("true")]))
FALSE = Q(sql.Composed([sql.SQL("false")]))
