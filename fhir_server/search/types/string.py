"""string search parameters: http://hl7.org/fhir/R4/search.html#string.

Default: case- and accent-insensitive "starts with" (on the normalized value, btree range
scan in C collation); ``:exact`` compares the original text; ``:contains`` is a substring
match served by a trigram index. HumanName and Address index every part the spec names.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ..extract import Node
from ..parse import unescape
from ..sqlfrag import Q, fmt, ident
from .common import MAX_INDEXED_CHARS, ValueContext, like_escape, normalize

__all__ = ["TABLE", "COLUMNS", "MODIFIERS", "index_rows", "predicate", "strings_of"]

TABLE = "search_string"
COLUMNS = ("value", "exact")
MODIFIERS = frozenset({"exact", "contains", "missing"})
_SKIP_KEYS = frozenset({"extension", "modifierExtension", "id", "use", "system", "period", "url", "type",
                        "reference", "coding", "rank", "code", "fhir_comments"})
_TOP = "\U0010ffff"  # sorts after every character in C collation: [p, p+_TOP) is "starts with p"


def strings_of(value: Any) -> list[str]:
    """The text of a string-typed value: a primitive, or the named parts of a complex type."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return [str(value)]
    out: list[str] = []
    if isinstance(value, list):
        for v in value:
            out.extend(strings_of(v))
    elif isinstance(value, dict):
        for key, v in value.items():
            if key not in _SKIP_KEYS and not key.startswith("_"):
                out.extend(strings_of(v))
    return out


def index_rows(nodes: list[Node], root: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    seen: set[str] = set()
    for value, _ in nodes:
        for text in strings_of(value):
            text = text[:MAX_INDEXED_CHARS]
            if text and text not in seen:
                seen.add(text)
                rows.append((normalize(text), text))
    return rows


def predicate(raw: str, modifier: str | None, alias: str, vc: ValueContext) -> Q:
    """One OR-value of a string parameter, over the rows of ``search_string`` aliased ``alias``."""
    if modifier not in (None, "exact", "contains"):
        raise BadRequest(f"Modifier :{modifier} is not supported on string parameter {vc.name}")
    raw = unescape(raw)
    value = normalize(raw)
    if modifier == "exact":
        return fmt("({} = {} AND {} = {})", ident(alias, "value"), value, ident(alias, "exact"), raw)
    if modifier == "contains":
        return fmt("{} LIKE {}", ident(alias, "value"), "%" + like_escape(value) + "%")
    return fmt("({} >= {} AND {} < {})", ident(alias, "value"), value, ident(alias, "value"), value + _TOP)
