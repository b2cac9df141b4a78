"""uri search parameters: http://hl7.org/fhir/R4/search.html#uri.

Exact match by default (no normalization: URIs are case sensitive); ``:below`` matches
the value and every URI under it (path prefix), ``:above`` every indexed URI that is a
prefix of the value (e.g. canonical URLs of parent paths).
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import unescape
from ..sqlfrag import Q, fmt, ident
from .common import MAX_INDEXED_CHARS, ValueContext

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate"]

TABLE = "search_uri"
COLUMNS = ("uri",)
MODIFIERS = frozenset({"missing", "below", "above"})
_TOP = "\U0010ffff"


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for value, _ in nodes:
        if isinstance(value, str) and value:
            rows.append((value[:MAX_INDEXED_CHARS],))
        elif isinstance(value, dict) and isinstance(value.get("reference"), str):
            rows.append((value["reference"][:MAX_INDEXED_CHARS],))
    return list(dict.fromkeys(rows))


def _prefixes(uri: str) -> list[str]:
    """``http://a/b/c`` -> [http://a/b/c, http://a/b, http://a] (path ancestors, for :above)."""
    out = [uri]
    head, sep, _ = uri.rstrip("/").rpartition("/")
    while sep and head and not head.endswith(":/") and not head.endswith(":"):
        out.append(head)
        head, sep, _ = head.rpartition("/")
    return out


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    name = vc.name
    value = unescape(raw)
    column = ident(alias, "uri")
    if modifier is None:
        return fmt("{} = {}", column, value)
    if modifier == "below":
        stem = value.rstrip("/")
        return fmt("({} = {} OR ({} >= {} AND {} < {}))", column, stem, column, stem + "/", column, stem + "/" + _TOP)
    if modifier == "above":
        return fmt("{} = ANY({})", column, _prefixes(value))
    raise BadRequest(f"Modifier :{modifier} is not supported on uri parameter {name}")
